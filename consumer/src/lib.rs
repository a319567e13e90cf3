//! logagg-consumer: the consumer-group worker that stores events from Kafka in PostgreSQL
//! exactly once, with exact counters, committing Kafka offsets only after the database commit.
//!
//! - [`batch`]: pure decode/classify/tally logic (unit-tested);
//! - [`store`]: the one-transaction batch write ([`store::BatchStore`]);
//! - [`group`]: group membership (rebalances, offset seeding, commits, the lag gauge);
//! - [`worker`]: the batch loop (collect, store with retries, commit);
//! - [`health`]: `/healthz`, `/health`, `/metrics`;
//! - [`replay`]: resetting the group's offsets for a replay or a rebuild.

pub mod batch;
pub mod group;
pub mod health;
pub mod metrics;
pub mod replay;
pub mod store;
pub mod worker;

use std::future::Future;

use anyhow::Context;
use logagg_core::config::{ConsumerConfig, DatabaseConfig, KafkaConfig};
use logagg_core::{db, shutdown};

/// Runs a consumer (health server included) until `shutdown` resolves.
pub async fn run(
    kafka: KafkaConfig,
    database: DatabaseConfig,
    config: ConsumerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    // Wrong credentials or certificates stop the start here, with the cause.
    logagg_core::broker_access::check_at_start(&kafka)
        .await
        .map_err(anyhow::Error::msg)?;
    db::run_migrations(&database.url)
        .await
        .context("applying database migrations")?;
    let store = store::BatchStore::new(db::connect(&database)?, &kafka);
    let metrics = metrics::Metrics::new();
    let consumer = group::create_consumer(&kafka, &config, metrics.lag.clone())?;
    let seeded = async {
        let stored = store.stored_progress().await?;
        group::seed_group_offsets(&consumer, &kafka.topic, &stored)
    };
    if let Err(error) = seeded.await {
        tracing::warn!(%error, "could not compare group offsets with the database");
    }
    // The health server outlives the loop: it stops once the member has left the group.
    let (stop_health, health_signal) = shutdown::Signal::manual();
    let (addr, server) = health::serve(
        config.addr,
        health::HealthState {
            consumer: consumer.clone(),
            pool: store.pool.clone(),
            topic: kafka.topic.clone(),
            metrics: metrics.clone(),
        },
        health_signal.clone().fired(),
    )
    .with_context(|| format!("binding {}", config.addr))?;
    tracing::info!(%addr, "consumer health and metrics listening");
    let server = tokio::spawn(server);
    let worker = worker::Worker {
        consumer,
        store,
        config,
        metrics,
        shutdown: shutdown::Signal::new(shutdown),
    };
    let result = worker.run().await;
    stop_health.fire();
    let server = async {
        let _ = server.await;
    };
    shutdown::run_with_grace(server, health_signal, shutdown::GRACE).await;
    result
}
