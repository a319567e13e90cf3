//! `GET /topics`, `GET /dead-letters` (paged, filtered; raw key and value as UTF-8 when valid,
//! base64 otherwise) and `POST /dead-letters/{id}/retry` (re-publishes the raw record to the
//! Kafka topic and marks the dead letter retried).

use crate::route_table::IN_TABLE;
use base64::Engine;
use futures::FutureExt;
use logagg_core::contract::{DeadLetterView, ErrorBody, RawEncoding, RetryResponse};
use logagg_core::db::counters::{self, TopicSummary};
use logagg_core::db::dead_letters::{self, DeadLetterQuery, StoredDeadLetter};
use logagg_core::db::DbError;
use warp::http::{header, HeaderValue};
use warp::reply::Response;
use warp::Reply;

use crate::auth::Caller;
use crate::errors::ApiError;
use crate::handlers::events::QueryParams;
use crate::handlers::responses::{query_json, DbUnavailable, ReadErrors};
use crate::handlers::{search, Request};

const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 1000;

/// Every topic with its stored count, event-time bounds, last store time and counters.
#[utoipa::path(
    get, path = IN_TABLE,
    responses((status = 200, description = "Every topic", body = Vec<TopicSummary>), DbUnavailable),
)]
pub async fn topics(request: Request) -> Result<Response, ApiError> {
    let Request { state, caller, .. } = request;
    let kafka = state.kafka.clone();
    query_json(&state.read_pool, move |conn| {
        async move {
            let mut topics = counters::summaries(conn, &kafka.group, &kafka.topic).await?;
            topics.retain(|summary| caller.may_see(&summary.topic));
            Ok(topics)
        }
        .boxed()
    })
    .await
}

/// Raw bytes as text when they are UTF-8, else base64, with the encoding used.
fn raw(bytes: &Option<Vec<u8>>) -> (Option<String>, Option<RawEncoding>) {
    match bytes {
        None => (None, None),
        Some(b) => match std::str::from_utf8(b) {
            Ok(text) => (Some(text.to_owned()), Some(RawEncoding::Utf8)),
            Err(_) => (
                Some(base64::engine::general_purpose::STANDARD.encode(b)),
                Some(RawEncoding::Base64),
            ),
        },
    }
}

/// Whether the record's key (its topic, as the wire format has it) is one `caller` may see.
fn keyed_for(caller: &Caller, letter: &StoredDeadLetter) -> bool {
    letter
        .letter
        .record_key
        .as_deref()
        .and_then(|key| std::str::from_utf8(key).ok())
        .is_some_and(|topic| caller.may_see(topic))
}

fn render(letter: &StoredDeadLetter) -> DeadLetterView {
    let time = logagg_core::event::format_timestamp;
    let (key, key_encoding) = raw(&letter.letter.record_key);
    let (value, value_encoding) = raw(&letter.letter.record_value);
    DeadLetterView {
        created_at: time(&letter.created_at),
        error: letter.letter.error.clone(),
        id: letter.id,
        kafka_topic: letter.letter.kafka_topic.clone(),
        key,
        key_encoding,
        offset: letter.letter.kafka_offset,
        partition: letter.letter.kafka_partition,
        retried_at: letter.retried_at.as_ref().map(time),
        value,
        value_encoding,
    }
}

fn parse(params: &QueryParams) -> Result<DeadLetterQuery, ApiError> {
    const KNOWN: [&str; 7] = [
        "partition",
        "error",
        "from",
        "to",
        "status",
        "before",
        "limit",
    ];
    search::only_known(params, &KNOWN)?;
    let int = |name: &str| -> Result<Option<i64>, ApiError> {
        params
            .get(name)
            .map(|v| {
                v.parse::<i64>().map_err(|_| {
                    ApiError::BadRequest(format!("{name}: must be an integer, got {v:?}"))
                })
            })
            .transpose()
    };
    let partition = int("partition")?
        .map(|p| {
            i32::try_from(p)
                .ok()
                .filter(|p| *p >= 0)
                .ok_or_else(|| ApiError::BadRequest("partition: must be a partition number".into()))
        })
        .transpose()?;
    let limit = int("limit")?.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "limit: must be between 1 and {MAX_LIMIT}"
        )));
    }
    let time = search::parse_filter(
        &params
            .iter()
            .filter(|(k, _)| *k == "from" || *k == "to")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    )?;
    let pending = match params.get("status").map(String::as_str) {
        None | Some("all") => None,
        Some("pending") => Some(true),
        Some("retried") => Some(false),
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "status: must be pending, retried or all, got {other:?}"
            )))
        }
    };
    let error = params.get("error").cloned();
    if error.as_deref().is_some_and(|e| e.contains('\0')) {
        return Err(ApiError::BadRequest(
            "error: must not contain a NUL character".into(),
        ));
    }
    Ok(DeadLetterQuery {
        partition,
        error,
        from: time.from,
        to: time.to,
        pending,
        before: int("before")?,
        limit,
    })
}

