//! `GET /events` (cursor-paged list) and `GET /events/{topic}/{event_id}`.

use crate::route_table::IN_TABLE;
use std::collections::HashMap;

use logagg_core::contract::{ErrorBody, EventView};
use logagg_core::db::events::{self, Order};
use logagg_core::db::search::{self as search_db, After, EventQuery, FoundEvent};
use percent_encoding::percent_decode_str;
use warp::http::{header, HeaderValue};
use warp::reply::Response;
use warp::Reply;

use crate::errors::ApiError;
use crate::handlers::export;
use crate::handlers::responses::{PageParams, ReadErrors};
use crate::handlers::search::{self, FILTER_PARAMS};
use crate::handlers::{visible, Request};

pub const DEFAULT_LIMIT: i64 = 100;
pub const MAX_LIMIT: i64 = 1000;
/// How long an oldest-first read waits for transactions in flight at its start to end.
const HORIZON_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// A query string's decoded parameters, by name.
pub type QueryParams = HashMap<String, String>;

/// Splits a raw query string into decoded parameters (`+` is a space). A parameter given twice
/// is refused: which one the caller meant is a guess.
pub fn parse_query_string(raw: &str) -> Result<QueryParams, ApiError> {
    let mut params = HashMap::new();
    for pair in raw.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |s: &str| {
            percent_decode_str(&s.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()
        };
        let key = decode(key);
        if params.insert(key.clone(), decode(value)).is_some() {
            return Err(ApiError::BadRequest(format!(
                "query parameter {key:?} is given more than once"
            )));
        }
    }
    Ok(params)
}

/// The paging parameters of `GET /events`, besides the filters.
const PAGING_PARAMS: [&str; 4] = ["limit", "before", "after", "order"];

fn int(params: &QueryParams, name: &str) -> Result<Option<i64>, ApiError> {
    params
        .get(name)
        .map(|v| {
            v.parse::<i64>()
                .map_err(|_| ApiError::BadRequest(format!("{name} must be an integer, got {v:?}")))
        })
        .transpose()
}

/// Parses and checks the query string of `GET /events` (and, without `limit`, of its export).
pub fn parse_query(params: &HashMap<String, String>) -> Result<EventQuery, ApiError> {
    let known: Vec<&str> = FILTER_PARAMS
        .iter()
        .chain(&PAGING_PARAMS)
        .copied()
        .collect();
    search::only_known(params, &known)?;
    let filter = search::parse_filter(params)?;
    let limit = int(params, "limit")?.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "limit must be between 1 and {MAX_LIMIT}"
        )));
    }
    // Both cursors together select the window between them.
    let before = int(params, "before")?;
    let after = params
        .get("after")
        .map(|v| search::parse_after("after", v))
        .transpose()?;
    let order = match params.get("order").map(String::as_str) {
        Some("asc") => Order::Asc,
        Some("desc") => Order::Desc,
        // Paging forward from a cursor reads oldest first unless told otherwise.
        None if after.is_some() && before.is_none() => Order::Asc,
        None => Order::Desc,
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "order must be asc or desc, got {other:?}"
            )))
        }
    };
    Ok(EventQuery {
        filter,
        order,
        before,
        after,
        until: None,
        limit: Some(limit),
    })
}

/// Resolves a plain `after=<id>` of an oldest-first read to that row's commit position.
pub async fn resolve(
    conn: &mut logagg_core::db::Conn,
    mut query: EventQuery,
) -> Result<EventQuery, ApiError> {
    if let (Order::Asc, Some(After::Id(id))) = (query.order, query.after) {
        query.after = Some(After::Commit(search_db::resolve_after(conn, id).await?));
    }
    Ok(query)
}

/// Stored events matching the filters, newest first by default (cursor-paged by id), or order=asc in commit order (cursor-paged by <tx>.<id>, safe for readers following new data); Link: rel=next. Accept: application/x-ndjson exports every match.
#[utoipa::path(
    get, path = IN_TABLE,
    params(
        search::FilterParams,
        PageParams,
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 1000, description = "Events per page (default 100)"),
    ),
    responses(
        (status = 200, description = "Events", body = Vec<EventView>),
        ReadErrors,
    ),
)]
pub async fn list(request: Request) -> Result<Response, ApiError> {
    let params = request.params()?;
    if request
        .header("accept")
        .is_some_and(|a| a.contains(export::NDJSON))
    {
        return export::run(request, &params).await;
    }
    let Request { state, caller, .. } = request;
    let mut query = parse_query(&params)?;
    let nothing = || Ok(warp::reply::json(&Vec::<()>::new()).into_response());
    if !search::satisfiable(&query.filter) {
        return nothing();
    }
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    let mut conn = state
        .read_pool
        .get()
        .await
        .map_err(logagg_core::db::DbError::from)?;
    if !visible::narrow(&mut conn, &state, &caller, &mut query.filter).await? {
        return nothing();
    }
    let query = resolve(&mut conn, query).await?;
    if query.order == Order::Asc {
        logagg_core::db::tail::wait_for_horizon(&mut conn, HORIZON_WAIT).await?;
    }
    // One row more than asked tells whether a next page exists, so the last page has no Link.
    let mut rows = search_db::find(
        &mut conn,
        &EventQuery {
            limit: Some(limit + 1),
            ..query.clone()
        },
    )
    .await?;
    drop(conn);
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next = more
        .then(|| rows.last().map(|r| next_link(&query, r)))
        .flatten();
    let events: Vec<EventView> = rows.into_iter().map(|r| r.event.into()).collect();
    let mut response = warp::reply::json(&events).into_response();
    if let Some(link) = next {
        if let Ok(value) = HeaderValue::from_str(&link) {
            response.headers_mut().insert(header::LINK, value);
        }
    }
    Ok(response)
}

