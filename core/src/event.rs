//! The log event: its JSON wire format, validation with per-field errors, and the Kafka
//! record format (key = topic, value = event JSON).

use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Longest `topic`, `event_id` and `source`, in characters.
pub const MAX_FIELD_CHARS: usize = 255;

/// Fields an event object may carry; anything else is rejected so a typo cannot lose data.
const KNOWN_FIELDS: [&str; 5] = ["topic", "event_id", "timestamp", "source", "payload"];

/// A validated event. Construct it with [`Event::from_value`] or [`Event::from_json_bytes`];
/// serializing it gives the canonical wire JSON.
///
/// The schema attributes describe, for the OpenAPI document, what [`Event::from_value`] checks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Event {
    #[schema(min_length = 1, max_length = 255, pattern = "^[A-Za-z0-9._/-]+$")]
    pub topic: String,
    /// UUIDv7 recommended; any collision-resistant id is accepted.
    #[schema(min_length = 1, max_length = 255)]
    pub event_id: String,
    /// RFC 3339 with a UTC offset. Kept with the offset the publisher sent, so the wire JSON
    /// round-trips.
    #[schema(value_type = String, format = DateTime)]
    pub timestamp: DateTime<FixedOffset>,
    #[schema(min_length = 1, max_length = 255)]
    pub source: String,
    /// Any JSON object; `{}` when absent.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub payload: Map<String, Value>,
}

/// One validation problem, addressed by field name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    fn new(field: &str, message: impl Into<String>) -> Self {
        Self {
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Why a Kafka record could not become an event (the consumer's dead-letter reason).
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error("value is not valid JSON: {0}")]
    NotJson(#[from] serde_json::Error),
    #[error("invalid event: {}", join_errors(.0))]
    Invalid(Vec<FieldError>),
    #[error("record key {key:?} differs from the event's topic {topic:?}")]
    KeyMismatch { key: String, topic: String },
    #[error("record has no value")]
    Empty,
}

fn join_errors(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl Event {
    /// Validates a JSON value as an event, collecting every field error rather than the first.
    pub fn from_value(value: &Value) -> Result<Self, Vec<FieldError>> {
        let Some(object) = value.as_object() else {
            return Err(vec![FieldError::new(
                "(event)",
                format!("expected a JSON object, got {}", json_type(value)),
            )]);
        };
        let mut errors = Vec::new();
        for key in object.keys() {
            if !KNOWN_FIELDS.contains(&key.as_str()) {
                errors.push(FieldError::new(
                    key,
                    format!("unknown field; expected one of {}", KNOWN_FIELDS.join(", ")),
                ));
            }
        }
        let topic = required_string(object, "topic", &mut errors);
        if let Some(topic) = &topic {
            if !topic_chars_valid(topic) {
                errors.push(FieldError::new(
                    "topic",
                    "may contain only letters, digits and . _ / -",
                ));
            }
        }
        let event_id = required_string(object, "event_id", &mut errors);
        let source = required_string(object, "source", &mut errors);
        let timestamp = match object.get("timestamp") {
            None | Some(Value::Null) => {
                errors.push(FieldError::new("timestamp", "is required"));
                None
            }
            Some(Value::String(text)) => match parse_timestamp(text) {
                Ok(ts) => Some(ts),
                Err(message) => {
                    errors.push(FieldError::new("timestamp", message));
                    None
                }
            },
            Some(other) => {
                errors.push(FieldError::new(
                    "timestamp",
                    format!("expected an RFC 3339 string, got {}", json_type(other)),
                ));
                None
            }
        };
        let payload = match object.get("payload") {
            None | Some(Value::Null) => Some(Map::new()),
            Some(Value::Object(map)) if contains_nul(&Value::Object(map.clone())) => {
                errors.push(FieldError::new(
                    "payload",
                    "must not contain NUL (\\u0000) characters (PostgreSQL cannot store them)",
                ));
                None
            }
            Some(Value::Object(map)) => Some(map.clone()),
            Some(other) => {
                errors.push(FieldError::new(
                    "payload",
                    format!("expected a JSON object, got {}", json_type(other)),
                ));
                None
            }
        };
        match (topic, event_id, timestamp, source, payload) {
            (Some(topic), Some(event_id), Some(timestamp), Some(source), Some(payload))
                if errors.is_empty() =>
            {
                Ok(Self {
                    topic,
                    event_id,
                    timestamp,
                    source,
                    payload,
                })
            }
            _ => Err(errors),
        }
    }

    /// Decodes and validates a Kafka record: `value` must be an event, and a present `key`
    /// must equal its topic (a record without a key is accepted; its value's topic rules).
    pub fn from_record(key: Option<&[u8]>, value: Option<&[u8]>) -> Result<Self, EventError> {
        let value = value.filter(|v| !v.is_empty()).ok_or(EventError::Empty)?;
        let json: Value = serde_json::from_slice(value)?;
        let event = Self::from_value(&json).map_err(EventError::Invalid)?;
        if let Some(key) = key {
            if key != event.topic.as_bytes() {
                return Err(EventError::KeyMismatch {
                    key: String::from_utf8_lossy(key).into_owned(),
                    topic: event.topic,
                });
            }
        }
        Ok(event)
    }

    /// The wire JSON of this event (the Kafka record value).
    pub fn to_json_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("an Event always serializes")
    }

    /// The timestamp in UTC, as stored.
    pub fn timestamp_utc(&self) -> DateTime<Utc> {
        self.timestamp.with_timezone(&Utc)
    }
}

/// Whether every character of a topic name is one of `[A-Za-z0-9._/-]`.
pub fn topic_chars_valid(topic: &str) -> bool {
    topic
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '/' | '-'))
}

