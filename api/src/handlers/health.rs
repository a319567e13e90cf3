//! `GET /health` (ready: broker and database answer), `GET /healthz` (alive), `GET /metrics`.

use std::time::Duration;

use diesel_async::RunQueryDsl;
use serde_json::{json, Value};
use warp::http::StatusCode;
use warp::reply::Response;
use warp::Reply;

use crate::state::AppState;

const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

pub async fn health(state: AppState) -> Response {
    let database = async {
        let mut conn = state.pool.get().await.map_err(|e| e.to_string())?;
        diesel::sql_query("SELECT 1")
            .execute(&mut conn)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    let database = tokio::time::timeout(CHECK_TIMEOUT, database)
        .await
        .unwrap_or_else(|_| Err("timed out".into()));
    let producer = state.producer.clone();
    let broker = tokio::task::spawn_blocking(move || {
        producer
            .broker_reachable(CHECK_TIMEOUT)
            .map_err(|e| e.to_string())
    })
    .await
    .unwrap_or_else(|e| Err(e.to_string()));
    let healthy = database.is_ok() && broker.is_ok();
    let body = json!({
        "status": if healthy { "healthy" } else { "unhealthy" },
        "broker": part(&broker),
        "database": part(&database),
        "uptime_seconds": state.started.elapsed().as_secs(),
    });
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    warp::reply::with_status(warp::reply::json(&body), status).into_response()
}

fn part(result: &Result<(), String>) -> Value {
    match result {
        Ok(()) => json!("ok"),
        Err(error) => json!({"status": "down", "error": error}),
    }
}

pub fn healthz() -> Response {
    warp::reply::json(&json!({"status": "alive"})).into_response()
}

pub fn metrics(state: AppState) -> Response {
    warp::reply::with_header(
        state.metrics.render(),
        "content-type",
        "text/plain; version=0.0.4",
    )
    .into_response()
}
