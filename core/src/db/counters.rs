//! `topic_counters`: counters per logical event topic, one row per (group, Kafka topic,
//! partition, event topic) so only the partition's lock holder writes it.

use diesel::prelude::*;
use diesel::upsert::excluded;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::schema::topic_counters as tc;
use super::DbError;

/// Increments for one event topic seen in one partition's batch.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = tc)]
pub struct TopicDelta {
    pub consumer_group: String,
    pub kafka_topic: String,
    pub kafka_partition: i32,
    pub topic: String,
    pub received: i64,
    pub unique_processed: i64,
    pub duplicate_dropped: i64,
    pub replayed: i64,
}

/// Summed counters of one event topic (the contract's per-topic counters of `GET /stats`).
pub use crate::contract::TopicCounts;

/// Adds the deltas (rows must be locked by the caller's partition lock).
pub async fn add(conn: &mut AsyncPgConnection, deltas: &[TopicDelta]) -> Result<(), DbError> {
    if deltas.is_empty() {
        return Ok(());
    }
    diesel::insert_into(tc::table)
        .values(deltas)
        .on_conflict((
            tc::consumer_group,
            tc::kafka_topic,
            tc::kafka_partition,
            tc::topic,
        ))
        .do_update()
        .set((
            tc::received.eq(tc::received + excluded(tc::received)),
            tc::unique_processed.eq(tc::unique_processed + excluded(tc::unique_processed)),
            tc::duplicate_dropped.eq(tc::duplicate_dropped + excluded(tc::duplicate_dropped)),
            tc::replayed.eq(tc::replayed + excluded(tc::replayed)),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Counters per event topic, summed over partitions, sorted by topic.
pub async fn by_topic(
    conn: &mut AsyncPgConnection,
    group: &str,
    kafka_topic: &str,
) -> Result<Vec<(String, TopicCounts)>, DbError> {
    let rows: Vec<(String, i64, i64, i64, i64)> = tc::table
        .select((
            tc::topic,
            tc::received,
            tc::unique_processed,
            tc::duplicate_dropped,
            tc::replayed,
        ))
        .filter(tc::consumer_group.eq(group))
        .filter(tc::kafka_topic.eq(kafka_topic))
        .order(tc::topic.asc())
        .load(conn)
        .await?;
    let mut out: Vec<(String, TopicCounts)> = Vec::new();
    for (topic, received, unique_processed, duplicate_dropped, replayed) in rows {
        if out.last().map(|(t, _)| t != &topic).unwrap_or(true) {
            out.push((topic, TopicCounts::default()));
        }
        let counts = &mut out.last_mut().expect("pushed above").1;
        counts.received += received;
        counts.unique_processed += unique_processed;
        counts.duplicate_dropped += duplicate_dropped;
        counts.replayed += replayed;
    }
    Ok(out)
}

/// Deletes a group's topic counters (the consumer's `replay --rebuild`).
pub async fn delete_group(
    conn: &mut AsyncPgConnection,
    group: &str,
    kafka_topic: &str,
) -> Result<usize, DbError> {
    Ok(diesel::delete(
        tc::table
            .filter(tc::consumer_group.eq(group))
            .filter(tc::kafka_topic.eq(kafka_topic)),
    )
    .execute(conn)
    .await?)
}
