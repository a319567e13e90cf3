//! `GET /events` (cursor-paged list) and `GET /events/{topic}/{event_id}`.

use std::collections::HashMap;

use logagg_core::db::events::{self, EventQuery, Order};
use percent_encoding::{percent_decode_str, utf8_percent_encode, NON_ALPHANUMERIC};
use warp::http::{header, HeaderValue};
use warp::reply::Response;
use warp::Reply;

use crate::errors::ApiError;
use crate::state::AppState;

pub const DEFAULT_LIMIT: i64 = 100;
pub const MAX_LIMIT: i64 = 1000;

/// Parses and checks the query string of `GET /events`.
pub fn parse_query(params: &HashMap<String, String>) -> Result<EventQuery, ApiError> {
    const KNOWN: [&str; 5] = ["topic", "limit", "before", "after", "order"];
    if let Some(unknown) = params.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(ApiError::BadRequest(format!(
            "unknown query parameter {unknown:?}; expected {}",
            KNOWN.join(", ")
        )));
    }
    let int = |name: &str| -> Result<Option<i64>, ApiError> {
        params
            .get(name)
            .map(|v| {
                v.parse::<i64>()
                    .map_err(|_| ApiError::BadRequest(format!("{name} must be an integer, got {v:?}")))
            })
            .transpose()
    };
    let limit = int("limit")?.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::BadRequest(format!("limit must be between 1 and {MAX_LIMIT}")));
    }
    let before = int("before")?;
    let after = int("after")?;
    if before.is_some() && after.is_some() {
        return Err(ApiError::BadRequest("give either before or after, not both".into()));
    }
    let order = match params.get("order").map(String::as_str) {
        Some("asc") => Order::Asc,
        Some("desc") => Order::Desc,
        // Paging forward from a cursor reads oldest first unless told otherwise.
        None if after.is_some() => Order::Asc,
        None => Order::Desc,
        Some(other) => {
            return Err(ApiError::BadRequest(format!("order must be asc or desc, got {other:?}")))
        }
    };
    Ok(EventQuery {
        topic: params.get("topic").cloned().filter(|t| !t.is_empty()),
        limit,
        before,
        after,
        order,
    })
}

pub async fn list(state: AppState, params: HashMap<String, String>) -> Result<Response, ApiError> {
    let query = parse_query(&params)?;
    let mut conn = state.pool.get().await.map_err(logagg_core::db::DbError::from)?;
    let rows = events::list(&mut conn, &query).await?;
    let next = (rows.len() as i64 == query.limit)
        .then(|| rows.last().map(|r| next_link(&query, r.id)))
        .flatten();
    let mut response = warp::reply::json(&rows).into_response();
    if let Some(link) = next {
        if let Ok(value) = HeaderValue::from_str(&link) {
            response.headers_mut().insert(header::LINK, value);
        }
    }
    Ok(response)
}

/// `Link: </events?...>; rel="next"` continuing after the last row of this page.
fn next_link(query: &EventQuery, last_id: i64) -> String {
    let mut parts = Vec::new();
    if let Some(topic) = &query.topic {
        parts.push(format!("topic={}", utf8_percent_encode(topic, NON_ALPHANUMERIC)));
    }
    parts.push(format!("limit={}", query.limit));
    match query.order {
        Order::Desc => parts.push(format!("before={last_id}&order=desc")),
        Order::Asc => parts.push(format!("after={last_id}&order=asc")),
    }
    format!("</events?{}>; rel=\"next\"", parts.join("&"))
}

/// `GET /events/{topic}/{event_id}`: the topic may itself contain `/`, so the last path segment
/// is the event id and everything before it the topic (percent-encode a `/` inside an id).
pub async fn get_one(state: AppState, tail: String) -> Result<Response, ApiError> {
    let (topic, event_id) = tail
        .rsplit_once('/')
        .ok_or_else(|| ApiError::NotFound("use /events/{topic}/{event_id}".into()))?;
    let topic = percent_decode_str(topic).decode_utf8_lossy().into_owned();
    let event_id = percent_decode_str(event_id).decode_utf8_lossy().into_owned();
    if topic.is_empty() || event_id.is_empty() {
        return Err(ApiError::NotFound("use /events/{topic}/{event_id}".into()));
    }
    let mut conn = state.pool.get().await.map_err(logagg_core::db::DbError::from)?;
    match events::find(&mut conn, &topic, &event_id).await? {
        Some(event) => Ok(warp::reply::json(&event).into_response()),
        None => Err(ApiError::NotFound(format!("no event {event_id:?} in topic {topic:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_are_newest_first_limit_100() {
        let q = parse_query(&params(&[])).unwrap();
        assert_eq!((q.limit, q.order), (100, Order::Desc));
    }

    #[test]
    fn rejects_bad_parameters() {
        for bad in [
            &[("limit", "0")][..],
            &[("limit", "1001")],
            &[("limit", "x")],
            &[("before", "1"), ("after", "2")],
            &[("order", "up")],
            &[("colour", "red")],
        ] {
            assert!(parse_query(&params(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn next_link_keeps_the_filters() {
        let q = parse_query(&params(&[("topic", "a/b"), ("limit", "2"), ("order", "asc")])).unwrap();
        assert_eq!(next_link(&q, 9), "</events?topic=a%2Fb&limit=2&after=9&order=asc>; rel=\"next\"");
    }
}
