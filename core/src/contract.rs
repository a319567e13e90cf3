//! The typed HTTP contract: every JSON body the API answers with, shared by the handlers, the
//! producer's HTTP client, the tests and the bench. The OpenAPI document is generated from these
//! types (`utoipa`), so the published schema cannot drift from what is served.
//!
//! Fields are declared in the order the JSON carried them when the bodies were built with
//! `json!` (sorted by name; serde writes struct fields in declaration order), so the bytes on
//! the wire did not change when the bodies became types.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::Event;

/// The body of `POST /publish`: one event, an array of events, or `{"events": [...]}` (the
/// form most clients send). The API validates each event itself, for per-item errors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum PublishRequest {
    Batch {
        #[schema(min_items = 1, max_items = 1000)]
        events: Vec<Event>,
    },
    /// 1..=1000 events (LOGAGG_MAX_BATCH_EVENTS).
    Many(Vec<Event>),
    One(Event),
}

/// `POST /publish` answered 200: every event was acked by the broker (acks=all).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PublishResponse {
    /// How many events were accepted (all of them, or the request failed).
    pub accepted: usize,
    /// Where the broker stored each event, in request order.
    pub offsets: Vec<PublishedOffset>,
    /// Always `accepted`.
    #[schema(example = "accepted")]
    pub status: String,
}

impl PublishResponse {
    /// The answer for events stored at `offsets`.
    pub fn accepted(offsets: Vec<PublishedOffset>) -> Self {
        Self {
            accepted: offsets.len(),
            offsets,
            status: "accepted".to_owned(),
        }
    }
}

/// Where one published event was stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PublishedOffset {
    pub event_id: String,
    pub offset: i64,
    pub partition: i32,
}

/// Every error body: a message, per-item field errors on a 422, and the request id on a 500 (the
/// detail of an internal error goes to the log under that id, never to the client).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// Present (possibly empty) exactly on 422 answers, where clients index into it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<Vec<ItemError>>,
    pub error: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

impl ErrorBody {
    /// The message of every 500: nothing about what went wrong inside.
    pub const INTERNAL: &'static str = "internal error";

    /// A plain error message.
    pub fn message(error: impl Into<String>) -> Self {
        Self {
            details: None,
            error: error.into(),
            request_id: None,
        }
    }

    /// The body of every 500, carrying only the request id to quote when reporting it.
    pub fn internal(request_id: Option<String>) -> Self {
        Self {
            details: None,
            error: Self::INTERNAL.to_owned(),
            request_id,
        }
    }
}

impl std::fmt::Display for ErrorBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.error)?;
        for item in self.details.iter().flatten() {
            write!(f, "; event {} {}: {}", item.index, item.field, item.message)?;
        }
        if let Some(id) = &self.request_id {
            write!(f, " (request id {id})")?;
        }
        Ok(())
    }
}

/// One invalid field of one event in a publish request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ItemError {
    /// Position of the event in the request (0 for a single event).
    pub index: usize,
    pub field: String,
    pub message: String,
}

/// A stored event as `GET /events` and `GET /events/{topic}/{event_id}` return it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EventView {
    /// Row id: the cursor of `before` / `after`.
    pub id: i64,
    pub topic: String,
    pub event_id: String,
    #[serde(serialize_with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub timestamp: DateTime<Utc>,
    pub source: String,
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    #[serde(serialize_with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub processed_at: DateTime<Utc>,
    pub partition: i32,
    pub offset: i64,
}

fn rfc3339<S: serde::Serializer>(ts: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::event::format_timestamp(ts))
}

/// A record the consumer could not store, as `GET /dead-letters` shows it. The raw key and
/// value are UTF-8 text when they are valid UTF-8, base64 otherwise (`*_encoding` says which;
/// null when the record had none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeadLetterView {
    #[schema(format = DateTime)]
    pub created_at: String,
    /// Why the record was refused.
    pub error: String,
    pub id: i64,
    pub kafka_topic: String,
    pub key: Option<String>,
    #[schema(example = "utf8")]
    pub key_encoding: Option<RawEncoding>,
    pub offset: i64,
    pub partition: i32,
    /// When it was last re-published by `POST /dead-letters/{id}/retry`.
    #[schema(format = DateTime)]
    pub retried_at: Option<String>,
    pub value: Option<String>,
    pub value_encoding: Option<RawEncoding>,
}

/// How a dead letter's raw bytes are written in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RawEncoding {
    Utf8,
    Base64,
}

/// `POST /dead-letters/{id}/retry` answered 200: where the record went back to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RetryResponse {
    pub dead_letter: DeadLetterView,
    pub offset: i64,
    pub partition: i32,
    #[schema(example = "republished")]
    pub status: String,
}

