//! The fast path of `POST /publish` (`publish_wire::decode_valid`) against the exact validation
//! (`parse_events`) on valid bodies: it must take the common ones, and then give the same
//! events, whose wire JSON decodes to the same `Event` the slow path publishes.

use logagg_api::handlers::publish::{parse_events, MAX_EVENT_BYTES};
use logagg_api::handlers::publish_wire::decode_valid;
use logagg_core::Event;

const MAX_EVENTS: usize = 1000;

/// Valid bodies in every shape and spelling a client may send.
const BODIES: &[&str] = &[
    r#"{"topic":"orders","event_id":"e-1","timestamp":"2026-11-25T12:00:00Z","source":"web","payload":{"n":1}}"#,
    r#"[{"topic":"a.b/c-d_e","event_id":"1","timestamp":"2026-11-25T12:00:00.123456+02:00","source":"s"}]"#,
    r#"{"events":[{"topic":"t","event_id":"x","timestamp":"2026-11-25T12:00:00Z","source":"s","payload":null},
                  {"payload":{"nested":{"a":[1,2,{"b":"c"}]},"k":"v"},"source":"s","timestamp":"2026-11-25T23:59:59-05:00","event_id":"y","topic":"t"}]}"#,
    "  \n [ {\"topic\" : \"t\", \"event_id\" : \"caf\\u00e9 \\\"quoted\\\"\", \"timestamp\" : \"2026-11-25T12:00:00Z\", \"source\" : \"\u{1F600} emoji\", \"payload\" : { \"msg\" : \"line\\nbreak\", \"x\" : 1.5e3 } } ] ",
    r#"{"topic":"t","event_id":"e","timestamp":"2026-11-25T12:00:00Z","source":"s","payload":{"dup":1,"dup":2}}"#,
];

fn events_of(topic: &str, json: &[u8]) -> Event {
    Event::from_record(Some(topic.as_bytes()), Some(json)).expect("wire JSON decodes")
}

#[test]
fn valid_bodies_take_the_fast_path_and_publish_what_the_slow_path_would() {
    for body in BODIES {
        let fast = decode_valid(body.as_bytes(), MAX_EVENTS, MAX_EVENT_BYTES)
            .unwrap_or_else(|| panic!("fast path declined a valid body: {body}"));
        let slow = parse_events(serde_json::from_str(body).unwrap(), MAX_EVENTS).expect("valid");
        assert_eq!(fast.len(), slow.len(), "{body}");
        for (f, s) in fast.iter().zip(&slow) {
            assert_eq!((&f.topic, &f.event_id), (&s.topic, &s.event_id), "{body}");
            assert_eq!(
                events_of(&f.topic, &f.json),
                events_of(&s.topic, &s.json),
                "{body}"
            );
        }
    }
}

#[test]
fn unusual_bodies_are_left_to_the_exact_validation() {
    let declined = [
        // An escaped NUL in the payload (the slow path refuses it) or an escaped backslash
        // before `u0000` (the slow path accepts it): both decided slowly.
        r#"{"topic":"t","event_id":"e","timestamp":"2026-11-25T12:00:00Z","source":"s","payload":{"a":"\u0000"}}"#,
        r#"{"topic":"t","event_id":"e","timestamp":"2026-11-25T12:00:00Z","source":"s","payload":{"a":"\\u0000"}}"#,
        // A repeated field: the slow path keeps the last one.
        r#"{"topic":"t","topic":"u","event_id":"e","timestamp":"2026-11-25T12:00:00Z","source":"s"}"#,
        // More events than allowed, and not JSON at all.
        r#"[]"#,
        "not json",
    ];
    for body in declined {
        assert!(
            decode_valid(body.as_bytes(), MAX_EVENTS, MAX_EVENT_BYTES).is_none(),
            "{body}"
        );
    }
    let one = r#"{"topic":"t","event_id":"e","timestamp":"2026-11-25T12:00:00Z","source":"s"}"#;
    let two = format!("[{one},{one}]");
    assert!(decode_valid(two.as_bytes(), 1, MAX_EVENT_BYTES).is_none());
    assert!(
        decode_valid(one.as_bytes(), 1, 40).is_none(),
        "over the size limit"
    );
}