/// A topic name as events carry it: 1..=255 of `[A-Za-z0-9._/-]`.
pub fn is_valid_topic(topic: &str) -> bool {
    (1..=255).contains(&topic.chars().count()) && topic_chars_valid(topic)
}

/// Formats a timestamp the way the API returns it (RFC 3339, UTC, microseconds).
pub fn format_timestamp(ts: &DateTime<Utc>) -> String {
    ts.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn parse_timestamp(text: &str) -> Result<DateTime<FixedOffset>, String> {
    DateTime::parse_from_rfc3339(text).map_err(|_| {
        if chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f").is_ok() {
            format!("{text:?} has no UTC offset; add Z or +hh:mm")
        } else {
            format!("{text:?} is not an RFC 3339 timestamp (e.g. 2026-11-25T12:00:00Z)")
        }
    })
}

fn required_string(
    object: &Map<String, Value>,
    field: &str,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    match object.get(field) {
        None | Some(Value::Null) => {
            errors.push(FieldError::new(field, "is required"));
            None
        }
        Some(Value::String(text)) => {
            let chars = text.chars().count();
            if text.contains('\0') {
                errors.push(FieldError::new(
                    field,
                    "must not contain NUL (\\u0000) characters",
                ));
                None
            } else if chars == 0 {
                errors.push(FieldError::new(field, "must not be empty"));
                None
            } else if chars > MAX_FIELD_CHARS {
                errors.push(FieldError::new(
                    field,
                    format!("is {chars} characters; at most {MAX_FIELD_CHARS} allowed"),
                ));
                None
            } else {
                Some(text.clone())
            }
        }
        Some(other) => {
            errors.push(FieldError::new(
                field,
                format!("expected a string, got {}", json_type(other)),
            ));
            None
        }
    }
}

/// Whether any string or key inside `value` holds a NUL, which PostgreSQL's text and jsonb
/// cannot store (an insert with one would fail the whole batch).
fn contains_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(contains_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || contains_nul(v)),
        _ => false,
    }
}

