//! What several routes share: their error responses, for the OpenAPI annotations (the 500, 401
//! and 403 every route may answer are added by `openapi::CommonResponses`), their paging
//! parameters, and the reply of a route that is one database read.

use diesel_async::AsyncPgConnection;
use futures::future::BoxFuture;
use logagg_core::contract::ErrorBody;
use logagg_core::db::{DbError, Pool};
use serde::Serialize;
use warp::reply::Response;
use warp::Reply;

use crate::errors::ApiError;

/// The errors of a filtered read: a bad parameter, or no database.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum ReadErrors {
    /// Bad query parameter (named in the error)
    #[response(status = 400)]
    BadRequest(ErrorBody),
    /// Database unavailable, or too many reads of this kind running (retry after Retry-After)
    #[response(status = 503)]
    Unavailable(ErrorBody),
}

/// The error of a route that only needs the database.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum DbUnavailable {
    /// Database unavailable
    #[response(status = 503)]
    Unavailable(ErrorBody),
}

/// The errors of an admin write: its small JSON body (`admin::with_json_body`) refused, or no
/// database.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum AdminWriteErrors {
    /// Malformed JSON
    #[response(status = 400)]
    Malformed(ErrorBody),
    /// Body too large
    #[response(status = 413)]
    TooLarge(ErrorBody),
    /// Invalid field (named in the error's details)
    #[response(status = 422)]
    Invalid(ErrorBody),
    /// Database unavailable
    #[response(status = 503)]
    Unavailable(ErrorBody),
}

/// The cursor paging of `GET /events` and its export.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct PageParams {
    /// Only events with an id below this one (the last id of a newest-first page)
    before: Option<i64>,
    /// Oldest first (order=asc): events stored after this one in commit order; an event id or
    /// the cursor <tx>.<id> of Link / the stream's event ids. Newest first: only ids above it
    after: Option<String>,
    /// asc (commit order) or desc (newest first, the default)
    order: Option<String>,
}

/// Runs one query on a connection of `pool` and answers its result as JSON; a pool or query
/// failure becomes the 503/500 of `ApiError`.
pub async fn query_json<T, Q>(pool: &Pool, query: Q) -> Result<Response, ApiError>
where
    T: Serialize,
    Q: for<'c> FnOnce(&'c mut AsyncPgConnection) -> BoxFuture<'c, Result<T, DbError>>,
{
    let mut conn = pool.get().await.map_err(DbError::from)?;
    let value = query(&mut conn).await?;
    Ok(warp::reply::json(&value).into_response())
}
