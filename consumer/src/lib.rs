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

/// Stops the start when the broker says the topic does not exist (logagg never creates it, so
/// waiting would wait forever); a broker that does not answer yet is waited for by the loop.
async fn refuse_missing_topic(
    consumer: &std::sync::Arc<worker::GroupConsumer>,
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
    use anyhow::Context;
    db::run_migrations(&database.url)
        .await
        .with_context(|| format!("applying database migrations at {}", database.address()))?;
    let pool = db::connect(&database)?;
    let consumer = worker::create_consumer(&kafka, &config)?;
    refuse_missing_topic(&consumer, &kafka).await?;
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
            brokers: kafka.brokers.clone(),
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
