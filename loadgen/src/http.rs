//! A small client of logagg's HTTP API: batch publish with retries, and `/stats`.

use std::time::Duration;

use logagg_core::contract::{ErrorBody, PublishRequest, PublishResponse, StatsResponse};
use logagg_core::Event;

/// The project's one backoff, re-exported for the load generator's retries.
pub use logagg_core::backoff::backoff;

/// What a publish attempt ended with.
#[derive(Debug)]
pub enum HttpOutcome {
    /// 200: every event acked by the broker, at these offsets.
    Accepted(PublishResponse),
    /// 503/5xx or a connection error: retry (the events may or may not be in the log).
    Retry(String),
    /// 4xx: the request is wrong; retrying will not help.
    Rejected(u16, ErrorBody),
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
        let body = PublishRequest::Batch {
            events: events.to_vec(),
        };
        let mut request = self.http.post(format!("{}/publish", self.base)).json(&body);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) => return HttpOutcome::Retry(e.to_string()),
        };
        let status = response.status();
        let body = match response.bytes().await {
            Ok(body) => body,
            Err(e) => return HttpOutcome::Retry(format!("{status}: reading the answer: {e}")),
        };
        if status.is_success() {
            return match serde_json::from_slice(&body) {
                Ok(accepted) => HttpOutcome::Accepted(accepted),
                // Not logagg's answer: stop rather than guess (a retry could duplicate events).
                Err(e) => HttpOutcome::Rejected(
                    status.as_u16(),
                    ErrorBody::message(format!("answer is not a publish result: {e}")),
                ),
            };
        }
        let error = serde_json::from_slice(&body)
            .unwrap_or_else(|_| ErrorBody::message(String::from_utf8_lossy(&body).into_owned()));
        if status.is_server_error() || status.as_u16() == 429 {
            HttpOutcome::Retry(format!("{status}: {}", error.error))
        } else {
            HttpOutcome::Rejected(status.as_u16(), error)
        }
    }

    /// `GET /stats`.
    pub async fn stats(&self) -> Result<StatsResponse, String> {
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
