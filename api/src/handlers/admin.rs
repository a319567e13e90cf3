//! Admin routes (admin scope): retention policies (`GET`/`PUT /admin/retention`), audited
//! deletes by filter (`POST /admin/delete`) and their audit (`GET /admin/deletes`). A delete
//! runs in bounded steps (LOGAGG_RETENTION_STEP_ROWS rows per transaction), each moving the
//! `deleted` counter and the audit row's count with its rows.

use crate::route_table::IN_TABLE;
use bytes::Bytes;
use futures::FutureExt;
use logagg_core::contract::{
    AuditEntry, DeleteFilter, DeleteResponse, ItemError, RetentionPolicies, SetRetention,
};
use logagg_core::db::retention::{self, Doomed};
use logagg_core::db::DbError;
use logagg_core::event::is_valid_topic;
use serde::de::DeserializeOwned;
use warp::reply::Response;
use warp::Reply;

use crate::auth::Caller;
use crate::body::{self, BodyError, BodyStream};
use crate::errors::ApiError;
use crate::handlers::responses::{query_json, AdminWriteErrors, DbUnavailable};
use crate::handlers::Request;
use crate::state::AppState;

/// Admin bodies are small; anything bigger is refused unread.
const ADMIN_BODY_LIMIT: u64 = 1 << 20;
/// Most event ids one delete may name.
const MAX_EVENT_IDS: usize = 10_000;
/// Audit rows `GET /admin/deletes` returns.
const AUDIT_ROWS: i64 = 100;

/// Reads a JSON body of type `T`; the flag says whether the body was read to its end.
async fn json_body<T, S>(body: S) -> (Result<T, ApiError>, bool)
where
    T: DeserializeOwned,
    S: BodyStream,
{
    let read: Result<Bytes, BodyError> =
        body::read_limited(std::pin::pin!(body), ADMIN_BODY_LIMIT).await;
    match read {
        Ok(bytes) => (
            serde_json::from_slice(&bytes)
                .map_err(|e| ApiError::BadRequest(format!("malformed JSON: {e}"))),
            true,
        ),
        Err(BodyError::TooLarge) => (
            Err(ApiError::PayloadTooLarge(format!(
                "admin bodies are limited to {ADMIN_BODY_LIMIT} bytes"
            ))),
            false,
        ),
        Err(BodyError::Read(e)) => (
            Err(ApiError::BadRequest(format!(
                "could not read the body: {e}"
            ))),
            false,
        ),
    }
}

/// A 422 naming one field.
fn invalid(field: &str, message: &str) -> ApiError {
    ApiError::Unprocessable {
        message: format!("{field} {message}"),
        details: vec![ItemError {
            index: 0,
            field: field.into(),
            message: message.into(),
        }],
    }
}

/// Reads the JSON body of an admin write as `T`, hands it to `handle` with the state and the
/// caller, and answers what it returns (or the body's error), closing the connection when the
/// body was left unread.
async fn write<T, F, Fut>(request: Request, handle: F) -> Response
where
    T: DeserializeOwned,
    F: FnOnce(AppState, Caller, T) -> Fut,
    Fut: std::future::Future<Output = Result<Response, ApiError>>,
{
    let Request {
        state,
        caller,
        body,
        ..
    } = request;
    let (decoded, complete) = json_body::<T, _>(body).await;
    let result = match decoded {
        Ok(decoded) => handle(state, caller, decoded).await,
        Err(error) => Err(error),
    };
    let response = result.unwrap_or_else(Reply::into_response);
    if complete {
        response
    } else {
        body::close_connection(response)
    }
}

/// The default retention, per-topic policies and the enforcer's last run (admin scope).
#[utoipa::path(
    get, path = IN_TABLE,
    responses((status = 200, description = "Policies", body = RetentionPolicies), DbUnavailable),
)]
pub async fn get_retention(request: Request) -> Result<Response, ApiError> {
    query_json(&request.state.pool, |conn| {
        retention::policies(conn).boxed()
    })
    .await
}

/// Sets the default (no topic) or one topic's retention; age is the stored time (admin scope).
#[utoipa::path(
    put, path = IN_TABLE,
    request_body = SetRetention,
    responses((status = 200, description = "The policies after the change", body = RetentionPolicies), AdminWriteErrors),
)]
pub async fn put_retention(request: Request) -> Response {
    write(request, set_retention).await
}

