//! `topic_counters`: counters per logical event topic, one row per (group, Kafka topic,
//! partition, event topic). The partition's lock holder adds what a batch received; the
//! retention enforcer and admin deletes add `expired`/`deleted` in the transaction of their
//! DELETE (row locks serialize them with the batch, for the few milliseconds of a step).

use chrono::{DateTime, Utc};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{Nullable, Timestamptz};
use diesel::upsert::excluded;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;

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
    /// Rows removed by retention (negative: a replay restored rows that had been removed).
    pub expired: i64,
    /// Rows removed by admin deletes.
    pub deleted: i64,
    /// Earliest and latest event time among the rows this batch stored for the topic.
    pub first_event_at: Option<DateTime<Utc>>,
    pub last_event_at: Option<DateTime<Utc>>,
    /// When the batch stored a row of the topic (`None` when it stored none).
    pub last_stored_at: Option<DateTime<Utc>>,
}

impl TopicDelta {
    /// No increment yet for `topic` in `kafka_partition` of the group's Kafka topic.
    pub fn new(group: &str, kafka_topic: &str, kafka_partition: i32, topic: &str) -> Self {
        Self {
            consumer_group: group.to_owned(),
            kafka_topic: kafka_topic.to_owned(),
            kafka_partition,
            topic: topic.to_owned(),
            received: 0,
            unique_processed: 0,
            duplicate_dropped: 0,
            replayed: 0,
            expired: 0,
            deleted: 0,
            first_event_at: None,
            last_event_at: None,
            last_stored_at: None,
        }
    }

    /// Widens the event-time bounds with a row stored at `stored_at`.
    pub fn stored(&mut self, event_time: DateTime<Utc>, stored_at: DateTime<Utc>) {
        self.first_event_at = Some(
            self.first_event_at
                .map_or(event_time, |t| t.min(event_time)),
        );
        self.last_event_at = Some(self.last_event_at.map_or(event_time, |t| t.max(event_time)));
        self.last_stored_at = Some(stored_at);
    }
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
            tc::expired.eq(tc::expired + excluded(tc::expired)),
            tc::deleted.eq(tc::deleted + excluded(tc::deleted)),
            // LEAST/GREATEST skip NULLs: a batch that stored nothing keeps the bounds.
            tc::first_event_at.eq(sql::<Nullable<Timestamptz>>(
                "LEAST(topic_counters.first_event_at, excluded.first_event_at)",
            )),
            tc::last_event_at.eq(sql::<Nullable<Timestamptz>>(
                "GREATEST(topic_counters.last_event_at, excluded.last_event_at)",
            )),
            tc::last_stored_at.eq(sql::<Nullable<Timestamptz>>(
                "GREATEST(topic_counters.last_stored_at, excluded.last_stored_at)",
            )),
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
    let rows: Vec<(String, i64, i64, i64, i64, i64, i64)> = tc::table
        .select((
            tc::topic,
            tc::received,
            tc::unique_processed,
            tc::duplicate_dropped,
            tc::replayed,
            tc::expired,
            tc::deleted,
        ))
        .filter(tc::consumer_group.eq(group))
        .filter(tc::kafka_topic.eq(kafka_topic))
        .order(tc::topic.asc())
        .load(conn)
        .await?;
    let mut out: Vec<(String, TopicCounts)> = Vec::new();
    for (topic, received, unique_processed, duplicate_dropped, replayed, expired, deleted) in rows {
        if out.last().map(|(t, _)| t != &topic).unwrap_or(true) {
            out.push((topic, TopicCounts::default()));
        }
        let counts = &mut out.last_mut().expect("pushed above").1;
        counts.received += received;
        counts.unique_processed += unique_processed;
        counts.duplicate_dropped += duplicate_dropped;
        counts.replayed += replayed;
        counts.expired += expired;
        counts.deleted += deleted;
    }
    Ok(out)
}

