//! What every ingest protocol adapter (OTLP, Loki push, Elasticsearch bulk, syslog) shares:
//! the deterministic `event_id` of a record that carries no id of its own, and the rule that
//! fits a protocol's name for a stream (service, job, index, app) to the topic alphabet.
//!
//! A client's retry re-sends the same bytes, so a digest of the record is the same id again:
//! the retry is a duplicate under `UNIQUE (topic, event_id)`, never a second row.

use crate::event::MAX_FIELD_CHARS;

/// The id of a record without one: `<protocol>-` and the first 128 bits of the SHA-256 of its
/// parts, in hex. Each part is length-prefixed, so `["ab", "c"]` and `["a", "bc"]` differ; the
/// protocol prefix keeps ids of different protocols (and publisher-chosen ids) apart.
pub fn derived_event_id(protocol: &str, parts: &[&[u8]]) -> String {
    let mut hasher = openssl::sha::Sha256::new();
    hasher.update(protocol.as_bytes());
    for part in parts {
        hasher.update(&(part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    let digest = hasher.finish();
    let mut id = String::with_capacity(protocol.len() + 1 + 32);
    id.push_str(protocol);
    id.push('-');
    for byte in &digest[..16] {
        id.push_str(&format!("{byte:02x}"));
    }
    id
}

/// `name` made a valid topic: every character outside `[A-Za-z0-9._/-]` becomes `_`, and the
/// result is cut to 255 characters; an empty name gives `fallback` (itself fitted).
pub fn fit_topic(name: &str, fallback: &str) -> String {
    let name = if name.is_empty() { fallback } else { name };
    name.chars()
        .take(MAX_FIELD_CHARS)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '/' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_ids_are_stable_and_framed() {
        let a = derived_event_id("otlp", &[b"ab", b"c"]);
        assert_eq!(a, derived_event_id("otlp", &[b"ab", b"c"]));
        assert_ne!(a, derived_event_id("otlp", &[b"a", b"bc"]));
        assert_ne!(a, derived_event_id("loki", &[b"ab", b"c"]));
        assert!(a.starts_with("otlp-"));
        assert_eq!(a.len(), "otlp-".len() + 32);
    }

    #[test]
    fn topics_fit_the_alphabet() {
        assert_eq!(fit_topic("checkout service", "x"), "checkout_service");
        assert_eq!(fit_topic("a.b/c-d_e", "x"), "a.b/c-d_e");
        assert_eq!(fit_topic("", "unknown_service"), "unknown_service");
        assert_eq!(fit_topic("zürich", "x"), "z_rich");
        assert_eq!(fit_topic(&"x".repeat(300), "y").len(), MAX_FIELD_CHARS);
    }
}
