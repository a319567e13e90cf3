//! The consumer's own HTTP endpoints: `/healthz` (alive), `/health` (ready: broker and
//! database answer and the last batch reached PostgreSQL) and `/metrics` (Prometheus).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use logagg_core::db;
use rdkafka::consumer::Consumer;
use rdkafka::Offset;
use serde_json::json;
use tokio::sync::watch;
use warp::http::StatusCode;
use warp::Filter;

use crate::metrics::Metrics;
use crate::worker::{DbState, GroupConsumer};

const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// What the endpoints need.
#[derive(Clone)]
pub struct HealthState {
    pub consumer: Arc<GroupConsumer>,
    pub pool: db::Pool,
    pub topic: String,
    /// For failure messages.
    pub brokers: String,
    pub metrics: Metrics,
    pub db_state: watch::Receiver<DbState>,
}

/// Binds `addr` and serves until `shutdown`; returns the bound address.
pub fn serve(
    addr: SocketAddr,
    state: HealthState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<(SocketAddr, impl Future<Output = ()>)> {
    let with_state = warp::any().map(move || state.clone());
    let healthz = warp::path!("healthz")
        .and(warp::get())
        .map(|| warp::reply::json(&json!({"status": "alive"})));
    let health = warp::path!("health")
        .and(warp::get())
        .and(with_state.clone())
        .then(health);
    let metrics = warp::path!("metrics")
        .and(warp::get())
        .and(with_state)
        .then(metrics);
    let routes = healthz.or(health).or(metrics);
    let (bound, server) = warp::serve(routes).try_bind_with_graceful_shutdown(addr, shutdown)?;
    Ok((bound, server))
}

async fn health(state: HealthState) -> warp::reply::WithStatus<warp::reply::Json> {
    let database = crate::store::ping(&state.pool).await;
    let consumer = state.consumer.clone();
    let (topic, brokers) = (state.topic.clone(), state.brokers.clone());
    let broker = tokio::task::spawn_blocking(move || {
        logagg_core::kafka::broker_reachable(consumer.client(), &topic, CHECK_TIMEOUT)
            .map_err(|e| logagg_core::kafka::explain(&e, &brokers, &topic))
    })
    .await
    .unwrap_or_else(|e| Err(e.to_string()));
    let writing = *state.db_state.borrow() == DbState::Ok;
    let ready = database.is_ok() && broker.is_ok() && writing;
    let body = json!({
        "status": if ready { "healthy" } else { "unhealthy" },
        "database": status_of(&database),
        "broker": status_of(&broker),
        "batches": if writing { "ok" } else { "retrying" },
    });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    warp::reply::with_status(warp::reply::json(&body), status)
}

fn status_of(result: &Result<(), String>) -> serde_json::Value {
    match result {
        Ok(()) => json!("ok"),
        Err(error) => json!({"status": "down", "error": error}),
    }
}

async fn metrics(state: HealthState) -> impl warp::Reply {
    let consumer = state.consumer.clone();
    let topic = state.topic.clone();
    let lag_gauge = state.metrics.lag.clone();
    let _ = tokio::task::spawn_blocking(move || {
        lag_gauge.reset();
        let Ok(position) = consumer.position() else {
            return;
        };
        for element in position.elements_for_topic(&topic) {
            let Ok((_, high)) =
                consumer.fetch_watermarks(&topic, element.partition(), CHECK_TIMEOUT)
            else {
                continue;
            };
            if let Offset::Offset(at) = element.offset() {
                lag_gauge
                    .with_label_values(&[&element.partition().to_string()])
                    .set((high - at).max(0));
            }
        }
    })
    .await;
    warp::reply::with_header(
        state.metrics.render(),
        "content-type",
        "text/plain; version=0.0.4",
    )
}