/// One topic as `GET /topics` shows it: stored rows, event-time bounds, last store time and
/// the counters.
#[derive(Debug, Clone, PartialEq, Serialize, QueryableByName, utoipa::ToSchema)]
pub struct TopicSummary {
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub topic: String,
    /// Rows stored (`unique_processed - expired - deleted`: every stored row was counted once).
    #[diesel(sql_type = diesel::sql_types::Int8)]
    pub stored: i64,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    #[serde(serialize_with = "optional_rfc3339")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub first_event_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    #[serde(serialize_with = "optional_rfc3339")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_event_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    #[serde(serialize_with = "optional_rfc3339")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_stored_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = diesel::sql_types::Int8)]
    pub received: i64,
    #[diesel(sql_type = diesel::sql_types::Int8)]
    pub unique_processed: i64,
    #[diesel(sql_type = diesel::sql_types::Int8)]
    pub duplicate_dropped: i64,
    #[diesel(sql_type = diesel::sql_types::Int8)]
    pub replayed: i64,
    #[diesel(sql_type = diesel::sql_types::Int8)]
    pub expired: i64,
    #[diesel(sql_type = diesel::sql_types::Int8)]
    pub deleted: i64,
    /// The topic's effective retention in seconds (its own policy, else the default); null =
    /// kept forever.
    #[diesel(sql_type = Nullable<diesel::sql_types::Int8>)]
    pub retention_seconds: Option<i64>,
}

fn optional_rfc3339<S: serde::Serializer>(
    ts: &Option<DateTime<Utc>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match ts {
        Some(ts) => s.serialize_str(&crate::event::format_timestamp(ts)),
        None => s.serialize_none(),
    }
}

/// Every topic of the group with its bounds and counters, sorted by name; reads only
/// `topic_counters` (one row per partition and topic), never `events`.
pub async fn summaries(
    conn: &mut AsyncPgConnection,
    group: &str,
    kafka_topic: &str,
) -> Result<Vec<TopicSummary>, DbError> {
    Ok(diesel::sql_query(
        "SELECT c.*, CASE WHEN own.topic IS NOT NULL THEN own.retention_seconds \
                          ELSE dflt.retention_seconds END AS retention_seconds \
         FROM (SELECT topic, (sum(unique_processed) - sum(expired) - sum(deleted))::int8 AS stored, \
                      min(first_event_at) AS first_event_at, max(last_event_at) AS last_event_at, \
                      max(last_stored_at) AS last_stored_at, sum(received)::int8 AS received, \
                      sum(unique_processed)::int8 AS unique_processed, \
                      sum(duplicate_dropped)::int8 AS duplicate_dropped, \
                      sum(replayed)::int8 AS replayed, sum(expired)::int8 AS expired, \
                      sum(deleted)::int8 AS deleted \
               FROM topic_counters WHERE consumer_group = $1 AND kafka_topic = $2 \
               GROUP BY topic) c \
         LEFT JOIN retention_policies own ON own.topic = c.topic \
         LEFT JOIN retention_policies dflt ON dflt.topic = '*' \
         ORDER BY c.topic",
    )
    .bind::<diesel::sql_types::Text, _>(group)
    .bind::<diesel::sql_types::Text, _>(kafka_topic)
    .load(conn)
    .await?)
}

/// Which counter a removal moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// Retention.
    Expired,
    /// An admin delete.
    Deleted,
}

/// Rows a DELETE removed, per Kafka partition and event topic (the keys of `topic_counters`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, QueryableByName)]
pub struct Removed {
    #[diesel(sql_type = diesel::sql_types::Int4)]
    pub kafka_partition: i32,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub topic: String,
    #[diesel(sql_type = diesel::sql_types::Int8)]
    pub removed: i64,
}

/// Counts removed rows in `expired` or `deleted`; call in the DELETE's transaction so
/// `unique_processed = rows + expired + deleted` holds at every commit. Rows are updated in
/// key order, so two removers never deadlock on them.
pub async fn add_removed(
    conn: &mut AsyncPgConnection,
    group: &str,
    kafka_topic: &str,
    removal: Removal,
    removed: &[Removed],
) -> Result<(), DbError> {
    let mut sorted = removed.to_vec();
    sorted.sort();
    let deltas: Vec<TopicDelta> = sorted
        .into_iter()
        .map(|r| {
            let mut delta = TopicDelta::new(group, kafka_topic, r.kafka_partition, &r.topic);
            match removal {
                Removal::Expired => delta.expired = r.removed,
                Removal::Deleted => delta.deleted = r.removed,
            }
            delta
        })
        .collect();
    add(conn, &deltas).await
}