/// `GET /stats`: exact counters read from PostgreSQL, so every API instance answers the same.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StatsResponse {
    pub consumer_group: String,
    /// Records on the broker not yet stored, summed over partitions; null when the broker
    /// does not answer (the counters are exact all the same).
    pub consumer_lag: Option<i64>,
    /// Dead letters of this consumer group not retried yet.
    #[serde(default)]
    pub dead_letters: i64,
    /// Age in seconds of the oldest dead letter not retried yet; null when there is none.
    #[serde(default)]
    pub dead_letters_oldest_age_seconds: Option<f64>,
    /// Rows removed by admin deletes (`unique_processed = stored_events + expired + deleted`).
    #[serde(default)]
    pub deleted: i64,
    pub duplicate_dropped: i64,
    /// Rows removed by retention.
    #[serde(default)]
    pub expired: i64,
    pub invalid: i64,
    pub kafka_topic: String,
    /// Lag per partition (keyed by partition number); null when the broker does not answer.
    pub lag_per_partition: Option<BTreeMap<String, i64>>,
    /// Offsets the broker deleted before they were stored (a gap in the log: retention
    /// outran stopped consumers); never part of `received`. See docs/GUARANTEES.md.
    #[serde(default)]
    pub lost: i64,
    /// `lost` per partition (keyed by partition number), every partition with progress.
    #[serde(default)]
    pub lost_per_partition: BTreeMap<String, i64>,
    /// Counters per event topic.
    pub per_topic: BTreeMap<String, TopicCounts>,
    pub received: i64,
    pub replayed: i64,
    /// Requests served by this API instance, per route (all statuses).
    pub requests: BTreeMap<String, u64>,
    /// The retention enforcer's last run; null before any consumer has run it.
    #[serde(default)]
    pub retention: Option<RetentionStatus>,
    /// Rows in the events table.
    pub stored_events: i64,
    /// Event topics seen, sorted.
    pub topics: Vec<String>,
    pub unique_processed: i64,
    pub uptime_seconds: u64,
}

/// Counters of one event topic.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TopicCounts {
    #[serde(default)]
    pub deleted: i64,
    pub duplicate_dropped: i64,
    #[serde(default)]
    pub expired: i64,
    pub received: i64,
    pub replayed: i64,
    pub unique_processed: i64,
}

/// The retention enforcer's last run (`GET /stats`, `GET /health`, `GET /admin/retention`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RetentionStatus {
    /// Which consumer holds the enforcer's advisory lock (host and pid).
    pub holder: String,
    #[schema(value_type = String, format = DateTime)]
    pub last_run_at: DateTime<Utc>,
    /// Rows the last run removed.
    pub last_run_removed: i64,
    /// Rows removed since the status row was created.
    pub removed_total: i64,
    /// How far the oldest row due for removal was past its policy at the end of the last run.
    pub lag_seconds: f64,
    /// Seconds since the last run ended (a stalled enforcer shows here).
    pub last_run_age_seconds: f64,
    /// Why the last run stopped early, if it did.
    pub last_error: Option<String>,
}

/// `GET /admin/retention`: the default, the per-topic overrides and the enforcer's status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RetentionPolicies {
    /// Retention of topics without their own policy; null = keep forever.
    pub default_seconds: Option<i64>,
    /// Per-topic overrides; a null value keeps that topic forever whatever the default.
    pub topics: BTreeMap<String, Option<i64>>,
    pub status: Option<RetentionStatus>,
}

/// `PUT /admin/retention`: sets the default (no `topic`) or one topic's retention.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetRetention {
    /// The event topic; absent or null = the default for every topic without its own policy.
    #[serde(default)]
    pub topic: Option<String>,
    /// Seconds a row is kept after it was stored; null = keep forever.
    pub retention_seconds: Option<i64>,
    /// Remove the topic's override (or the default) instead: the topic follows the default.
    #[serde(default)]
    pub inherit: bool,
}

/// `POST /admin/delete`: which rows to delete; at least one field must be set, and every
/// field set must match (AND).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteFilter {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Event time at or after (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub from: Option<DateTime<Utc>>,
    /// Event time before (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub to: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_ids: Option<Vec<String>>,
}

impl DeleteFilter {
    /// Whether the filter names anything (an empty filter would delete every row).
    pub fn is_empty(&self) -> bool {
        self.topic.is_none()
            && self.source.is_none()
            && self.from.is_none()
            && self.to.is_none()
            && self.event_ids.is_none()
    }
}

/// `POST /admin/delete`'s answer: rows deleted and the audit row that records them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeleteResponse {
    pub audit_id: i64,
    pub deleted: i64,
}

/// One audited admin delete (`GET /admin/deletes`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AuditEntry {
    pub id: i64,
    /// The token name that asked (`anonymous` on an open API).
    pub requested_by: String,
    #[schema(value_type = Object)]
    pub filter: serde_json::Value,
    pub deleted: i64,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
}

