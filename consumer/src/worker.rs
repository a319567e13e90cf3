//! The batch loop: collect a batch, store it in PostgreSQL (retrying with backoff while the
//! database fails, partitions paused, still polling so the group keeps us), then commit the
//! Kafka offsets. Kafka offsets only ever move after the database transaction committed.
//! Group membership (rebalances, seeding, commits) lives in [`crate::group`].
//!
//! Two overlaps keep both PostgreSQL and the consumer busy: the next batch is fetched while
//! this one is written, and a batch is written as up to `LOGAGG_CONSUMER_WRITERS` parallel
//! transactions of disjoint partitions ([`crate::shard`]). Its offsets are committed once every
//! share is stored; the next batch's records are only committed after their own write.

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
use crate::shard;
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
        tracing::info!(topic = %self.store.topic, group = %self.store.group, writers = self.config.writers, "consuming");
        let mut fetched_ahead = Ahead::default();
        loop {
            let records = if fetched_ahead.records.is_empty() {
                tokio::select! {
                    biased;
                    _ = self.shutdown.clone().fired() => break,
                    records = self.collect_batch(Ahead::default()) => records,
                }
            } else {
                // Already begun while the previous batch was written: top it up until the
                // batch wait, counted from its first record, is over.
                self.collect_batch(std::mem::take(&mut fetched_ahead)).await
            };
            if records.is_empty() {
                continue;
            }
            let (stored, ahead) = self.process_fetching_ahead(records).await;
            fetched_ahead = ahead;
            if !stored || self.shutdown.is_fired() {
                // Records fetched ahead are not committed: the next owner (or we, restarted)
                // reads them again.
                break;
            }
        }
        self.consumer.unsubscribe();
        tracing::info!("left the group");
        Ok(())
    }

    /// Processes one batch while fetching the records of the next one (at most a batch), so
    /// the database never waits for Kafka nor Kafka for the database. Returns whether the batch
    /// was stored, and the records fetched meanwhile.
    async fn process_fetching_ahead(&self, records: Vec<RawRecord>) -> (bool, Ahead) {
        let process = self.process(records);
        tokio::pin!(process);
        let mut ahead = Ahead::default();
        loop {
            tokio::select! {
                biased;
                stored = &mut process => return (stored, ahead),
                message = self.consumer.recv(), if ahead.records.len() < self.config.batch_records => {
                    push_record(&mut ahead.records, message);
                    if ahead.first_at.is_none() && !ahead.records.is_empty() {
                        ahead.first_at = Some(tokio::time::Instant::now());
                    }
                }
            }
        }
    }

    /// Decodes, stores and commits one batch; false when it was abandoned for shutdown.
    async fn process(&self, records: Vec<RawRecord>) -> bool {
        let records = self.still_assigned(records);
        if records.is_empty() {
            return true;
        }
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
        mut pending: Vec<DecodedRecord>,
    ) -> Option<(Tally, StageTimes)> {
        let mut stored = Tally::default();
        let mut times = StageTimes::default();
        let mut attempt = 0u32;
        let done = loop {
            // Shares that committed are done for good; only the failed ones are written again.
            let error = match self
                .write_shares(&mut pending, &mut stored, &mut times)
                .await
            {
                None => break true,
                Some(error) => error,
            };
            // The batch keeps failing although PostgreSQL answers: some record in it is refused
            // by the database. Write record by record so that one is dead-lettered.
            if attempt >= POISON_AFTER_ATTEMPTS && self.store.ping().await.is_ok() {
                tracing::warn!(%error, "batch keeps failing with the database up; isolating the record at fault");
                match self.store.write_isolating_poison(&pending).await {
                    Ok((tally, share_times)) => {
                        stored.merge(tally);
                        times.add(share_times);
                        break true;
                    }
                    Err(error) => tracing::warn!(%error, "isolation interrupted"),
                }
            }
            if self.shutdown.is_fired() {
                tracing::warn!(%error, "shutting down with the batch uncommitted; it will be re-read");
                break false;
            }
            self.metrics.record_retry();
            self.metrics.set_ready(false);
            if attempt == 0 {
                group::pause_all(&self.consumer);
            }
            let delay = backoff(attempt, RETRY_BASE, self.config.retry_max);
            tracing::warn!(%error, attempt, retry_in = ?delay, "batch failed; partitions paused, retrying");
            attempt += 1;
            self.poll_while_waiting(delay, &mut pending).await;
        };
        if attempt > 0 {
            group::resume_all(&self.consumer);
        }
        // A batch abandoned for shutdown commits nothing, not even its stored shares: their
        // records are re-read and count as replayed, as after a crash.
        done.then_some((stored, times))
    }

    /// Writes `pending` as parallel transactions of disjoint partitions; what committed is
    /// added to `stored` and `times` and leaves `pending`. The first error, if any share failed.
    async fn write_shares(
        &self,
        pending: &mut Vec<DecodedRecord>,
        stored: &mut Tally,
        times: &mut StageTimes,
    ) -> Option<String> {
        let shares = shard::by_partition(std::mem::take(pending), self.config.writers);
        tracing::debug!(shares = ?shares.iter().map(Vec::len).collect::<Vec<_>>(), "writing a batch");
        let writes = shares.into_iter().map(|share| async move {
            let written = tokio::time::timeout(BATCH_TIMEOUT, self.store.write_batch(&share)).await;
            (share, written)
        });
        let mut first_error = None;
        for (share, written) in futures::future::join_all(writes).await {
            let error = match written {
                Ok(Ok((tally, share_times))) => {
                    stored.merge(tally);
                    times.add(share_times);
                    continue;
                }
                Ok(Err(error)) => error.to_string(),
                Err(_) => format!("batch transaction exceeded {BATCH_TIMEOUT:?}"),
            };
            first_error.get_or_insert(error);
            pending.extend(share);
        }
        first_error
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

    /// Drops records of partitions revoked since they were fetched (fetched ahead, or queued
    /// before a rebalance): their new owner reads them from the committed offset, so writing
    /// them here would only make one of the two count them `replayed`.
    fn still_assigned(&self, mut records: Vec<RawRecord>) -> Vec<RawRecord> {
        let Ok(assignment) = self.consumer.assignment() else {
            return records;
        };
        let owned: std::collections::HashSet<i32> = assignment
            .elements_for_topic(&self.store.topic)
            .iter()
            .map(|e| e.partition())
            .collect();
        let before = records.len();
        records.retain(|r| owned.contains(&r.partition));
        if records.len() < before {
            tracing::info!(
                dropped = before - records.len(),
                "records of revoked partitions left to their new owner"
            );
        }
        records
    }

    /// Gathers up to `batch_records` records (starting with those fetched ahead), waiting at
    /// most `batch_wait` after the first one. The wait counts from when the first record came,
    /// also for records fetched ahead: restarting it would hold them for the previous batch's
    /// write plus a whole wait (bench (5), A/B twice: freshness p50 125-140 ms, 75-80 ms now).
    async fn collect_batch(&self, ahead: Ahead) -> Vec<RawRecord> {
        let Ahead {
            mut records,
            first_at,
        } = ahead;
        if records.is_empty() {
            push_record(&mut records, self.consumer.recv().await);
        }
        let first_at = first_at.unwrap_or_else(tokio::time::Instant::now);
        let deadline = first_at + self.config.batch_wait;
        while records.len() < self.config.batch_records {
            match tokio::time::timeout_at(deadline, self.consumer.recv()).await {
                Ok(message) => push_record(&mut records, message),
                Err(_) => break,
            }
        }
        records
    }
}

/// Records fetched while the previous batch was written, and when the first of them came.
#[derive(Default)]
struct Ahead {
    records: Vec<RawRecord>,
    first_at: Option<tokio::time::Instant>,
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
