//! logagg-consumer: the consumer-group worker that stores events from Kafka in PostgreSQL
//! exactly once, with exact counters, committing Kafka offsets only after the database commit.
//!
//! - [`batch`]: pure decode/classify/tally logic (unit-tested);
//! - [`store`]: the one-transaction batch write;
//! - [`worker`]: the Kafka loop (batching, retries, pause/resume, commits, rebalances);
//! - [`health`]: `/healthz`, `/health`, `/metrics`;
//! - [`replay`]: resetting the group's offsets for a replay or a rebuild.

pub mod batch;
pub mod health;
pub mod metrics;
pub mod replay;
pub mod store;
pub mod worker;

use std::future::Future;

use logagg_core::config::{ConsumerConfig, DatabaseConfig, KafkaConfig};
use logagg_core::{db, shutdown};
use tokio::sync::watch;

/// Runs a consumer (health server included) until `shutdown` resolves.
pub async fn run(
    kafka: KafkaConfig,
    database: DatabaseConfig,
    config: ConsumerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    use anyhow::Context;
    // Wrong credentials or certificates stop the start here, with the cause.
    logagg_core::broker_access::check_at_start(&kafka)
        .await
        .map_err(anyhow::Error::msg)?;
    db::run_migrations(&database.url)
        .await
        .context("applying database migrations")?;
    let pool = db::connect(&database)?;
    let consumer = worker::create_consumer(&kafka, &config)?;
    if let Err(error) = worker::seed_group_offsets(&consumer, &pool, &kafka).await {
        tracing::warn!(%error, "could not compare group offsets with the database");
    }
    let metrics = metrics::Metrics::new();
    let (db_state_tx, db_state_rx) = watch::channel(worker::DbState::Ok);
    let (stop_health_tx, stop_health) = tokio::sync::oneshot::channel::<()>();
    let health_signal = shutdown::Signal::new(async {
        let _ = stop_health.await;
    });
    let (addr, server) = health::serve(
        config.addr,
        health::HealthState {
            consumer: consumer.clone(),
            pool: pool.clone(),
            topic: kafka.topic.clone(),
            metrics: metrics.clone(),
            db_state: db_state_rx,
        },
        health_signal.clone().fired(),
    )
    .with_context(|| format!("binding {}", config.addr))?;
    tracing::info!(%addr, "consumer health and metrics listening");
    let server = tokio::spawn(server);
    let result = worker::run(
        consumer,
        pool,
        kafka,
        config,
        metrics,
        db_state_tx,
        shutdown,
    )
    .await;
    let _ = stop_health_tx.send(());
    let server = async {
        let _ = server.await;
    };
    shutdown::run_with_grace(server, health_signal, shutdown::GRACE).await;
    result
}
