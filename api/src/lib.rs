//! logagg-api: the warp HTTP service. `route_table` lists the routes, `routes` holds the
//! filters, `handlers` the handlers, `errors` the single error-to-status mapping, `openapi` the
//! document generated from the handlers and `logagg_core::contract`.

pub mod auth;
pub mod body;
pub mod console;
pub mod errors;
pub mod handlers;
pub mod metrics;
pub mod openapi;
pub mod overload;
pub mod route_table;
pub mod routes;
pub mod state;
pub mod tail;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use logagg_core::config::{ApiConfig, DatabaseConfig, KafkaConfig, ProducerConfig};
use logagg_core::{db, shutdown};
use logagg_producer::EventProducer;

pub use state::AppState;

/// Builds the state: migrations, pool, producer.
pub async fn build_state(
    kafka: KafkaConfig,
    database: DatabaseConfig,
    producer: ProducerConfig,
    config: ApiConfig,
) -> anyhow::Result<AppState> {
    let auth = auth::Auth::load(config.token.as_ref(), config.tokens_file.clone())
        .map_err(anyhow::Error::msg)?;
    if auth.is_open() && !config.addr.ip().is_loopback() {
        tracing::warn!(addr = %config.addr, "no API token configured: anyone who reaches this address may publish and read (set LOGAGG_API_TOKENS_FILE or LOGAGG_API_TOKEN)");
    }
    auth.reload_on_sighup()
        .context("installing the SIGHUP handler")?;
    let pool = logagg_core::startup::checked_pool(&kafka, &database).await?;
    let read_pool = match &config.database_read_url {
        Some(url) => {
            let replica = DatabaseConfig {
                url: url.expose().to_owned(),
                pool_size: database.pool_size,
            };
            tracing::info!(replica = %replica.address(), "event reads go to the read replica");
            db::connect(&replica)?
        }
        None => pool.clone(),
    };
    let metrics = metrics::ApiMetrics::new();
    metrics.register(Box::new(auth.metric()));
    Ok(AppState {
        reads: tail::Reads::new(
            read_pool.clone(),
            config.max_streams,
            config.stream_heartbeat,
        ),
        publish_budget: {
            let budget = overload::PublishBudget::new(config.max_inflight_publish_bytes);
            metrics.register(Box::new(budget.shed.clone()));
            budget
        },
        pool,
        read_pool,
        has_read_replica: config.database_read_url.is_some(),
        producer: EventProducer::new(&kafka, &producer)?,
        kafka: Arc::new(kafka),
        config: Arc::new(config),
        metrics,
        auth,
        started: Instant::now(),
    })
}

/// Binds the configured address and returns it with the server future, which runs until
/// `shutdown` resolves and in-flight requests finish.
pub fn serve(
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<(SocketAddr, impl Future<Output = ()>)> {
    let addr = state.config.addr;
    let producer = state.producer.clone();
    let signal = shutdown::Signal::new(shutdown);
    let (bound, server) = warp::serve(routes::routes(state))
        .try_bind_with_graceful_shutdown(addr, signal.clone().fired())
        .with_context(|| format!("binding {addr}"))?;
    Ok((bound, async move {
        shutdown::run_with_grace(server, signal, shutdown::GRACE).await;
        // Deliver what is still queued before exiting.
        let _ = producer.flush(std::time::Duration::from_secs(5));
    }))
}