async fn set_retention(
    state: AppState,
    caller: Caller,
    request: SetRetention,
) -> Result<Response, ApiError> {
    let topic = match request.topic.as_deref() {
        None => retention::DEFAULT_TOPIC,
        Some(topic) if is_valid_topic(topic) => topic,
        Some(_) => {
            return Err(invalid(
                "topic",
                "must be 1..=255 characters of letters, digits and . _ / -",
            ))
        }
    };
    if request.retention_seconds.is_some_and(|s| s <= 0) {
        return Err(invalid(
            "retention_seconds",
            "must be above 0 (null keeps forever)",
        ));
    }
    let who = caller.name();
    let mut conn = state.pool.get().await.map_err(DbError::from)?;
    if request.inherit {
        retention::clear_policy(&mut conn, topic).await?;
    } else {
        retention::set_policy(&mut conn, topic, request.retention_seconds, who).await?;
    }
    tracing::info!(topic, seconds = ?request.retention_seconds, inherit = request.inherit, by = %who, "retention policy set");
    let policies = retention::policies(&mut conn).await?;
    Ok(warp::reply::json(&policies).into_response())
}

fn check_filter(filter: &DeleteFilter) -> Result<(), ApiError> {
    if filter.is_empty() {
        return Err(invalid(
            "filter",
            "needs at least one of topic, source, from, to, event_ids",
        ));
    }
    if let Some(ids) = &filter.event_ids {
        if ids.is_empty() || ids.len() > MAX_EVENT_IDS {
            return Err(invalid(
                "event_ids",
                &format!("must hold 1..={MAX_EVENT_IDS} ids"),
            ));
        }
    }
    if let (Some(from), Some(to)) = (filter.from, filter.to) {
        if from >= to {
            return Err(invalid("to", "must be after from"));
        }
    }
    Ok(())
}

/// Deletes the stored events matching every field of the filter, writes an audit row, counts them `deleted` (admin scope).
#[utoipa::path(
    post, path = IN_TABLE,
    request_body = DeleteFilter,
    responses((status = 200, description = "Deleted (an empty or invalid filter is a 422)", body = DeleteResponse), AdminWriteErrors),
)]
pub async fn delete(request: Request) -> Response {
    write(request, delete_matching).await
}

async fn delete_matching(
    state: AppState,
    caller: Caller,
    filter: DeleteFilter,
) -> Result<Response, ApiError> {
    check_filter(&filter)?;
    let who = caller.name();
    let mut conn = state.pool.get().await.map_err(DbError::from)?;
    let audit_id = retention::open_audit(&mut conn, who, &filter).await?;
    let (group, topic) = (&state.kafka.group, &state.kafka.topic);
    let mut deleted = 0;
    loop {
        let doomed = Doomed::Deleted {
            filter: &filter,
            audit_id,
        };
        let limit = state.config.retention_step_rows;
        let step = retention::remove_step(&mut conn, group, topic, doomed, limit).await?;
        deleted += step;
        // A step may come back short when a concurrent remover took rows; only an empty
        // step proves nothing matching is left.
        if step == 0 {
            break;
        }
    }
    tracing::info!(audit_id, deleted, by = %who, "admin delete");
    Ok(warp::reply::json(&DeleteResponse { audit_id, deleted }).into_response())
}

/// The audit of admin deletes, newest first (admin scope).
#[utoipa::path(
    get, path = IN_TABLE,
    responses((status = 200, description = "Audit rows", body = [AuditEntry]), DbUnavailable),
)]
pub async fn deletes(request: Request) -> Result<Response, ApiError> {
    query_json(&request.state.pool, |conn| {
        retention::audit(conn, AUDIT_ROWS).boxed()
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_or_inverted_filter_is_refused() {
        assert!(check_filter(&DeleteFilter::default()).is_err());
        let ids = DeleteFilter {
            event_ids: Some(vec![]),
            ..DeleteFilter::default()
        };
        assert!(check_filter(&ids).is_err());
        let now = chrono::Utc::now();
        let inverted = DeleteFilter {
            from: Some(now),
            to: Some(now),
            ..DeleteFilter::default()
        };
        assert!(check_filter(&inverted).is_err());
        let topic = DeleteFilter {
            topic: Some("t".into()),
            ..DeleteFilter::default()
        };
        assert!(check_filter(&topic).is_ok());
    }
}
