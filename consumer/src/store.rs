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

/// Whether PostgreSQL answers a trivial query within a couple of seconds.
pub async fn ping(pool: &db::Pool) -> Result<(), String> {
    use diesel_async::RunQueryDsl;
    let check = async {
        let mut conn = pool.get().await.map_err(|e| e.to_string())?;
        diesel::sql_query("SELECT 1")
            .execute(&mut conn)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    tokio::time::timeout(std::time::Duration::from_secs(2), check)
        .await
        .unwrap_or_else(|_| Err("timed out".into()))
}

/// Writes the records one transaction each, so a record PostgreSQL refuses although it passed
/// validation (a poison record) is dead-lettered instead of failing its batch forever. Used
/// only after the whole batch failed repeatedly while the database was reachable. Stops with
/// the error as soon as the database itself looks down.
pub async fn write_isolating_poison(
    pool: &db::Pool,
    group: &str,
    kafka_topic: &str,
    records: &[DecodedRecord],
    metrics: &Metrics,
) -> Result<Tally, DbError> {
    let mut total = Tally::default();
    for record in records {
        let tally = match write_batch(
            pool,
            group,
            kafka_topic,
            std::slice::from_ref(record),
            metrics,
        )
        .await
        {
            Ok(tally) => tally,
            Err(error) => {
                if ping(pool).await.is_err() {
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
                write_batch(pool, group, kafka_topic, &[poison], metrics).await?
            }
        };
        total.merge(tally);
    }
    Ok(total)
}
