//! The batch transaction: lock the batch's progress rows, insert events idempotently, park
//! dead letters, add counters and advance next offsets, all in one PostgreSQL transaction.
//! [`BatchStore`] binds the pool to the group and Kafka topic whose progress rows it writes.

use std::time::{Duration, Instant};

use diesel_async::AsyncConnection;
use logagg_core::config::KafkaConfig;
use logagg_core::db::{self, counters, dead_letters, events, progress, DbError};

use crate::batch::{self, DecodedRecord, Tally};

/// How long each stage of a batch transaction took; the caller records them, outside the
/// transaction.
#[derive(Debug, Clone, Copy, Default)]
pub struct StageTimes {
    /// Locking (and creating) the partitions' progress rows.
    pub lock: Duration,
    /// Inserting events and dead letters.
    pub insert: Duration,
    /// Advancing progress rows and adding topic counters.
    pub counters: Duration,
}

impl StageTimes {
    pub fn add(&mut self, other: StageTimes) {
        self.lock += other.lock;
        self.insert += other.insert;
        self.counters += other.counters;
    }
}

/// Where batches go: the pool, and the group and Kafka topic that key the progress rows.
#[derive(Clone)]
pub struct BatchStore {
    pub pool: db::Pool,
    pub group: String,
    pub topic: String,
}

impl BatchStore {
    pub fn new(pool: db::Pool, kafka: &KafkaConfig) -> Self {
        Self {
            pool,
            group: kafka.group.clone(),
            topic: kafka.topic.clone(),
        }
    }

    /// Writes one batch. On error nothing of it is stored (the transaction rolled back) and the
    /// caller retries the same records.
    #[tracing::instrument(skip_all, fields(records = records.len()))]
    pub async fn write_batch(
        &self,
        records: &[DecodedRecord],
    ) -> Result<(Tally, StageTimes), DbError> {
        let (group, kafka_topic) = (self.group.as_str(), self.topic.as_str());
        let mut conn = self.pool.get().await?;
        let mut partitions: Vec<i32> = records.iter().map(|r| r.raw.partition).collect();
        partitions.sort_unstable();
        partitions.dedup();
        conn.transaction::<_, DbError, _>(async |conn| {
            let started = Instant::now();
            let stored_next = progress::lock(conn, group, kafka_topic, &partitions).await?;
            let locked = Instant::now();
            let prepared = batch::prepare(records, &stored_next, group, kafka_topic);
            let inserted = events::insert_new(conn, &prepared.rows).await?;
            dead_letters::insert(conn, &prepared.dead_letters).await?;
            let inserted_at = Instant::now();
            let tally = prepared.tally(&inserted, group, kafka_topic);
            for (partition, (counts, next_offset)) in &tally.partitions {
                progress::advance(conn, group, kafka_topic, *partition, *next_offset, counts)
                    .await?;
            }
            counters::add(conn, &tally.topic_deltas).await?;
            let times = StageTimes {
                lock: locked - started,
                insert: inserted_at - locked,
                counters: inserted_at.elapsed(),
            };
            Ok((tally, times))
        })
        .await
    }

    /// Whether PostgreSQL answers.
    pub async fn ping(&self) -> Result<(), DbError> {
        db::ping(&self.pool).await
    }

    /// The group's progress rows (what seeding the group's offsets starts from).
    pub async fn stored_progress(&self) -> Result<Vec<progress::Progress>, DbError> {
        let mut conn = self.pool.get().await?;
        progress::all(&mut conn, &self.group, &self.topic).await
    }

    /// Writes the records one transaction each, so a record PostgreSQL refuses although it
    /// passed validation (a poison record) is dead-lettered instead of failing its batch
    /// forever. Used only after the whole batch failed repeatedly while the database was
    /// reachable. Stops with the error as soon as the database itself looks down.
    pub async fn write_isolating_poison(
        &self,
        records: &[DecodedRecord],
    ) -> Result<(Tally, StageTimes), DbError> {
        let mut total = Tally::default();
        let mut total_times = StageTimes::default();
        for record in records {
            let (tally, times) = match self.write_batch(std::slice::from_ref(record)).await {
                Ok(written) => written,
                Err(error) => {
                    if self.ping().await.is_err() {
                        return Err(error);
                    }
                    tracing::error!(
                        partition = record.raw.partition,
                        offset = record.raw.offset,
                        %error,
                        "PostgreSQL refuses this record; dead-lettering it"
                    );
                    let poison = DecodedRecord {
                        raw: record.raw.clone(),
                        event: Err(format!("rejected by PostgreSQL: {error}")),
                    };
                    self.write_batch(&[poison]).await?
                }
            };
            total.merge(tally);
            total_times.add(times);
        }
        Ok((total, total_times))
    }
}
