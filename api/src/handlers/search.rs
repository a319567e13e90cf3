//! The filter parameters shared by `GET /events`, its NDJSON export and `GET /events/stream`:
//! parsing (a malformed value is a 400 naming the parameter) and re-encoding for `Link`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use logagg_core::db::search::{After, CommitCursor, EventFilter};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};

use crate::errors::ApiError;

/// The filter parameters as the OpenAPI document describes them (for `GET /events`, its export
/// and the stream). Documentation only: the handlers parse the raw query themselves, so that a
/// malformed value is a 400 naming its parameter rather than a generic deserialization error.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct FilterParams {
    /// One topic, or several separated by commas
    topic: Option<String>,
    /// Exact source
    source: Option<String>,
    /// Event time at or after (RFC 3339 with offset)
    #[param(format = DateTime)]
    from: Option<String>,
    /// Event time before (RFC 3339 with offset)
    #[param(format = DateTime)]
    to: Option<String>,
    /// Case-insensitive substring of the source or the payload's JSON text (trigram index)
    #[param(min_length = 3, max_length = 200)]
    q: Option<String>,
    /// A JSON object the payload contains (jsonb @>), e.g. {"level":"error"}
    payload: Option<String>,
}

/// The filter parameters, in the order `Link` writes them.
pub const FILTER_PARAMS: [&str; 6] = ["topic", "source", "from", "to", "q", "payload"];

/// Most topics one `topic=a,b,...` may name.
pub const MAX_TOPICS: usize = 50;
/// `q` length bounds: the trigram index needs 3 characters to narrow anything.
pub const MIN_TEXT_CHARS: usize = 3;
pub const MAX_TEXT_CHARS: usize = 200;
/// Largest `payload=` object, in bytes of JSON.
pub const MAX_PAYLOAD_BYTES: usize = 4096;

fn bad(name: &str, message: impl std::fmt::Display) -> ApiError {
    ApiError::BadRequest(format!("{name}: {message}"))
}

/// Refuses any parameter not in `known`.
pub fn only_known(params: &HashMap<String, String>, known: &[&str]) -> Result<(), ApiError> {
    match params.keys().find(|k| !known.contains(&k.as_str())) {
        Some(unknown) => Err(ApiError::BadRequest(format!(
            "unknown query parameter {unknown:?}; expected {}",
            known.join(", ")
        ))),
        None => Ok(()),
    }
}

fn instant(
    params: &HashMap<String, String>,
    name: &str,
) -> Result<Option<DateTime<Utc>>, ApiError> {
    params
        .get(name)
        .map(|v| {
            DateTime::parse_from_rfc3339(v)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|e| {
                    bad(
                        name,
                        format!("must be an RFC 3339 time with an offset, got {v:?} ({e})"),
                    )
                })
        })
        .transpose()
}

/// Whether a JSON value holds a NUL character anywhere (PostgreSQL's jsonb refuses it).
fn holds_nul(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::String(s) => s.contains('\0'),
        serde_json::Value::Array(items) => items.iter().any(holds_nul),
        serde_json::Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || holds_nul(v)),
        _ => false,
    }
}

