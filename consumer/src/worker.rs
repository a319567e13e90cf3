//! The consumer-group loop: collect a batch, write it to PostgreSQL (retrying with backoff while
//! the database fails, partitions paused, still polling so the group keeps us), then commit the
//! Kafka offsets. Kafka offsets only ever move after the database transaction committed.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use logagg_core::config::{ConsumerConfig, KafkaConfig};
use logagg_core::db::{self, progress};
use rand::Rng;
use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer,
};
use rdkafka::message::Message;
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use tokio::sync::watch;

use crate::batch::{self, RawRecord};
use crate::metrics::Metrics;
use crate::store;

/// Longest a single batch transaction may take before it is abandoned (rolled back) and retried.
const BATCH_TIMEOUT: Duration = Duration::from_secs(60);
/// Failed attempts of a whole batch, with the database answering, before its records are
/// written one by one to find a poison record.
const POISON_AFTER_ATTEMPTS: u32 = 2;
/// First retry delay while PostgreSQL fails.
const RETRY_BASE: Duration = Duration::from_millis(100);

/// Next offsets whose batches are committed in PostgreSQL, per partition: what a revoke commits.
type DbPositions = Arc<Mutex<BTreeMap<i32, i64>>>;

/// Commits stored positions when partitions are revoked, and logs assignments.
pub struct GroupContext {
    topic: String,
    positions: DbPositions,
}

impl ClientContext for GroupContext {
    // Statistics are enabled for every group consumer (`logagg_core::kafka`); ignored here.
    fn stats(&self, _statistics: rdkafka::statistics::Statistics) {}
}

impl ConsumerContext for GroupContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(revoked) = rebalance {
            if consumer.assignment_lost() {
                // Session lost (broker unreachable, or we stalled): the group already gave the
                // partitions away, so a commit would be refused; and waiting on one here, with
                // no coordinator, would block the poll loop.
                tracing::warn!(partitions = ?partitions_of(revoked), "assignment lost");
                return;
            }
            let positions = self.positions.lock().expect("positions lock");
            let mut tpl = TopicPartitionList::new();
            for element in revoked.elements() {
                if let Some(next) = positions.get(&element.partition()) {
                    let _ = tpl.add_partition_offset(
                        &self.topic,
                        element.partition(),
                        Offset::Offset(*next),
                    );
                }
            }
            drop(positions);
            // Asynchronous: the database is the authority, so a commit that lands late only
            // makes the next owner re-read a few records (counted as replayed), while a
            // synchronous one could stall the rebalance on a slow coordinator.
            if tpl.count() > 0 {
                if let Err(error) = consumer.commit(&tpl, CommitMode::Async) {
                    tracing::warn!(%error, "commit on revoke failed; the next owner re-reads (counted as replayed)");
                }
            }
            tracing::info!(partitions = ?partitions_of(revoked), "partitions revoked");
        }
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(assigned) = rebalance {
            tracing::info!(partitions = ?partitions_of(assigned), "partitions assigned");
        }
    }
}

fn partitions_of(tpl: &TopicPartitionList) -> Vec<i32> {
    tpl.elements().iter().map(|e| e.partition()).collect()
}

/// The Kafka consumer type of the worker.
pub type GroupConsumer = StreamConsumer<GroupContext>;

/// Creates the group consumer: manual commits, cooperative-sticky assignment, earliest reset.
pub fn create_consumer(
    kafka: &KafkaConfig,
    config: &ConsumerConfig,
) -> anyhow::Result<Arc<GroupConsumer>> {
    let context = GroupContext {
        topic: kafka.topic.clone(),
        positions: Arc::default(),
    };
    let consumer: GroupConsumer =
        logagg_core::kafka::group_consumer_config(kafka, config).create_with_context(context)?;
    Ok(Arc::new(consumer))
}