/// "a string", "an object"...: how error messages name a JSON value's type.
pub fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn valid() -> Value {
        json!({"topic": "orders", "event_id": "e-1", "timestamp": "2026-11-25T12:00:00Z",
               "source": "checkout", "payload": {"n": 1}})
    }

    fn fields(errors: &[FieldError]) -> Vec<&str> {
        errors.iter().map(|e| e.field.as_str()).collect()
    }

    #[test]
    fn accepts_a_valid_event_and_round_trips_it() {
        let event = Event::from_value(&valid()).unwrap();
        assert_eq!(event.topic, "orders");
        let again: Value = serde_json::from_slice(&event.to_json_bytes()).unwrap();
        assert_eq!(Event::from_value(&again).unwrap(), event);
    }

    #[test]
    fn missing_payload_becomes_empty_object() {
        let mut value = valid();
        value.as_object_mut().unwrap().remove("payload");
        assert!(Event::from_value(&value).unwrap().payload.is_empty());
    }

    #[test]
    fn reports_every_bad_field() {
        let value = json!({"topic": "bad topic!", "event_id": "", "timestamp": "not-a-date",
                           "source": 7, "payload": [1], "extra": true});
        let errors = Event::from_value(&value).unwrap_err();
        let mut got = fields(&errors);
        got.sort();
        assert_eq!(
            got,
            [
                "event_id",
                "extra",
                "payload",
                "source",
                "timestamp",
                "topic"
            ]
        );
    }

    #[test]
    fn rejects_naive_timestamps_with_a_hint() {
        let mut value = valid();
        value["timestamp"] = json!("2026-11-25T12:00:00");
        let errors = Event::from_value(&value).unwrap_err();
        assert!(errors[0].message.contains("no UTC offset"), "{errors:?}");
    }

    #[test]
    fn accepts_offsets_other_than_utc() {
        let mut value = valid();
        value["timestamp"] = json!("2026-11-25T13:00:00+01:00");
        let event = Event::from_value(&value).unwrap();
        assert_eq!(
            event.timestamp_utc().to_rfc3339(),
            "2026-11-25T12:00:00+00:00"
        );
    }

    #[test]
    fn enforces_length_limits() {
        let mut value = valid();
        value["event_id"] = json!("x".repeat(MAX_FIELD_CHARS + 1));
        assert_eq!(
            fields(&Event::from_value(&value).unwrap_err()),
            ["event_id"]
        );
        value["event_id"] = json!("x".repeat(MAX_FIELD_CHARS));
        assert!(Event::from_value(&value).is_ok());
    }

    #[test]
    fn rejects_nul_anywhere_postgres_cannot_store_it() {
        let mut value = valid();
        value["source"] = json!("a\u{0}b");
        assert_eq!(fields(&Event::from_value(&value).unwrap_err()), ["source"]);
        let mut value = valid();
        value["payload"] = json!({"deep": [{"k\u{0}": 1}]});
        assert_eq!(fields(&Event::from_value(&value).unwrap_err()), ["payload"]);
        let mut value = valid();
        value["payload"] = json!({"deep": ["x\u{0}"]});
        assert_eq!(fields(&Event::from_value(&value).unwrap_err()), ["payload"]);
    }

    #[test]
    fn record_key_must_match_topic_but_may_be_absent() {
        let bytes = serde_json::to_vec(&valid()).unwrap();
        assert!(Event::from_record(Some(b"orders"), Some(&bytes)).is_ok());
        assert!(Event::from_record(None, Some(&bytes)).is_ok());
        assert!(matches!(
            Event::from_record(Some(b"other"), Some(&bytes)),
            Err(EventError::KeyMismatch { .. })
        ));
        assert!(matches!(
            Event::from_record(None, Some(b"{not json")),
            Err(EventError::NotJson(_))
        ));
        assert!(matches!(
            Event::from_record(None, None),
            Err(EventError::Empty)
        ));
    }
}
