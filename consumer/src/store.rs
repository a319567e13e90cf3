//! The batch transaction: lock the batch's progress rows, insert events idempotently, park
//! dead letters, add counters and advance next offsets, all in one PostgreSQL transaction.

use std::time::Instant;

use diesel_async::AsyncConnection;
use logagg_core::db::{self, counters, dead_letters, events, progress, DbError};

use crate::batch::{self, DecodedRecord, Tally};
use crate::metrics::Metrics;

/// Writes one batch. On error nothing of it is stored (the transaction rolled back) and the
/// caller retries the same records.
#[tracing::instrument(skip_all, fields(records = records.len()))]
pub async fn write_batch(
    pool: &db::Pool,
    group: &str,
    kafka_topic: &str,
    records: &[DecodedRecord],
    metrics: &Metrics,
) -> Result<Tally, DbError> {
    let mut conn = pool.get().await?;
    let mut partitions: Vec<i32> = records.iter().map(|r| r.raw.partition).collect();
    partitions.sort_unstable();
    partitions.dedup();
    let started = Instant::now();
    let tally = conn
        .transaction::<_, DbError, _>(async |conn| {
            let stored_next = progress::lock(conn, group, kafka_topic, &partitions).await?;
            let locked = Instant::now();
            metrics.observe_stage("lock", started.elapsed());
            let prepared = batch::prepare(records, &stored_next, group, kafka_topic);
            let inserted = events::insert_new(conn, &prepared.rows).await?;
            dead_letters::insert(conn, &prepared.dead_letters).await?;
            let inserted_at = Instant::now();
            metrics.observe_stage("insert", inserted_at - locked);
            let tally = prepared.tally(&inserted, group, kafka_topic);
            for (partition, (counts, next_offset)) in &tally.partitions {
                progress::advance(conn, group, kafka_topic, *partition, *next_offset, counts)
                    .await?;
            }
            counters::add(conn, &tally.topic_deltas).await?;
            metrics.observe_stage("counters", inserted_at.elapsed());
            Ok(tally)
        })
        .await?;
    Ok(tally)
}