/// Records the consumer could not store, newest first (Link: rel=next); raw key and value as UTF-8 or base64 (key_encoding, value_encoding).
#[utoipa::path(
    get, path = IN_TABLE,
    params(
        ("partition" = Option<i32>, Query, description = "Kafka partition"),
        ("error" = Option<String>, Query, description = "Case-insensitive substring of the error"),
        ("from" = Option<String>, Query, format = DateTime, description = "Stored at or after"),
        ("to" = Option<String>, Query, format = DateTime, description = "Stored before"),
        ("status" = Option<String>, Query, description = "pending, retried or all (default)"),
        ("before" = Option<i64>, Query, description = "Only ids below this one"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 1000, description = "Page size (default 100)"),
    ),
    responses(
        (status = 200, description = "Dead letters, newest first", body = Vec<DeadLetterView>),
        ReadErrors,
    ),
)]
pub async fn list(request: Request) -> Result<Response, ApiError> {
    let params = &request.params()?;
    let Request { state, caller, .. } = request;
    let query = parse(params)?;
    let mut conn = state.pool.get().await.map_err(DbError::from)?;
    let mut rows = dead_letters::page(
        &mut conn,
        &state.kafka.group,
        &DeadLetterQuery {
            limit: query.limit + 1,
            ..query.clone()
        },
    )
    .await?;
    drop(conn);
    let more = rows.len() as i64 > query.limit;
    rows.truncate(query.limit as usize);
    // A topic-limited caller sees the records keyed by its topics only (a page may come out
    // short; `Link` still continues below its last row).
    let body: Vec<DeadLetterView> = rows
        .iter()
        .filter(|letter| caller.topics().is_none() || keyed_for(&caller, letter))
        .map(render)
        .collect();
    let mut response = warp::reply::json(&body).into_response();
    if let (true, Some(last)) = (more, rows.last()) {
        // The same query continued below the last id.
        let mut parts: Vec<String> = params
            .iter()
            .filter(|(k, _)| *k != "before")
            .map(|(k, v)| {
                let enc = |s: &str| {
                    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC)
                        .to_string()
                };
                format!("{}={}", enc(k), enc(v))
            })
            .collect();
        parts.sort();
        parts.push(format!("before={}", last.id));
        let link = format!("</dead-letters?{}>; rel=\"next\"", parts.join("&"));
        if let Ok(value) = HeaderValue::from_str(&link) {
            response.headers_mut().insert(header::LINK, value);
        }
    }
    Ok(response)
}

/// Re-publishes the dead letter's raw key and value to the Kafka topic and marks it retried (admin scope).
///
/// `POST /dead-letters/{id}/retry`: the record goes back to the Kafka topic exactly as it was
/// read (the consumer then judges it again, e.g. after a fix); the dead letter is marked.
#[utoipa::path(
    post, path = IN_TABLE,
    params(("id" = i64, Path, description = "The dead letter's id")),
    responses(
        (status = 200, description = "Re-published", body = RetryResponse),
        (status = 404, description = "No such dead letter", body = ErrorBody),
        (status = 503, description = "Broker or database unavailable", body = ErrorBody),
    ),
)]
pub async fn retry(request: Request) -> Result<Response, ApiError> {
    let Request { state, matched, .. } = request;
    let id = matched.as_str();
    let missing = || ApiError::NotFound(format!("no dead letter {id:?}"));
    let id: i64 = id.parse().map_err(|_| missing())?;
    let mut conn = state.pool.get().await.map_err(DbError::from)?;
    let letter = dead_letters::get(&mut conn, &state.kafka.group, id)
        .await?
        .ok_or_else(missing)?;
    drop(conn);
    let ack = state
        .producer
        .republish_raw(
            letter.letter.record_key.as_deref(),
            letter.letter.record_value.as_deref(),
        )
        .await
        .map_err(|e| ApiError::Unavailable(format!("broker did not take the record: {e}")))?;
    let mut conn = state.pool.get().await.map_err(DbError::from)?;
    dead_letters::mark_retried(&mut conn, id).await?;
    let letter = dead_letters::get(&mut conn, &state.kafka.group, id)
        .await?
        .ok_or_else(missing)?;
    Ok(warp::reply::json(&RetryResponse {
        dead_letter: render(&letter),
        offset: ack.offset,
        partition: ack.partition,
        status: "republished".to_owned(),
    })
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_bytes_are_text_when_utf8_else_base64() {
        assert_eq!(
            raw(&Some(b"ok".to_vec())),
            (Some("ok".to_owned()), Some(RawEncoding::Utf8))
        );
        assert_eq!(
            raw(&Some(vec![0xff, 0x00])),
            (Some("/wA=".to_owned()), Some(RawEncoding::Base64))
        );
        assert_eq!(raw(&None), (None, None));
    }

    #[test]
    fn malformed_parameters_name_themselves() {
        for (name, value) in [
            ("partition", "-1"),
            ("limit", "0"),
            ("status", "x"),
            ("from", "x"),
            ("before", "x"),
        ] {
            let params: QueryParams = [(name.to_string(), value.to_string())].into();
            let error = parse(&params).unwrap_err().to_string();
            assert!(error.starts_with(name), "{name}={value}: {error}");
        }
    }
}
