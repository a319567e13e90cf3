//! `GET /health` (ready: broker and database answer), `GET /healthz` (alive), `GET /metrics`.

use std::time::Duration;

use diesel_async::RunQueryDsl;
use serde_json::{json, Value};
use warp::http::StatusCode;
use warp::reply::Response;
use warp::Reply;

use logagg_core::db::dead_letters;

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

/// The API's own metrics plus the pending dead letters (omitted while PostgreSQL is down).
pub async fn metrics(state: AppState) -> Response {
    let pending = tokio::time::timeout(CHECK_TIMEOUT, async {
        let mut conn = state.pool.get().await.ok()?;
        dead_letters::pending(&mut conn, &state.kafka.group)
            .await
            .ok()
    })
    .await
    .ok()
    .flatten();
    let mut text = state.metrics.render();
    if let Some(pending) = pending {
        text += &format!(
            "# HELP logagg_dead_letters Dead letters not retried yet.\n\
             # TYPE logagg_dead_letters gauge\n\
             logagg_dead_letters {}\n\
             # HELP logagg_dead_letter_oldest_age_seconds Age of the oldest dead letter not retried yet (0 when none).\n\
             # TYPE logagg_dead_letter_oldest_age_seconds gauge\n\
             logagg_dead_letter_oldest_age_seconds {}\n",
            pending.count,
            pending.oldest_age_seconds.unwrap_or(0.0)
        );
    }
    warp::reply::with_header(text, "content-type", "text/plain; version=0.0.4").into_response()
}
