//! `POST /publish`: check the body, validate every event, charge the token's publish rate,
//! then produce and wait for the broker's acks (the token itself is checked by `auth`'s guard
//! before this handler runs).
//!
//! Once the route matched (path and method) this handler answers every request itself: a
//! rejection here would fall through to the 404/405 fallback of the router.

use crate::route_table::IN_TABLE;
use bytes::Bytes;
use logagg_core::contract::{ErrorBody, PublishRequest, PublishResponse, PublishedOffset};
use logagg_core::Event;
use logagg_producer::PublishError;
use serde_json::Value;
use warp::http::{header, HeaderMap};
use warp::reply::Response;
use warp::Reply;

use crate::auth::Caller;
use crate::body::{self, BodyError, BodyStream};
use crate::errors::{ApiError, ItemError};
use crate::handlers::publish_wire::{self, WireEvent};
use crate::handlers::Request;
use crate::state::AppState;

/// Largest serialized event: librdkafka's default message.max.bytes less room for the key and
/// record overhead. Bigger events are refused up front (422) instead of failing at the broker.
pub const MAX_EVENT_BYTES: usize = 1_000_000 - 1_024;

/// Publish one event, an array of events, or {"events": [...]}; answered once the broker acked every event.
///
/// Checked in order: body size, content type, JSON, every event; then the broker. The body is
/// read first (up to the limit) whatever the answer, so the connection stays usable.
#[utoipa::path(
    post, path = IN_TABLE,
    request_body = PublishRequest,
    responses(
        (status = 200, description = "Accepted: acked by the broker", body = PublishResponse),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Content type is not JSON", body = ErrorBody),
        (status = 422, description = "Invalid events (details per item); nothing published", body = ErrorBody),
        (status = 403, description = "The token lacks the publish scope, or may not publish to an event's topic (named)", body = ErrorBody),
        (status = 429, description = "Over the token's publish rate; nothing published; retry after Retry-After", body = ErrorBody),
        (status = 503, description = "Broker unavailable or slow, or the API at its in-flight publish cap (LOGAGG_API_MAX_INFLIGHT_PUBLISH_BYTES); nothing published; retry after Retry-After", body = ErrorBody),
    ),
)]
pub async fn publish(request: Request) -> Response {
    let Request {
        state,
        caller,
        headers,
        body,
        ..
    } = request;
    let limit = state.config.max_body_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let mut stream = std::pin::pin!(body);
    // Held until the answer: what this request may buffer counts against the budget.
    let Some(_reserved) = state.publish_budget.try_reserve(declared, limit) else {
        return shed(&state, declared, stream.as_mut()).await;
    };
    let body = match declared {
        Some(length) if length > limit => Err(BodyError::TooLarge),
        _ => body::read_limited(stream.as_mut(), limit).await,
    };
    // A refused body up to twice the limit is read to its end, so the client gets the 413 on a
    // connection that stays open. A bigger one is answered unread with `Connection: close`
    // (a client still sending may then see a reset instead of the 413: the price of not
    // reading megabytes only to refuse them).
    let complete = match (&body, declared) {
        (Ok(_), _) => true,
        (Err(BodyError::TooLarge), Some(length)) if length > limit.saturating_mul(2) => false,
        (Err(BodyError::TooLarge), _) => {
            body::drain(stream.as_mut(), limit.saturating_mul(2)).await
        }
        (Err(BodyError::Read(_)), _) => false,
    };
    let response = handle(&state, &caller, &headers, body)
        .await
        .unwrap_or_else(Reply::into_response);
    if complete {
        response
    } else {
        body::close_connection(response)
    }
}

/// The answer when the publish budget is spent: 503 with `Retry-After`, the body discarded
/// unbuffered (or left unread, with `Connection: close`, when it is over twice the limit).
async fn shed<S>(state: &AppState, declared: Option<u64>, stream: std::pin::Pin<&mut S>) -> Response
where
    S: BodyStream + ?Sized,
{
    let limit = state.config.max_body_bytes.saturating_mul(2);
    let drained = match declared {
        Some(length) if length > limit => false,
        _ => body::drain(stream, limit).await,
    };
    let response = ApiError::Unavailable(format!(
        "server busy: {} bytes of publish requests in flight (LOGAGG_API_MAX_INFLIGHT_PUBLISH_BYTES); nothing published, retry",
        state.publish_budget.in_flight_bytes()
    ))
    .into_response();
    if drained {
        response
    } else {
        body::close_connection(response)
    }
}

