//! A small client of logagg's HTTP API: batch publish with retries, and `/stats`.

use std::time::Duration;

use logagg_core::Event;
use rand::Rng;
use serde_json::{json, Value};

/// Capped exponential backoff with full jitter: attempt 0 waits up to `base`, doubling up to
/// `cap`.
pub fn backoff(attempt: u32, base: Duration, cap: Duration) -> Duration {
    let ceiling = base
        .saturating_mul(1u32.checked_shl(attempt.min(16)).unwrap_or(u32::MAX))
        .min(cap);
    let jittered = rand::rng().random_range(0..=ceiling.as_millis().max(1) as u64);
    Duration::from_millis(jittered)
}

/// What a publish attempt ended with.
#[derive(Debug)]
pub enum HttpOutcome {
    /// 200: every event acked by the broker.
    Accepted,
    /// 503/5xx or a connection error: retry (the events may or may not be in the log).
    Retry(String),
    /// 4xx: the request is wrong; retrying will not help.
    Rejected(u16, String),
}

/// Client of one logagg API.
#[derive(Debug, Clone)]
pub struct ApiClient {
    base: String,
    http: reqwest::Client,
    token: Option<String>,
}

impl ApiClient {
    /// `timeout` bounds each request (connect, send, answer).
    pub fn new(base: &str, token: Option<String>, timeout: Duration) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
            http: reqwest::Client::builder()
                .timeout(timeout)
                .pool_max_idle_per_host(256)
                .build()
                .expect("static client config"),
            token,
        }
    }

    /// One `POST /publish` of `{"events": [...]}`.
    pub async fn publish(&self, events: &[Event]) -> HttpOutcome {
        let mut request = self
            .http
            .post(format!("{}/publish", self.base))
            .json(&json!({ "events": events }));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        match request.send().await {
            Ok(response) => {
                let status = response.status();
                if status.is_success() {
                    HttpOutcome::Accepted
                } else {
                    let body = response.text().await.unwrap_or_default();
                    if status.is_server_error() || status.as_u16() == 429 {
                        HttpOutcome::Retry(format!("{status}: {body}"))
                    } else {
                        HttpOutcome::Rejected(status.as_u16(), body)
                    }
                }
            }
            Err(e) => HttpOutcome::Retry(e.to_string()),
        }
    }

    /// `GET /stats` as JSON.
    pub async fn stats(&self) -> Result<Value, String> {
        let response = self
            .http
            .get(format!("{}/stats", self.base))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("GET /stats answered {}", response.status()));
        }
        response.json().await.map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_capped_and_grows() {
        let base = Duration::from_millis(100);
        let cap = Duration::from_secs(2);
        for attempt in 0..40 {
            assert!(backoff(attempt, base, cap) <= cap);
        }
        assert!(backoff(0, base, cap) <= base);
    }
}