/// Where no committed group offset exists for a partition (new group, expired offsets) but the
/// database knows how far it got, commit the database's next offset, so the group starts there
/// rather than at the earliest record. Best effort: only works while the group has no members.
pub async fn seed_group_offsets(
    consumer: &GroupConsumer,
    pool: &db::Pool,
    kafka: &KafkaConfig,
) -> anyhow::Result<()> {
    let mut conn = pool.get().await?;
    let stored = progress::all(&mut conn, &kafka.group, &kafka.topic).await?;
    drop(conn);
    if stored.is_empty() {
        return Ok(());
    }
    let mut wanted = TopicPartitionList::new();
    for row in &stored {
        wanted.add_partition(&kafka.topic, row.kafka_partition);
    }
    let committed = consumer.committed_offsets(wanted, Duration::from_secs(10))?;
    let mut seed = TopicPartitionList::new();
    for row in &stored {
        let has_offset = committed
            .find_partition(&kafka.topic, row.kafka_partition)
            .map(|e| matches!(e.offset(), Offset::Offset(_)))
            .unwrap_or(false);
        if !has_offset {
            seed.add_partition_offset(
                &kafka.topic,
                row.kafka_partition,
                Offset::Offset(row.next_offset),
            )?;
        }
    }
    if seed.count() > 0 {
        match consumer.commit(&seed, CommitMode::Sync) {
            Ok(()) => tracing::info!(
                partitions = seed.count(),
                "seeded group offsets from the database"
            ),
            Err(error) => {
                tracing::info!(%error, "group offsets not seeded (group has members); starting at the reset position")
            }
        }
    }
    Ok(())
}

/// Readiness the health endpoint reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbState {
    Ok,
    Failing,
}

