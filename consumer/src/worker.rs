//! The batch loop: collect a batch, store it in PostgreSQL (retrying with backoff while the
//! database fails, partitions paused, still polling so the group keeps us), then commit the
//! Kafka offsets. Kafka offsets only ever move after the database transaction committed.
//! Group membership (rebalances, seeding, commits) lives in [`crate::group`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use logagg_core::backoff::backoff;
use logagg_core::config::ConsumerConfig;
use logagg_core::shutdown::Signal;
use rdkafka::consumer::Consumer;
use rdkafka::message::Message;

use crate::batch::{self, DecodedRecord, RawRecord, Tally};
use crate::group::{self, GroupConsumer};
use crate::metrics::Metrics;
use crate::store::{BatchStore, StageTimes};

/// Longest a single batch transaction may take before it is abandoned (rolled back) and retried.
const BATCH_TIMEOUT: Duration = Duration::from_secs(60);
/// Failed attempts of a whole batch, with the database answering, before its records are
/// written one by one to find a poison record.
const POISON_AFTER_ATTEMPTS: u32 = 2;
/// First retry delay while PostgreSQL fails.
const RETRY_BASE: Duration = Duration::from_millis(100);

/// One consumer-group member's batch loop.
pub struct Worker {
    pub consumer: Arc<GroupConsumer>,
    pub store: BatchStore,
    pub config: ConsumerConfig,
    pub metrics: Metrics,
    pub shutdown: Signal,
}

impl Worker {
    /// Consumes until the shutdown signal; the batch in hand is finished (or, if the database is
    /// down, abandoned uncommitted) and its offsets committed before leaving the group.
    pub async fn run(self) -> anyhow::Result<()> {
        self.consumer.subscribe(&[&self.store.topic])?;
        tracing::info!(topic = %self.store.topic, group = %self.store.group, "consuming");
        loop {
            let records = tokio::select! {
                biased;
                _ = self.shutdown.clone().fired() => break,
                records = self.collect_batch() => records,
            };
            if records.is_empty() {
                continue;
            }
            if !self.process(records).await {
                break;
            }
        }
        self.consumer.unsubscribe();
        tracing::info!("left the group");
        Ok(())
    }

    /// Decodes, stores and commits one batch; false when it was abandoned for shutdown.
    async fn process(&self, records: Vec<RawRecord>) -> bool {
        let started = Instant::now();
        let decoded = batch::decode(records);
        self.metrics.observe_stage("decode", started.elapsed());
        let Some((tally, times)) = self.store_with_retry(decoded).await else {
            return false;
        };
        self.metrics.set_ready(true);
        self.metrics.record_batch(&tally.total);
        report_gaps(&self.metrics, &tally.gaps);
        self.metrics.observe_stage("lock", times.lock);
        self.metrics.observe_stage("insert", times.insert);
        self.metrics.observe_stage("counters", times.counters);
        let committed_at = Instant::now();
        let next_offsets = tally.partitions.iter().map(|(p, (_, next))| (*p, *next));
        // When leaving, the commit must land before the member does.
        let leaving = self.shutdown.is_fired();
        group::commit_offsets(&self.consumer, &self.store.topic, next_offsets, leaving);
        self.metrics
            .observe_stage("kafka_commit", committed_at.elapsed());
        self.metrics.observe_stage("batch", started.elapsed());
        true
    }

    /// Stores the batch, retrying with capped backoff while it fails: partitions paused, still
    /// polling (a partition assigned meanwhile may deliver; its records join the batch). After
    /// repeated failures with the database up, isolates the poison record. `None` when shutdown
    /// came first: nothing was committed, the batch will be re-read.
    async fn store_with_retry(
        &self,
        mut decoded: Vec<DecodedRecord>,
    ) -> Option<(Tally, StageTimes)> {
        let mut attempt = 0u32;
        let stored = loop {
            let error =
                match tokio::time::timeout(BATCH_TIMEOUT, self.store.write_batch(&decoded)).await {
                    Ok(Ok(stored)) => break Some(stored),
                    Ok(Err(error)) => error.to_string(),
                    Err(_) => format!("batch transaction exceeded {BATCH_TIMEOUT:?}"),
                };
            // The batch keeps failing although PostgreSQL answers: some record in it is refused
            // by the database. Write record by record so that one is dead-lettered.
            if attempt >= POISON_AFTER_ATTEMPTS && self.store.ping().await.is_ok() {
                tracing::warn!(%error, "batch keeps failing with the database up; isolating the record at fault");
                match self.store.write_isolating_poison(&decoded).await {
                    Ok(stored) => break Some(stored),
                    Err(error) => tracing::warn!(%error, "isolation interrupted"),
                }
            }
            if self.shutdown.is_fired() {
                tracing::warn!(%error, "shutting down with the batch uncommitted; it will be re-read");
                break None;
            }
            self.metrics.record_retry();
            self.metrics.set_ready(false);
            if attempt == 0 {
                group::pause_all(&self.consumer);
            }
            let delay = backoff(attempt, RETRY_BASE, self.config.retry_max);
            tracing::warn!(%error, attempt, retry_in = ?delay, "batch failed; partitions paused, retrying");
            attempt += 1;
            self.poll_while_waiting(delay, &mut decoded).await;
        };
        if attempt > 0 {
            group::resume_all(&self.consumer);
        }
        stored
    }

    /// Keeps polling for `delay` (or until shutdown) so the group keeps this member. Paused
    /// partitions deliver nothing, but a partition assigned meanwhile may: its records join the
    /// pending batch (and it is paused too), never dropped.
    async fn poll_while_waiting(&self, delay: Duration, decoded: &mut Vec<DecodedRecord>) {
        let wait_until = tokio::time::Instant::now() + delay;
        loop {
            let polled = tokio::select! {
                polled = tokio::time::timeout_at(wait_until, self.consumer.recv()) => polled,
                _ = self.shutdown.clone().fired() => return,
            };
            let Ok(message) = polled else { return };
            let mut arrived = Vec::new();
            push_record(&mut arrived, message);
            decoded.extend(batch::decode(arrived));
            group::pause_all(&self.consumer);
        }
    }

    /// Gathers up to `batch_records` records, waiting at most `batch_wait` after the first one.
    async fn collect_batch(&self) -> Vec<RawRecord> {
        let mut records = Vec::new();
        push_record(&mut records, self.consumer.recv().await);
        let deadline = tokio::time::Instant::now() + self.config.batch_wait;
        while records.len() < self.config.batch_records {
            match tokio::time::timeout_at(deadline, self.consumer.recv()).await {
                Ok(message) => push_record(&mut records, message),
                Err(_) => break,
            }
        }
        records
    }
}

/// One error per hole in the log, once its `lost` count is committed: an operator must learn
/// that retention (or a deleteRecords) outran the consumers, and which offsets are gone.
fn report_gaps(metrics: &Metrics, gaps: &[batch::Gap]) {
    for gap in gaps {
        metrics.record_lost(gap.partition, gap.len());
        tracing::error!(
            partition = gap.partition,
            first_missing = gap.from,
            last_missing = gap.to - 1,
            lost = gap.len(),
            "records deleted by the broker before they were stored (retention shorter than the consumers' downtime?); counted as lost, consuming on"
        );
    }
}

fn push_record(
    records: &mut Vec<RawRecord>,
    message: Result<rdkafka::message::BorrowedMessage<'_>, rdkafka::error::KafkaError>,
) {
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
}