/// The filter of a request. An empty `topic=` means every topic, as it always did.
pub fn parse_filter(params: &HashMap<String, String>) -> Result<EventFilter, ApiError> {
    let topics: Vec<String> = params
        .get("topic")
        .map(|t| {
            t.split(',')
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    if topics.len() > MAX_TOPICS {
        return Err(bad("topic", format!("at most {MAX_TOPICS} topics")));
    }
    let source = params.get("source").cloned();
    if source.as_deref() == Some("") {
        return Err(bad("source", "must not be empty"));
    }
    let (from, to) = (instant(params, "from")?, instant(params, "to")?);
    if let (Some(from), Some(to)) = (from, to) {
        if from > to {
            return Err(bad("from", "must not be after to"));
        }
    }
    let text = params.get("q").cloned();
    if let Some(q) = &text {
        let chars = q.chars().count();
        if !(MIN_TEXT_CHARS..=MAX_TEXT_CHARS).contains(&chars) {
            return Err(bad(
                "q",
                format!("must be {MIN_TEXT_CHARS} to {MAX_TEXT_CHARS} characters (the search index works on trigrams)"),
            ));
        }
        if q.contains('\0') {
            return Err(bad("q", "must not contain a NUL character"));
        }
    }
    let payload = params
        .get("payload")
        .map(|raw| {
            if raw.len() > MAX_PAYLOAD_BYTES {
                return Err(bad(
                    "payload",
                    format!("must be at most {MAX_PAYLOAD_BYTES} bytes"),
                ));
            }
            let value: serde_json::Value = serde_json::from_str(raw)
                .map_err(|e| bad("payload", format!("must be a JSON object ({e})")))?;
            match &value {
                serde_json::Value::Object(map) if !map.is_empty() && !holds_nul(&value) => {
                    Ok(value)
                }
                serde_json::Value::Object(map) if map.is_empty() => {
                    Err(bad("payload", "must name at least one field"))
                }
                serde_json::Value::Object(_) => Err(bad("payload", "must not contain \\u0000")),
                _ => Err(bad(
                    "payload",
                    "must be a JSON object, e.g. {\"level\":\"error\"}",
                )),
            }
        })
        .transpose()?;
    Ok(EventFilter {
        topics,
        source,
        from,
        to,
        text,
        payload,
    })
}

/// Whether PostgreSQL can hold the filter's exact-match texts at all; when it cannot (a NUL
/// character), nothing can match and the database is not asked.
pub fn satisfiable(filter: &EventFilter) -> bool {
    !filter.topics.iter().any(|t| t.contains('\0'))
        && !filter.source.as_deref().is_some_and(|s| s.contains('\0'))
}

/// `after=`: a plain row id or a commit cursor `<tx>.<id>` (what `Link` and the stream's
/// event ids carry).
pub fn parse_after(name: &str, value: &str) -> Result<After, ApiError> {
    if let Ok(id) = value.parse::<i64>() {
        return Ok(After::Id(id));
    }
    value
        .parse::<CommitCursor>()
        .map(After::Commit)
        .map_err(|()| {
            bad(
                name,
                format!("must be an event id or a cursor <tx>.<id>, got {value:?}"),
            )
        })
}

/// The filter as query-string parameters (for `Link`), percent-encoded.
pub fn encode_filter(filter: &EventFilter) -> Vec<String> {
    let enc = |s: &str| utf8_percent_encode(s, NON_ALPHANUMERIC).to_string();
    let time = |t: &DateTime<Utc>| enc(&logagg_core::event::format_timestamp(t));
    let mut parts = Vec::new();
    if !filter.topics.is_empty() {
        parts.push(format!("topic={}", enc(&filter.topics.join(","))));
    }
    parts.extend(
        filter
            .source
            .as_deref()
            .map(|s| format!("source={}", enc(s))),
    );
    parts.extend(filter.from.as_ref().map(|t| format!("from={}", time(t))));
    parts.extend(filter.to.as_ref().map(|t| format!("to={}", time(t))));
    parts.extend(filter.text.as_deref().map(|q| format!("q={}", enc(q))));
    parts.extend(
        filter
            .payload
            .as_ref()
            .map(|p| format!("payload={}", enc(&p.to_string()))),
    );
    parts
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Query parameters from pairs (shared by the handlers' tests).
    pub(crate) fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn every_malformed_filter_names_its_parameter() {
        for (name, value) in [
            ("from", "yesterday"),
            ("to", "2026-11-25T12:00:00"),
            ("q", "ab"),
            ("payload", "[1]"),
            ("payload", "{}"),
            ("payload", "{not json"),
            ("payload", r#"{"a":"\u0000"}"#),
            ("source", ""),
        ] {
            let error = parse_filter(&params(&[(name, value)]))
                .unwrap_err()
                .to_string();
            assert!(
                error.starts_with(&format!("{name}:")),
                "{name}={value}: {error}"
            );
        }
        let error = parse_filter(&params(&[
            ("from", "2026-11-26T00:00:00Z"),
            ("to", "2026-11-25T00:00:00Z"),
        ]))
        .unwrap_err();
        assert!(error.to_string().starts_with("from:"));
        assert!(parse_after("after", "x").is_err());
        assert_eq!(parse_after("after", "7").unwrap(), After::Id(7));
    }

    #[test]
    fn filters_survive_the_link_round_trip() {
        let filter = parse_filter(&params(&[
            ("topic", "a/b,c"),
            ("source", "svc 1"),
            ("from", "2026-11-25T12:00:00+01:00"),
            ("q", "50% off"),
            ("payload", r#"{"user":{"id":42}}"#),
        ]))
        .unwrap();
        assert_eq!(filter.topics, ["a/b", "c"]);
        let raw = encode_filter(&filter).join("&");
        let again =
            parse_filter(&crate::handlers::events::parse_query_string(&raw).unwrap()).unwrap();
        assert_eq!(again, filter);
    }
}