/// Runs the consume loop until `shutdown` resolves; the batch in hand is finished (or, if the
/// database is down, abandoned uncommitted) and its offsets committed before returning.
pub async fn run(
    consumer: Arc<GroupConsumer>,
    pool: db::Pool,
    kafka: KafkaConfig,
    config: ConsumerConfig,
    metrics: Metrics,
    db_state: watch::Sender<DbState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (stop_tx, mut stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    consumer.subscribe(&[&kafka.topic])?;
    tracing::info!(topic = %kafka.topic, group = %kafka.group, "consuming");
    let mut stopping = false;
    loop {
        let records = tokio::select! {
            records = collect_batch(&consumer, config.batch_records, config.batch_wait) => records?,
            _ = stop_rx.changed(), if !stopping => { stopping = *stop_rx.borrow(); Vec::new() }
        };
        if records.is_empty() {
            if stopping {
                break;
            }
            continue;
        }
        let started = Instant::now();
        let mut decoded = batch::decode(records);
        metrics.observe_stage("decode", started.elapsed());
        let mut attempt = 0u32;
        let tally = loop {
            let result = tokio::time::timeout(
                BATCH_TIMEOUT,
                store::write_batch(&pool, &kafka.group, &kafka.topic, &decoded, &metrics),
            )
            .await;
            let error = match result {
                Ok(Ok(tally)) => break Some(tally),
                Ok(Err(error)) => error.to_string(),
                Err(_) => format!("batch transaction exceeded {BATCH_TIMEOUT:?}"),
            };
            // The batch keeps failing although PostgreSQL answers: some record in it is refused
            // by the database. Write record by record so that one is dead-lettered.
            if attempt >= POISON_AFTER_ATTEMPTS && store::ping(&pool).await.is_ok() {
                tracing::warn!(%error, "batch keeps failing with the database up; isolating the record at fault");
                match store::write_isolating_poison(
                    &pool,
                    &kafka.group,
                    &kafka.topic,
                    &decoded,
                    &metrics,
                )
                .await
                {
                    Ok(tally) => break Some(tally),
                    Err(error) => tracing::warn!(%error, "isolation interrupted"),
                }
            }
            if *stop_rx.borrow_and_update() {
                tracing::warn!(%error, "shutting down with the batch uncommitted; it will be re-read");
                break None;
            }
            metrics.record_retry();
            metrics.ready.set(0);
            let _ = db_state.send(DbState::Failing);
            if attempt == 0 {
                pause_all(&consumer);
            }
            let delay = backoff(attempt, config.retry_max);
            tracing::warn!(%error, attempt, retry_in = ?delay, "batch failed; partitions paused, retrying");
            attempt += 1;
            // Keep polling so the group keeps this member. Paused partitions deliver nothing,
            // but a partition assigned meanwhile may: its records join the pending batch (and
            // it is paused too), never dropped.
            let wait_until = tokio::time::Instant::now() + delay;
            loop {
                let polled = tokio::select! {
                    polled = tokio::time::timeout_at(wait_until, consumer.recv()) => polled,
                    _ = stop_rx.changed() => break,
                };
                let Ok(message) = polled else { break };
                let mut arrived = Vec::new();
                push_record(&mut arrived, message)?;
                decoded.extend(batch::decode(arrived));
                pause_all(&consumer);
            }
            if !stopping && *stop_rx.borrow() {
                stopping = true;
            }
        };
        if attempt > 0 {
            resume_all(&consumer);
        }
        let Some(tally) = tally else { break };
        let _ = db_state.send(DbState::Ok);
        metrics.ready.set(1);
        metrics.record_batch(&tally.total);
        let committed_at = Instant::now();
        commit_offsets(&consumer, &kafka.topic, &tally, stopping);
        metrics.observe_stage("kafka_commit", committed_at.elapsed());
        metrics.observe_stage("batch", started.elapsed());
        if stopping {
            break;
        }
    }
    consumer.unsubscribe();
    tracing::info!("left the group");
    Ok(())
}

/// Gathers up to `max` records, waiting at most `wait` after the first one.
async fn collect_batch(
    consumer: &GroupConsumer,
    max: usize,
    wait: Duration,
) -> anyhow::Result<Vec<RawRecord>> {
    let mut records = Vec::new();
    let first = consumer.recv().await;
    push_record(&mut records, first)?;
    let deadline = tokio::time::Instant::now() + wait;
    while records.len() < max {
        match tokio::time::timeout_at(deadline, consumer.recv()).await {
            Ok(message) => push_record(&mut records, message)?,
            Err(_) => break,
        }
    }
    Ok(records)
}

fn push_record(
    records: &mut Vec<RawRecord>,
    message: Result<rdkafka::message::BorrowedMessage<'_>, rdkafka::error::KafkaError>,
) -> anyhow::Result<()> {
    match message {
        Ok(message) => records.push(RawRecord {
            partition: message.partition(),
            offset: message.offset(),
            key: message.key().map(<[u8]>::to_vec),
            value: message.payload().map(<[u8]>::to_vec),
        }),
        // Transient broker errors surface here; librdkafka retries by itself.
        Err(error) => tracing::warn!(%error, "kafka consume error"),
    }
    Ok(())
}

fn commit_offsets(consumer: &GroupConsumer, topic: &str, tally: &batch::Tally, sync: bool) {
    let mut tpl = TopicPartitionList::new();
    {
        let mut positions = consumer.context().positions.lock().expect("positions lock");
        for (partition, (_, next)) in &tally.partitions {
            positions.insert(*partition, *next);
            let _ = tpl.add_partition_offset(topic, *partition, Offset::Offset(*next));
        }
    }
    let mode = if sync {
        CommitMode::Sync
    } else {
        CommitMode::Async
    };
    if let Err(error) = consumer.commit(&tpl, mode) {
        // The database already holds the batch; a lost commit only means a harmless re-read.
        tracing::warn!(%error, "kafka offset commit failed");
    }
}

fn pause_all(consumer: &GroupConsumer) {
    if let Ok(assignment) = consumer.assignment() {
        if let Err(error) = consumer.pause(&assignment) {
            tracing::warn!(%error, "pause failed");
        }
    }
}

fn resume_all(consumer: &GroupConsumer) {
    if let Ok(assignment) = consumer.assignment() {
        if let Err(error) = consumer.resume(&assignment) {
            tracing::warn!(%error, "resume failed");
        }
    }
}

/// Capped exponential backoff with jitter (half fixed, half random).
fn backoff(attempt: u32, cap: Duration) -> Duration {
    let exp = RETRY_BASE
        .saturating_mul(1u32 << attempt.min(16))
        .min(cap.max(RETRY_BASE));
    let half = exp / 2;
    half + Duration::from_millis(rand::rng().random_range(0..=half.as_millis() as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let cap = Duration::from_secs(5);
        assert!(backoff(0, cap) <= RETRY_BASE);
        assert!(backoff(3, cap) >= RETRY_BASE * 4);
        for attempt in 0..50 {
            assert!(backoff(attempt, cap) <= cap);
        }
    }
}