/// `Link: </events?...>; rel="next"` continuing after the last row of this page, keeping the
/// filters, the limit and the cursor bounding the other end. Oldest first continues from the
/// row's commit position `<tx>.<id>`; newest first from its id, as always.
fn next_link(query: &EventQuery, last: &FoundEvent) -> String {
    let mut parts = search::encode_filter(&query.filter);
    parts.push(format!("limit={}", query.limit.unwrap_or(DEFAULT_LIMIT)));
    match query.order {
        Order::Desc => {
            parts.push(format!("before={}", last.event.id));
            parts.extend(query.after.map(|after| match after {
                After::Id(id) => format!("after={id}"),
                After::Commit(c) => format!("after={c}"),
            }));
            parts.push("order=desc".into());
        }
        Order::Asc => {
            parts.push(format!("after={}", last.cursor()));
            parts.extend(query.before.map(|before| format!("before={before}")));
            parts.push("order=asc".into());
        }
    }
    format!("</events?{}>; rel=\"next\"", parts.join("&"))
}

/// Whether PostgreSQL can hold `text` at all. A NUL character never can (it even refuses it as
/// a query parameter), so a topic or id holding one is simply unknown and the database is not
/// asked.
fn storable(text: &str) -> bool {
    !text.contains('\0')
}

/// One stored event.
///
/// `GET /events/{topic}/{event_id}`: the topic may itself contain `/`, so the last path segment
/// is the event id and everything before it the topic (percent-encode a `/` inside an id).
#[utoipa::path(
    get, path = IN_TABLE,
    params(
        ("topic" = String, Path, description = "The event's topic (may contain /)"),
        ("event_id" = String, Path, description = "The event id (percent-encode a / inside it)"),
    ),
    responses(
        (status = 200, description = "The event", body = EventView),
        (status = 404, description = "No such event", body = ErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody),
    ),
)]
pub async fn get_one(request: Request) -> Result<Response, ApiError> {
    let Request {
        state,
        caller,
        matched,
        ..
    } = request;
    let tail = matched.as_str();
    let usage = || ApiError::NotFound("no such route; use /events/{topic}/{event_id}".into());
    let (topic, event_id) = tail.rsplit_once('/').ok_or_else(usage)?;
    let topic = percent_decode_str(topic).decode_utf8_lossy().into_owned();
    let event_id = percent_decode_str(event_id)
        .decode_utf8_lossy()
        .into_owned();
    if topic.is_empty() || event_id.is_empty() {
        return Err(usage());
    }
    let missing = || ApiError::NotFound(format!("no event {event_id:?} in topic {topic:?}"));
    // Another topic's event is as unknown to a topic-limited caller as a missing one.
    if !storable(&topic) || !storable(&event_id) || !caller.may_see(&topic) {
        return Err(missing());
    }
    let mut conn = state
        .read_pool
        .get()
        .await
        .map_err(logagg_core::db::DbError::from)?;
    match events::find(&mut conn, &topic, &event_id).await? {
        Some(event) => Ok(warp::reply::json(&event).into_response()),
        None => Err(missing()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handlers::search::tests::params;
    use logagg_core::db::events::StoredEvent;

    fn found(id: i64, tx: &str) -> FoundEvent {
        let now = chrono::Utc::now();
        FoundEvent {
            event: StoredEvent {
                id,
                topic: "t".into(),
                event_id: "e".into(),
                event_timestamp: now,
                source: "s".into(),
                payload: serde_json::json!({}),
                processed_at: now,
                kafka_partition: 0,
                kafka_offset: 0,
            },
            tx: tx.into(),
        }
    }

    #[test]
    fn defaults_are_newest_first_limit_100() {
        let q = parse_query(&params(&[])).unwrap();
        assert_eq!((q.limit, q.order), (Some(100), Order::Desc));
    }

    #[test]
    fn rejects_bad_parameters() {
        for bad in [
            &[("limit", "0")][..],
            &[("limit", "1001")],
            &[("limit", "x")],
            &[("before", "x")],
            &[("after", "1.x")],
            &[("order", "up")],
            &[("colour", "red")],
            &[("from", "soon")],
        ] {
            assert!(parse_query(&params(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn query_strings_are_decoded_and_duplicates_refused() {
        let params = parse_query_string("topic=a%2Fb+c&limit=5&&order").unwrap();
        assert_eq!(params["topic"], "a/b c");
        assert_eq!(params["limit"], "5");
        assert_eq!(params["order"], "");
        assert!(parse_query_string("limit=1&limit=2").is_err());
        assert!(parse_query_string("").unwrap().is_empty());
    }

    #[test]
    fn both_cursors_select_a_window_kept_by_the_next_link() {
        let q = parse_query(&params(&[("before", "9"), ("after", "2"), ("limit", "3")])).unwrap();
        assert_eq!(q.order, Order::Desc);
        assert_eq!(
            next_link(&q, &found(6, "100")),
            "</events?limit=3&before=6&after=2&order=desc>; rel=\"next\""
        );
    }

    #[test]
    fn next_link_keeps_the_filters_and_continues_in_commit_order() {
        let q = parse_query(&params(&[
            ("topic", "a/b"),
            ("limit", "2"),
            ("order", "asc"),
        ]))
        .unwrap();
        assert_eq!(
            next_link(&q, &found(9, "731")),
            "</events?topic=a%2Fb&limit=2&after=731.9&order=asc>; rel=\"next\""
        );
    }
}
