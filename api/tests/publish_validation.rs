//! The 422 matrix of `POST /publish` as a unit test of validation: every way an event or a
//! batch can be invalid, in each publish shape, against `parse_events` (what the handler runs
//! before anything is produced), and the fast path (`publish_wire`) declines each. A few of these cases also run end to end through the real
//! binary (e2e/tests/api_publish.rs).

use std::collections::BTreeSet;

use logagg_api::errors::{ApiError, ItemError};
use logagg_api::handlers::publish::{parse_events, MAX_EVENT_BYTES};
use logagg_api::handlers::publish_wire::decode_valid;
use serde_json::{json, Value};

/// The limit the end-to-end test configures with `LOGAGG_MAX_BATCH_EVENTS`.
const MAX_EVENTS: usize = 5;

fn event_json(topic: &str, event_id: &str) -> Value {
    json!({"topic": topic, "event_id": event_id, "timestamp": "2026-11-25T12:00:00Z",
           "source": "e2e", "payload": {"id": event_id}})
}

/// The refusal of `body`: its message and per-item details; panics if it was accepted or
/// refused with another status than 422.
fn refusal(body: Value, what: &str) -> (String, Vec<ItemError>) {
    // The fast path never accepts what the exact validation refuses.
    let bytes = serde_json::to_vec(&body).unwrap();
    assert!(
        decode_valid(&bytes, MAX_EVENTS, MAX_EVENT_BYTES).is_none(),
        "{what}: the fast path accepted it"
    );
    match parse_events(body, MAX_EVENTS) {
        Err(ApiError::Unprocessable { message, details }) => {
            assert!(!message.is_empty(), "{what}: empty message");
            (message, details)
        }
        Err(other) => panic!("{what}: expected 422, got {} ({other})", other.status()),
        Ok(events) => panic!("{what}: accepted {} events", events.len()),
    }
}

fn valid() -> Value {
    event_json("v", "e-1")
}

fn with(field: &str, value: Value) -> Value {
    let mut e = valid();
    e[field] = value;
    e
}

fn without(field: &str) -> Value {
    let mut e = valid();
    e.as_object_mut().unwrap().remove(field);
    e
}

#[test]
fn each_invalid_field_is_named_with_its_index_in_every_shape() {
    // (what, event, the field that must be named)
    let cases: Vec<(&str, Value, &str)> = vec![
        ("missing topic", without("topic"), "topic"),
        ("missing event_id", without("event_id"), "event_id"),
        ("missing timestamp", without("timestamp"), "timestamp"),
        ("missing source", without("source"), "source"),
        (
            "not-a-date",
            with("timestamp", json!("not-a-date")),
            "timestamp",
        ),
        (
            "naive timestamp",
            with("timestamp", json!("2026-11-25T12:00:00")),
            "timestamp",
        ),
        (
            "numeric timestamp",
            with("timestamp", json!(1_764_072_000)),
            "timestamp",
        ),
        ("unknown field", with("tpoic", json!("v")), "tpoic"),
        (
            "topic with a space",
            with("topic", json!("bad topic")),
            "topic",
        ),
        (
            "topic too long",
            with("topic", json!("t".repeat(256))),
            "topic",
        ),
        ("empty event_id", with("event_id", json!("")), "event_id"),
        (
            "event_id too long",
            with("event_id", json!("é".repeat(256))),
            "event_id",
        ),
        ("numeric event_id", with("event_id", json!(7)), "event_id"),
        ("null source", with("source", Value::Null), "source"),
        (
            "payload an array",
            with("payload", json!([1, 2])),
            "payload",
        ),
        ("payload a string", with("payload", json!("{}")), "payload"),
        (
            "NUL in event_id",
            with("event_id", json!("a\u{0}b")),
            "event_id",
        ),
        ("NUL in source", with("source", json!("\u{0}")), "source"),
        (
            "NUL in payload",
            with("payload", json!({"k": ["x\u{0}"]})),
            "payload",
        ),
        (
            "NUL in payload key",
            with("payload", json!({"k\u{0}": 1})),
            "payload",
        ),
    ];
    for (what, event, field) in cases {
        // Alone, as the second item of a bare array, and inside {"events": [...]}.
        for (shape, body, index) in [
            ("single", event.clone(), 0),
            ("array", json!([valid(), event.clone()]), 1),
            (
                "wrapper",
                json!({"events": [valid(), valid(), event.clone()]}),
                2,
            ),
        ] {
            let (message, details) = refusal(body, &format!("{what} ({shape})"));
            assert!(
                details
                    .iter()
                    .any(|d| d.index == index && d.field == field && !d.message.is_empty()),
                "{what} ({shape}): expected a detail for index {index} field {field}: {message} {details:?}"
            );
            assert!(
                details.iter().all(|d| d.index == index),
                "{what} ({shape}): only the bad item is named: {details:?}"
            );
        }
    }
}

#[test]
fn messages_say_what_is_wrong_and_every_bad_field_is_reported() {
    let (_, details) = refusal(with("timestamp", json!("2026-11-25T12:00:00")), "naive");
    assert!(details[0].message.contains("offset"), "{details:?}");

    let (_, details) = refusal(
        json!({"topic": "no spaces!", "event_id": 1, "extra": true}),
        "several",
    );
    let fields: BTreeSet<&str> = details.iter().map(|d| d.field.as_str()).collect();
    for field in ["topic", "event_id", "timestamp", "source", "extra"] {
        assert!(fields.contains(field), "{field} missing from {details:?}");
    }
}

#[test]
fn batch_level_problems_are_422() {
    let too_many = || {
        (0..6)
            .map(|i| event_json("v", &format!("e-{i}")))
            .collect::<Vec<_>>()
    };
    for (what, body) in [
        ("empty array", json!([])),
        ("empty wrapper", json!({"events": []})),
        ("too many", Value::Array(too_many())),
        ("too many wrapped", json!({ "events": too_many() })),
        ("events not an array", json!({"events": valid()})),
        (
            "events beside other fields",
            json!({"events": [valid()], "extra": 1}),
        ),
        ("a string", json!("event")),
        ("a number", json!(42)),
        ("null", Value::Null),
        ("array of non-objects", json!([1, "two", null])),
    ] {
        refusal(body, what);
    }
    let (message, _) = refusal(json!([]), "empty");
    assert!(message.contains("empty"), "{message}");
    let (_, details) = refusal(json!([1, "two", null]), "non-objects");
    let indices: BTreeSet<usize> = details.iter().map(|d| d.index).collect();
    assert_eq!(indices, BTreeSet::from([0, 1, 2]), "{details:?}");
    // Exactly the limit is fine.
    let five = Value::Array(
        (0..5)
            .map(|i| event_json("v", &format!("ok-{i}")))
            .collect(),
    );
    assert_eq!(
        parse_events(five, MAX_EVENTS).map(|e| e.len()).ok(),
        Some(5)
    );
}
