//! `GET /health` (ready: broker and database answer), `GET /healthz` (alive), `GET /metrics`.

use crate::route_table::IN_TABLE;
use std::time::Duration;

use logagg_core::contract::{
    AliveResponse, DependencyHealth, HealthResponse, HealthStatus, ReplicaHealth,
};
use logagg_core::db;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::Reply;

use logagg_core::contract::RetentionStatus;
use logagg_core::db::{dead_letters, progress, retention};

/// The enforcer's last run, when the database answers in time and one has run.
async fn retention_status(state: &AppState) -> Option<RetentionStatus> {
    tokio::time::timeout(CHECK_TIMEOUT, async {
        let mut conn = state.pool.get().await.ok()?;
        retention::status(&mut conn).await.ok().flatten()
    })
    .await
    .ok()
    .flatten()
}

use crate::handlers::Request;
use crate::state::AppState;

const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// Readiness: broker and database.
#[utoipa::path(
    get, path = IN_TABLE,
    responses(
        (status = 200, description = "Healthy", body = HealthResponse),
        (status = 503, description = "A dependency is down", body = HealthResponse),
    ),
)]
pub async fn health(request: Request) -> Response {
    let state = request.state;
    let database = db::ping(&state.pool).await;
    let producer = state.producer.clone();
    let broker = tokio::task::spawn_blocking(move || {
        producer
            .broker_reachable(CHECK_TIMEOUT)
            .map_err(|e| e.to_string())
    })
    .await
    .unwrap_or_else(|e| Err(e.to_string()));
    let read_replica = match state.has_read_replica {
        true => Some(read_replica(&state).await),
        false => None,
    };
    let replica_up = read_replica.as_ref().is_none_or(|r| r.database.is_up());
    let healthy = database.is_ok() && broker.is_ok() && replica_up;
    let retention = if database.is_ok() {
        retention_status(&state).await
    } else {
        None
    };
    let body = HealthResponse {
        batches: None,
        broker: DependencyHealth::of(&broker),
        database: DependencyHealth::of(&database),
        read_replica,
        retention,
        status: HealthStatus::of(healthy),
        uptime_seconds: Some(state.started.elapsed().as_secs()),
    };
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    warp::reply::with_status(warp::reply::json(&body), status).into_response()
}

/// The read replica: whether it answers, and how far its replay is behind.
async fn read_replica(state: &AppState) -> ReplicaHealth {
    let checked = tokio::time::timeout(CHECK_TIMEOUT, async {
        let mut conn = state.read_pool.get().await.map_err(|e| e.to_string())?;
        db::replica::replay_lag_ms(&mut conn)
            .await
            .map_err(|e| e.to_string())
    })
    .await
    .unwrap_or_else(|_| Err(format!("no answer within {CHECK_TIMEOUT:?}")));
    ReplicaHealth {
        database: DependencyHealth::of(&checked.as_ref().map(drop)),
        replay_lag_ms: checked.ok().flatten(),
    }
}

/// Liveness.
#[utoipa::path(
    get, path = IN_TABLE,
    responses((status = 200, description = "Alive", body = AliveResponse)),
)]
pub async fn healthz(_: Request) -> Response {
    warp::reply::json(&AliveResponse::default()).into_response()
}

/// Prometheus metrics.
#[utoipa::path(
    get, path = IN_TABLE,
    responses((status = 200, description = "Text exposition format", body = String, content_type = "text/plain")),
)]
/// The API's own metrics plus the pending dead letters, the offsets lost per partition and the
/// retention enforcer's last run, read on one connection within one timeout (all omitted while
/// PostgreSQL is down).
pub async fn metrics(request: Request) -> Response {
    let state = request.state;
    let from_database = tokio::time::timeout(CHECK_TIMEOUT, async {
        let mut conn = state.pool.get().await.ok()?;
        let pending = dead_letters::pending(&mut conn, &state.kafka.group)
            .await
            .ok()?;
        let rows = progress::all(&mut conn, &state.kafka.group, &state.kafka.topic)
            .await
            .ok()?;
        let retention = retention::status(&mut conn).await.ok().flatten();
        Some((pending, rows, retention))
    })
    .await
    .ok()
    .flatten();
    let mut text = state.metrics.render();
    if state.has_read_replica {
        if let Some(lag_ms) = read_replica(&state).await.replay_lag_ms {
            text += &crate::metrics::replica_lag_gauge(lag_ms);
        }
    }
    if let Some((pending, rows, retention)) = from_database {
        text += &crate::metrics::dead_letter_gauges(&pending);
        text += &crate::metrics::lost_gauges(&rows);
        if let Some(status) = retention {
            text += &crate::metrics::retention_gauges(&status);
        }
    }
    warp::reply::with_header(text, "content-type", logagg_core::metrics::CONTENT_TYPE)
        .into_response()
}
