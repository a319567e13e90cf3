//! The consumer's own HTTP endpoints: `/healthz` (alive), `/health` (ready: broker and
//! database answer and the last batch reached PostgreSQL) and `/metrics` (Prometheus).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use logagg_core::contract::{
    AliveResponse, BatchesState, DependencyHealth, HealthResponse, HealthStatus,
};
use logagg_core::db;
use rdkafka::consumer::Consumer;
use warp::http::StatusCode;
use warp::Filter;

use crate::group::GroupConsumer;
use crate::metrics::Metrics;

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
        .map(|| warp::reply::json(&AliveResponse::default()));
    let health = warp::path!("health")
        .and(warp::get())
        .and(with_state.clone())
        .then(health);
    let metrics =
        warp::path!("metrics")
            .and(warp::get())
            .and(with_state)
            .map(|state: HealthState| {
                warp::reply::with_header(
                    state.metrics.render(),
                    "content-type",
                    logagg_core::metrics::CONTENT_TYPE,
                )
            });
    let routes = healthz.or(health).or(metrics);
    let (bound, server) = warp::serve(routes).try_bind_with_graceful_shutdown(addr, shutdown)?;
    Ok((bound, server))
}

async fn health(state: HealthState) -> warp::reply::WithStatus<warp::reply::Json> {
    let database = db::ping(&state.pool).await;
    let consumer = state.consumer.clone();
    let (topic, brokers) = (state.topic.clone(), state.brokers.clone());
    let broker = tokio::task::spawn_blocking(move || {
        logagg_core::kafka::broker_reachable(consumer.client(), &topic, CHECK_TIMEOUT)
            .map_err(|e| logagg_core::kafka::explain(&e, &brokers, &topic))
    })
    .await
    .unwrap_or_else(|e| Err(e.to_string()));
    let writing = state.metrics.is_ready();
    let ready = database.is_ok() && broker.is_ok() && writing;
    let body = HealthResponse {
        read_replica: None,
        batches: Some(if writing {
            BatchesState::Ok
        } else {
            BatchesState::Retrying
        }),
        broker: DependencyHealth::of(&broker),
        database: DependencyHealth::of(&database),
        retention: None,
        status: HealthStatus::of(ready),
        uptime_seconds: None,
    };
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    warp::reply::with_status(warp::reply::json(&body), status)
}
