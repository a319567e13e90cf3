//! The fast path of `POST /publish` decoding: one pass from the body bytes to each event's wire
//! JSON, borrowing strings from the body and copying the payload verbatim (no intermediate
//! `serde_json::Value`, no payload map). It only ever answers "these events, all valid" or
//! "not sure": anything unusual (an error of any kind, duplicate fields, an escaped NUL, an
//! event near the size limit) returns `None`, and the caller runs the exact validation of
//! [`super::publish::parse_events`], which produces the 400/422 answers. So the fast path can
//! accept only what the slow path accepts; a unit test holds it to that.

use std::borrow::Cow;
use std::sync::LazyLock;

use chrono::{DateTime, FixedOffset};
use logagg_core::event::{topic_chars_valid, MAX_FIELD_CHARS};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// An event ready to publish: its key parts and its wire JSON (the Kafka record value).
#[derive(Debug)]
pub struct WireEvent {
    pub topic: String,
    pub event_id: String,
    pub json: Vec<u8>,
}

/// One event as the body spells it, borrowing from the body where no escape forces a copy.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Item<'a> {
    #[serde(borrow)]
    topic: Cow<'a, str>,
    #[serde(borrow)]
    event_id: Cow<'a, str>,
    #[serde(borrow)]
    timestamp: Cow<'a, str>,
    #[serde(borrow)]
    source: Cow<'a, str>,
    #[serde(borrow, default)]
    payload: Option<&'a RawValue>,
}

/// A JSON object body: either `{"events": [...]}` or one event.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope<'a> {
    #[serde(borrow, default)]
    events: Option<Vec<Item<'a>>>,
    #[serde(borrow, default)]
    topic: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    event_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    timestamp: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    source: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    payload: Option<&'a RawValue>,
}

/// The wire JSON, in the field order (and timestamp form) of `logagg_core::Event`'s.
#[derive(Serialize)]
struct Wire<'a> {
    topic: &'a str,
    event_id: &'a str,
    timestamp: DateTime<FixedOffset>,
    source: &'a str,
    payload: &'a RawValue,
}

static EMPTY_PAYLOAD: LazyLock<Box<RawValue>> =
    LazyLock::new(|| RawValue::from_string("{}".to_owned()).expect("{} is JSON"));

/// The body's events with their wire JSON when every one is certainly valid, at most
/// `max_events` of them, each at most `max_event_bytes`; `None` otherwise (decide slowly).
pub fn decode_valid(
    body: &[u8],
    max_events: usize,
    max_event_bytes: usize,
) -> Option<Vec<WireEvent>> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace())?;
    let items = match first {
        b'[' => serde_json::from_slice::<Vec<Item<'_>>>(body).ok()?,
        b'{' => match serde_json::from_slice::<Envelope<'_>>(body).ok()? {
            Envelope {
                events: Some(items),
                topic: None,
                event_id: None,
                timestamp: None,
                source: None,
                payload: None,
            } => items,
            Envelope {
                events: None,
                topic: Some(topic),
                event_id: Some(event_id),
                timestamp: Some(timestamp),
                source: Some(source),
                payload,
            } => vec![Item {
                topic,
                event_id,
                timestamp,
                source,
                payload,
            }],
            _ => return None,
        },
        _ => return None,
    };
    if items.is_empty() || items.len() > max_events {
        return None;
    }
    items
        .iter()
        .map(|item| wire(item, max_event_bytes))
        .collect()
}

fn wire(item: &Item<'_>, max_event_bytes: usize) -> Option<WireEvent> {
    let field_ok = |text: &str| {
        !text.is_empty() && !text.contains('\0') && text.chars().count() <= MAX_FIELD_CHARS
    };
    let valid = field_ok(&item.topic)
        && field_ok(&item.event_id)
        && field_ok(&item.source)
        && topic_chars_valid(&item.topic);
    if !valid {
        return None;
    }
    let timestamp = DateTime::parse_from_rfc3339(&item.timestamp).ok()?;
    let payload = match item.payload {
        None => &**EMPTY_PAYLOAD,
        // An object, and no escaped NUL anywhere (a `\\u0000` text also lands here: the slow
        // path decides).
        Some(raw) if raw.get().starts_with('{') && !raw.get().contains("\\u0000") => raw,
        Some(_) => return None,
    };
    let json = serde_json::to_vec(&Wire {
        topic: &item.topic,
        event_id: &item.event_id,
        timestamp,
        source: &item.source,
        payload,
    })
    .ok()?;
    (json.len() <= max_event_bytes).then(|| WireEvent {
        topic: item.topic.clone().into_owned(),
        event_id: item.event_id.clone().into_owned(),
        json,
    })
}
