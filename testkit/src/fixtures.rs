//! Valid events for tests (a fixed timestamp, a source naming the suite, a small payload) and
//! the hash an API tokens file stores for a token.

use logagg_core::Event;
use serde_json::{json, Value};

/// A valid event as JSON.
pub fn event_json(topic: &str, event_id: &str) -> Value {
    json!({"topic": topic, "event_id": event_id, "timestamp": "2026-11-25T12:00:00Z",
           "source": "e2e", "payload": {"id": event_id}})
}

/// The JSON text of a valid event whose payload carries `pad` filler bytes (for body limits).
pub fn padded_event(topic: &str, event_id: &str, pad: usize) -> String {
    let mut event = event_json(topic, event_id);
    event["payload"] = json!({"pad": "p".repeat(pad)});
    event.to_string()
}

/// The same event, validated.
pub fn event(topic: &str, event_id: &str) -> Event {
    Event::from_value(&event_json(topic, event_id)).expect("valid test event")
}

/// The hex SHA-256 of `token`, as a `LOGAGG_API_TOKENS_FILE` line stores it (`sha256sum`).
pub fn sha256_hex(token: &str) -> String {
    let out = crate::process::run_with_stdin(
        &mut std::process::Command::new("sha256sum"),
        token.as_bytes(),
    )
    .expect("sha256sum");
    String::from_utf8(out.stdout).expect("utf-8")[..64].to_owned()
}