async fn handle(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    body: Result<Bytes, BodyError>,
) -> Result<Response, ApiError> {
    let body = body.map_err(|error| match error {
        BodyError::TooLarge => ApiError::PayloadTooLarge(format!(
            "request body is larger than the limit of {} bytes",
            state.config.max_body_bytes
        )),
        BodyError::Read(e) => ApiError::BadRequest(format!("could not read the request body: {e}")),
    })?;
    if !is_json(header_text(headers, header::CONTENT_TYPE)) {
        return Err(ApiError::UnsupportedMediaType);
    }
    let max_events = state.config.max_batch_events;
    let events = match publish_wire::decode_valid(&body, max_events, MAX_EVENT_BYTES) {
        Some(events) => events,
        // Not certainly valid: the exact validation decides, and words the 400 or 422.
        None => {
            let value: Value = serde_json::from_slice(&body)
                .map_err(|e| ApiError::BadRequest(format!("malformed JSON: {e}")))?;
            parse_events(value, max_events)?
        }
    };
    caller.check_topics(events.iter().map(|e| e.topic.as_str()))?;
    state.auth.admit_publish(caller, events.len())?;
    let records: Vec<(&str, &[u8])> = events
        .iter()
        .map(|e| (e.topic.as_str(), e.json.as_slice()))
        .collect();
    let acks = tokio::time::timeout(
        state.config.publish_timeout,
        state.producer.publish_serialized(&records),
    )
    .await
    .map_err(|_| {
        ApiError::Unavailable(format!(
            "broker did not acknowledge within {} ms; nothing is reported accepted, retry",
            state.config.publish_timeout.as_millis()
        ))
    })?
    .map_err(|error| match error {
        PublishError::Retryable(e) => ApiError::Unavailable(format!("broker unavailable: {e}")),
        PublishError::Fatal(e) => ApiError::Internal(e),
    })?;
    state.metrics.events_accepted.inc_by(events.len() as u64);
    let offsets = events
        .iter()
        .zip(&acks)
        .map(|(e, ack)| PublishedOffset {
            event_id: e.event_id.clone(),
            partition: ack.partition,
            offset: ack.offset,
        })
        .collect();
    Ok(warp::reply::json(&PublishResponse::accepted(offsets)).into_response())
}

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// `application/json`, optionally with parameters, or any `application/*+json`.
fn is_json(content_type: Option<&str>) -> bool {
    let Some(content_type) = content_type else {
        return false;
    };
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

/// Accepts one event object, a bare array, or `{"events": [...]}`, and validates every event.
pub fn parse_events(value: Value, max_events: usize) -> Result<Vec<WireEvent>, ApiError> {
    let items = match value {
        Value::Array(items) => items,
        Value::Object(mut object) if object.contains_key("events") => {
            if object.len() > 1 {
                let extra: Vec<_> = object.keys().filter(|k| *k != "events").cloned().collect();
                return Err(unprocessable(
                    "unknown fields next to \"events\"",
                    extra
                        .into_iter()
                        .map(|field| ItemError {
                            index: 0,
                            field,
                            message: "unknown field".into(),
                        })
                        .collect(),
                ));
            }
            match object.remove("events") {
                Some(Value::Array(items)) => items,
                _ => {
                    return Err(unprocessable(
                        "\"events\" must be an array of events",
                        vec![],
                    ))
                }
            }
        }
        Value::Object(object) => vec![Value::Object(object)],
        other => {
            return Err(unprocessable(
                &format!(
                    "expected an event object, an array of events or {{\"events\": [...]}}, got {}",
                    logagg_core::event::json_type(&other)
                ),
                vec![],
            ))
        }
    };
    if items.is_empty() {
        return Err(unprocessable(
            "the batch is empty: send 1 or more events",
            vec![],
        ));
    }
    if items.len() > max_events {
        return Err(unprocessable(
            &format!(
                "the batch has {} events; at most {max_events} are accepted per request",
                items.len()
            ),
            vec![],
        ));
    }
    let mut events = Vec::with_capacity(items.len());
    let mut details = Vec::new();
    for (index, item) in items.iter().enumerate() {
        match Event::from_value(item) {
            Ok(event) => {
                let json = event.to_json_bytes();
                let size = json.len();
                if size > MAX_EVENT_BYTES {
                    details.push(ItemError {
                        index,
                        field: "payload".into(),
                        message: format!(
                            "event is {size} bytes; at most {MAX_EVENT_BYTES} allowed"
                        ),
                    });
                }
                events.push(WireEvent {
                    topic: event.topic,
                    event_id: event.event_id,
                    json,
                });
            }
            Err(errors) => details.extend(errors.into_iter().map(|e| ItemError {
                index,
                field: e.field,
                message: e.message,
            })),
        }
    }
    if details.is_empty() {
        Ok(events)
    } else {
        let bad: std::collections::BTreeSet<usize> = details.iter().map(|d| d.index).collect();
        Err(unprocessable(
            &format!(
                "{} of {} events are invalid; nothing was published",
                bad.len(),
                items.len()
            ),
            details,
        ))
    }
}

fn unprocessable(message: &str, details: Vec<ItemError>) -> ApiError {
    ApiError::Unprocessable {
        message: message.to_owned(),
        details,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn event(id: &str) -> Value {
        json!({"topic": "t", "event_id": id, "timestamp": "2026-11-25T12:00:00Z", "source": "s"})
    }

    #[test]
    fn accepts_the_three_shapes() {
        assert_eq!(parse_events(event("1"), 10).unwrap().len(), 1);
        assert_eq!(
            parse_events(json!([event("1"), event("2")]), 10)
                .unwrap()
                .len(),
            2
        );
        assert_eq!(
            parse_events(json!({"events": [event("1")]}), 10)
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn one_bad_event_rejects_the_batch_with_its_index() {
        let mut bad = event("2");
        bad["timestamp"] = json!("not-a-date");
        let Err(ApiError::Unprocessable { details, .. }) =
            parse_events(json!([event("1"), bad]), 10)
        else {
            panic!("expected 422");
        };
        assert_eq!(details.len(), 1);
        assert_eq!(
            (details[0].index, details[0].field.as_str()),
            (1, "timestamp")
        );
    }

    #[test]
    fn empty_and_oversized_batches_are_refused() {
        assert!(matches!(
            parse_events(json!([]), 10),
            Err(ApiError::Unprocessable { .. })
        ));
        assert!(matches!(
            parse_events(json!({"events": []}), 10),
            Err(ApiError::Unprocessable { .. })
        ));
        let many: Vec<Value> = (0..3).map(|i| event(&i.to_string())).collect();
        assert!(matches!(
            parse_events(json!(many), 2),
            Err(ApiError::Unprocessable { .. })
        ));
        assert!(matches!(
            parse_events(json!("x"), 2),
            Err(ApiError::Unprocessable { .. })
        ));
    }

    #[test]
    fn content_types() {
        assert!(is_json(Some("application/json")));
        assert!(is_json(Some("Application/JSON; charset=utf-8")));
        assert!(is_json(Some("application/vnd.logagg+json")));
        assert!(!is_json(Some("text/plain")));
        assert!(!is_json(None));
    }

    #[test]
    fn nul_characters_are_refused_where_postgresql_cannot_store_them() {
        let mut bad = event("1");
        bad["payload"] = json!({"nested": [{"k\u{0}": 1}]});
        let Err(ApiError::Unprocessable { details, .. }) = parse_events(bad, 10) else {
            panic!("expected 422");
        };
        assert_eq!(details[0].field, "payload");
        let mut bad = event("a\u{0}");
        bad["source"] = json!(7);
        let Err(ApiError::Unprocessable { details, .. }) = parse_events(bad, 10) else {
            panic!("expected 422");
        };
        let mut fields: Vec<_> = details.iter().map(|d| d.field.as_str()).collect();
        fields.sort_unstable();
        assert_eq!(fields, ["event_id", "source"]);
    }
}
