//! The NDJSON export of a `GET /events` query (`GET /events/export`, or `GET /events` with
//! `Accept: application/x-ndjson`): every matching row, no cap, one event per line, streamed in
//! constant memory from one consistent snapshot (a REPEATABLE READ READ ONLY transaction read
//! in keyset batches).

use crate::route_table::IN_TABLE;
use bytes::Bytes;
use logagg_core::contract::EventView;
use logagg_core::db::events::Order;
use logagg_core::db::search::{self as search_db, After, EventQuery};
use logagg_core::db::DbError;
use warp::http::{header, HeaderValue};
use warp::reply::Response;
use warp::Reply;

use crate::errors::ApiError;
use crate::handlers::events::QueryParams;
use crate::handlers::responses::{PageParams, ReadErrors};
use crate::handlers::{events, search, visible, Request};

pub const NDJSON: &str = "application/x-ndjson";
/// Rows per keyset batch: bounds the memory of one export (a few MB of rows and JSON).
const BATCH_ROWS: i64 = 2_000;
/// How long an export waits for a free slot before answering 503.
const EXPORT_SLOT_WAIT: std::time::Duration = std::time::Duration::from_secs(5);
/// Batches serialized ahead of a slow client.
const BATCHES_AHEAD: usize = 2;

/// Every matching event as NDJSON, streamed from one consistent snapshot, no row cap (also GET /events with Accept: application/x-ndjson).
#[utoipa::path(
    get, path = IN_TABLE,
    params(search::FilterParams, PageParams),
    responses(
        (status = 200, description = "One EventView per line", body = String, content_type = "application/x-ndjson"),
        ReadErrors,
    ),
)]
pub async fn export(request: Request) -> Result<Response, ApiError> {
    let params = request.params()?;
    run(request, &params).await
}

/// The export of `params` (also `GET /events` asked for NDJSON).
pub async fn run(request: Request, params: &QueryParams) -> Result<Response, ApiError> {
    let Request { state, caller, .. } = request;
    if params.contains_key("limit") {
        return Err(ApiError::BadRequest(
            "limit: an export has no row limit; narrow it with the filters or before/after".into(),
        ));
    }
    let mut query = events::parse_query(params)?;
    query.limit = Some(BATCH_ROWS);
    // A short wait for a running export to end before refusing.
    let busy = || ApiError::Unavailable("too many exports running; retry later".into());
    let permit = tokio::time::timeout(
        EXPORT_SLOT_WAIT,
        state.reads.exports.clone().acquire_owned(),
    )
    .await
    .map_err(|_| busy())?
    .map_err(|_| busy())?;
    let (sender, receiver) = tokio::sync::mpsc::channel::<Bytes>(BATCHES_AHEAD);
    let mut conn = state.read_pool.get().await.map_err(DbError::from)?;
    if search_db_satisfiable(&query)
        && visible::narrow(&mut conn, &state, &caller, &mut query.filter).await?
    {
        let query = events::resolve(&mut conn, query).await?;
        tokio::spawn(async move {
            let _permit = permit;
            let outcome = conn
                .build_transaction()
                .repeatable_read()
                .read_only()
                .run(async move |conn| stream_rows(conn, query, sender).await)
                .await;
            match outcome {
                Ok(()) | Err(diesel::result::Error::RollbackTransaction) => {}
                // The status line is gone already: the client sees a truncated body.
                Err(error) => tracing::warn!(%error, "export failed midway"),
            }
        });
    }
    let body = futures::stream::unfold(receiver, |mut receiver| async move {
        receiver
            .recv()
            .await
            .map(|chunk| (Ok::<_, std::io::Error>(chunk), receiver))
    });
    let mut response = Response::new(warp::hyper::Body::wrap_stream(body));
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(NDJSON));
    Ok(response.into_response())
}

fn search_db_satisfiable(query: &EventQuery) -> bool {
    crate::handlers::search::satisfiable(&query.filter)
}

/// Reads `query` batch after batch inside the caller's transaction and sends each batch as
/// NDJSON; a vanished client rolls the (read-only) transaction back.
async fn stream_rows(
    conn: &mut diesel_async::AsyncPgConnection,
    mut query: EventQuery,
    sender: tokio::sync::mpsc::Sender<Bytes>,
) -> Result<(), diesel::result::Error> {
    let bound = query.before;
    loop {
        let rows = search_db::find(conn, &query).await.map_err(|e| match e {
            DbError::Query(e) => e,
            other => diesel::result::Error::QueryBuilderError(other.to_string().into()),
        })?;
        let Some(last) = rows.last() else {
            return Ok(());
        };
        match query.order {
            Order::Desc => {
                query.before = Some(bound.map_or(last.event.id, |b| b.min(last.event.id)))
            }
            Order::Asc => query.after = Some(After::Commit(last.cursor())),
        }
        let mut chunk = Vec::with_capacity(rows.len() * 256);
        for row in &rows {
            serde_json::to_writer(&mut chunk, &EventView::from(row.event.clone()))
                .map_err(|e| diesel::result::Error::SerializationError(e.into()))?;
            chunk.push(b'\n');
        }
        let full = rows.len() as i64 == query.limit.unwrap_or(BATCH_ROWS);
        if sender.send(Bytes::from(chunk)).await.is_err() {
            return Err(diesel::result::Error::RollbackTransaction);
        }
        if !full {
            return Ok(());
        }
    }
}
