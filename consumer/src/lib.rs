//! logagg-consumer: the consumer-group worker that stores events from Kafka in PostgreSQL
//! exactly once, with exact counters, committing Kafka offsets only after the database commit.
//!
//! - [`batch`]: pure decode/classify/tally logic (unit-tested);
//! - [`store`]: the one-transaction batch write ([`store::BatchStore`]);
//! - [`shard`]: splitting a batch into shares of whole partitions, written in parallel;
//! - [`group`]: group membership (rebalances, offset seeding, commits, the lag gauge);
//! - [`worker`]: the batch loop (collect the next batch while storing this one, with retries,
//!   then commit);
//! - [`health`]: `/healthz`, `/health`, `/metrics`;
//! - [`replay`]: resetting the group's offsets for a replay or a rebuild;
//! - [`retention`]: the retention enforcer (one per fleet, under an advisory lock).

pub mod batch;
pub mod group;
pub mod health;
pub mod metrics;
pub mod replay;
pub mod retention;
pub mod shard;
pub mod store;
pub mod worker;

use std::future::Future;

use anyhow::Context;
use logagg_core::config::{ConsumerConfig, DatabaseConfig, KafkaConfig};
use logagg_core::shutdown;

/// Stops the start when the broker says the topic does not exist (logagg never creates it, so
/// waiting would wait forever); a broker that does not answer yet is waited for by the loop.
async fn refuse_missing_topic(
    consumer: &std::sync::Arc<group::GroupConsumer>,
    kafka: &KafkaConfig,
) -> anyhow::Result<()> {
    use rdkafka::consumer::Consumer;
    let (client, topic) = (consumer.clone(), kafka.topic.clone());
    let checked = tokio::task::spawn_blocking(move || {
        logagg_core::kafka::broker_reachable(
            client.client(),
            &topic,
            std::time::Duration::from_secs(10),
        )
    })
    .await?;
    match checked {
        Err(error) if logagg_core::kafka::is_missing_topic(&error) => Err(anyhow::anyhow!(
            logagg_core::kafka::explain(&error, &kafka.brokers, &kafka.topic)
        )),
        _ => Ok(()),
    }
}

/// Runs a consumer (health server included) until `shutdown` resolves.
pub async fn run(
    kafka: KafkaConfig,
    database: DatabaseConfig,
    config: ConsumerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let pool = logagg_core::startup::checked_pool(&kafka, &database).await?;
    let store = store::BatchStore::new(pool, &kafka);
    let metrics = metrics::Metrics::new();
    let consumer = group::create_consumer(&kafka, &config, metrics.lag.clone())?;
    refuse_missing_topic(&consumer, &kafka).await?;
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
            brokers: kafka.brokers.clone(),
            metrics: metrics.clone(),
        },
        health_signal.clone().fired(),
    )
    .with_context(|| format!("binding {}", config.addr))?;
    tracing::info!(%addr, "consumer health and metrics listening");
    let server = tokio::spawn(server);
    let worker_shutdown = shutdown::Signal::new(shutdown);
    // Retention runs beside the batch loop on its own connection and task.
    let enforcer = config.retention.enforce.then(|| {
        tokio::spawn(
            retention::Enforcer {
                database_url: database.url.clone(),
                group: kafka.group.clone(),
                kafka_topic: kafka.topic.clone(),
                config: config.retention.clone(),
                metrics: metrics.clone(),
                shutdown: worker_shutdown.clone(),
            }
            .run(),
        )
    });
    let worker = worker::Worker {
        consumer,
        store,
        config,
        metrics,
        shutdown: worker_shutdown,
    };
    let result = worker.run().await;
    if let Some(enforcer) = enforcer {
        // It stops at its next step or pause: the same shutdown fired.
        let _ = enforcer.await;
    }
    stop_health.fire();
    let server = async {
        let _ = server.await;
    };
    shutdown::run_with_grace(server, health_signal, shutdown::GRACE).await;
    result
}