/// `GET /health` of the API and of the consumer: 200 when healthy, 503 otherwise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct HealthResponse {
    /// The consumer only: whether its last batch reached PostgreSQL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batches: Option<BatchesState>,
    pub broker: DependencyHealth,
    pub database: DependencyHealth,
    /// The API only, when LOGAGG_DATABASE_READ_URL is set: the replica event reads go to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_replica: Option<ReplicaHealth>,
    /// The API only: the retention enforcer's last run, when one has run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<RetentionStatus>,
    pub status: HealthStatus,
    /// The API only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uptime_seconds: Option<u64>,
}

/// The read replica's state on `GET /health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReplicaHealth {
    pub database: DependencyHealth,
    /// How stale event reads may be: 0 when the standby replayed all it received, else the
    /// age of its last replayed transaction, in milliseconds; null when unknown (down, or
    /// nothing replayed yet).
    pub replay_lag_ms: Option<i64>,
}

/// Overall readiness.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    Healthy,
    Unhealthy,
}

impl HealthStatus {
    /// `healthy` when every check passed.
    pub fn of(ready: bool) -> Self {
        if ready {
            Self::Healthy
        } else {
            Self::Unhealthy
        }
    }
}

/// The consumer's batch writing: `ok`, or `retrying` while PostgreSQL refuses batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum BatchesState {
    Ok,
    Retrying,
}

/// One dependency: the string `"ok"`, or `{"status": "down", "error": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum DependencyHealth {
    Up(UpMarker),
    Down(DependencyDown),
}

impl DependencyHealth {
    /// `"ok"` for `Ok`, the down form with the error's text otherwise.
    pub fn of<E: std::fmt::Display>(result: &Result<(), E>) -> Self {
        match result {
            Ok(()) => Self::Up(UpMarker::Ok),
            Err(error) => Self::Down(DependencyDown {
                status: DownMarker::Down,
                error: error.to_string(),
            }),
        }
    }

    pub fn is_up(&self) -> bool {
        matches!(self, Self::Up(_))
    }
}

/// The literal `"ok"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum UpMarker {
    Ok,
}

/// A dependency that did not answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DependencyDown {
    pub error: String,
    pub status: DownMarker,
}

/// The literal `"down"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DownMarker {
    Down,
}

/// `GET /healthz`: the process is alive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AliveResponse {
    /// Always `alive`.
    pub status: String,
}

impl Default for AliveResponse {
    fn default() -> Self {
        Self {
            status: "alive".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn wire<T: Serialize>(value: &T) -> String {
        serde_json::to_string(value).unwrap()
    }

    #[test]
    fn publish_and_error_bodies_keep_their_wire_form() {
        let body = PublishResponse::accepted(vec![PublishedOffset {
            event_id: "e".into(),
            partition: 2,
            offset: 7,
        }]);
        assert_eq!(
            wire(&body),
            r#"{"accepted":1,"offsets":[{"event_id":"e","offset":7,"partition":2}],"status":"accepted"}"#
        );
        assert_eq!(wire(&ErrorBody::message("nope")), r#"{"error":"nope"}"#);
        let unprocessable = ErrorBody {
            details: Some(vec![]),
            ..ErrorBody::message("empty")
        };
        assert_eq!(wire(&unprocessable), r#"{"details":[],"error":"empty"}"#);
        assert_eq!(
            wire(&ErrorBody::internal(Some("r-1".into()))),
            r#"{"error":"internal error","request_id":"r-1"}"#
        );
    }

    #[test]
    fn health_parts_are_a_string_or_an_object() {
        let health = HealthResponse {
            batches: None,
            broker: DependencyHealth::of::<String>(&Ok(())),
            database: DependencyHealth::of(&Err("refused")),
            read_replica: None,
            retention: None,
            status: HealthStatus::Unhealthy,
            uptime_seconds: Some(3),
        };
        let value = serde_json::to_value(&health).unwrap();
        assert_eq!(
            value,
            json!({"broker": "ok", "database": {"status": "down", "error": "refused"},
                   "status": "unhealthy", "uptime_seconds": 3})
        );
        let back: HealthResponse = serde_json::from_value(value).unwrap();
        assert_eq!(back, health);
    }

    #[test]
    fn event_view_round_trips_with_rfc3339_times() {
        let view = EventView {
            id: 1,
            topic: "t".into(),
            event_id: "e".into(),
            timestamp: "2026-11-25T12:00:00Z".parse().unwrap(),
            source: "s".into(),
            payload: json!({"k": 1}),
            processed_at: "2026-11-25T12:00:01.5Z".parse().unwrap(),
            partition: 0,
            offset: 9,
        };
        let text = wire(&view);
        assert!(
            text.contains(r#""timestamp":"2026-11-25T12:00:00"#),
            "{text}"
        );
        let back: EventView = serde_json::from_str(&text).unwrap();
        assert_eq!(back, view);
    }
}
