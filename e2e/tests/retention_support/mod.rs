//! Helpers shared by the `retention_*` tests: the admin calls, consumer settings that make
//! the enforcer quick, load plans and reading one figure out of a `/metrics` text.

#![allow(dead_code)]

use std::time::Duration;

use logagg_producer::generator::{LoadPlan, LoadSpec};
use logagg_testkit::{http, Service};
use serde_json::Value;

pub const TIMEOUT: Duration = Duration::from_secs(120);

/// A consumer that looks for due rows every 300 ms, `step_rows` rows per DELETE.
pub fn quick_enforcer(step_rows: usize) -> [(&'static str, String); 2] {
    [
        ("LOGAGG_RETENTION_INTERVAL_MS", "300".into()),
        ("LOGAGG_RETENTION_STEP_ROWS", step_rows.to_string()),
    ]
}

/// `events` sends (20 % re-sends) over `topics` topics named `<prefix>.<n>`.
pub fn plan(events: usize, topics: usize, seed: u64, prefix: &str) -> LoadPlan {
    LoadPlan::new(LoadSpec {
        events,
        duplicate_ratio: 0.2,
        topics,
        payload_bytes: 32,
        seed,
        topic_prefix: prefix.into(),
    })
}

/// `method path` with a JSON body (and a bearer token); asserts `status`, returns the body.
pub async fn admin(
    api: &Service,
    method: &str,
    path: &str,
    body: Option<&Value>,
    token: Option<&str>,
    status: u16,
) -> Value {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("content-type", "application/json")];
    if let Some(bearer) = &bearer {
        headers.push(("authorization", bearer.as_str()));
    }
    let body = body.map(|b| serde_json::to_vec(b).expect("json"));
    let reply = http(method, &api.url(path), &headers, body).await;
    assert_eq!(reply.status, status, "{method} {path}: {}", reply.text());
    reply.json()
}

/// `PUT /admin/retention` with `body` on an open API; the policies it answers.
pub async fn set_retention(api: &Service, body: Value) -> Value {
    admin(api, "PUT", "/admin/retention", Some(&body), None, 200).await
}

/// Backdates the stored time of the rows `condition` selects by `age` (SQL interval text):
/// the age retention measures, without waiting for it.
pub fn backdate(condition: &str, age: &str) -> String {
    format!("UPDATE events SET processed_at = processed_at - interval '{age}' WHERE {condition}")
}

/// The value of `name` (a full series name, labels included) in a Prometheus text.
pub fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            (series == name).then(|| value.parse().ok()).flatten()
        })
}

/// Mean batch time (ms) of a consumer's batches between two `/metrics` texts.
pub fn mean_batch_ms(before: &str, after: &str) -> f64 {
    let sum = |t: &str| metric(t, "logagg_consumer_stage_seconds_sum{stage=\"batch\"}");
    let count = |t: &str| metric(t, "logagg_consumer_stage_seconds_count{stage=\"batch\"}");
    let batches = count(after).unwrap_or(0.0) - count(before).unwrap_or(0.0);
    let seconds = sum(after).unwrap_or(0.0) - sum(before).unwrap_or(0.0);
    if batches > 0.0 {
        seconds * 1000.0 / batches
    } else {
        0.0
    }
}
