//! `partition_progress`: per (group, Kafka topic, partition) next offset and counters. The
//! consumer locks these rows at the start of every batch transaction.

use std::collections::BTreeMap;

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;

use super::schema::partition_progress as pp;
use super::DbError;

/// A partition's counters: the increments of one batch, or a progress row's totals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Queryable, Selectable)]
#[diesel(table_name = pp)]
pub struct Counts {
    pub received: i64,
    pub unique_processed: i64,
    pub duplicate_dropped: i64,
    pub invalid: i64,
    pub replayed: i64,
    /// Offsets the broker deleted before they were read (a gap in the log); never `received`.
    pub lost: i64,
}

impl Counts {
    /// The totals of a group: its progress rows summed.
    pub fn total(rows: &[Progress]) -> Counts {
        let mut total = Counts::default();
        for row in rows {
            total.add(&row.counts);
        }
        total
    }

    pub fn add(&mut self, other: &Counts) {
        self.received += other.received;
        self.unique_processed += other.unique_processed;
        self.duplicate_dropped += other.duplicate_dropped;
        self.invalid += other.invalid;
        self.replayed += other.replayed;
        self.lost += other.lost;
    }
}

/// A progress row.
#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = pp)]
pub struct Progress {
    pub kafka_partition: i32,
    pub next_offset: i64,
    #[diesel(embed)]
    #[serde(flatten)]
    pub counts: Counts,
}

/// Creates missing rows and locks the rows of `partitions` (in ascending order, so two
/// consumers never deadlock). Returns each partition's stored next offset. Must run inside a
/// transaction; the locks last until it ends.
pub async fn lock(
    conn: &mut AsyncPgConnection,
    group: &str,
    topic: &str,
    partitions: &[i32],
) -> Result<BTreeMap<i32, i64>, DbError> {
    let mut sorted = partitions.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let new_rows: Vec<_> = sorted
        .iter()
        .map(|p| {
            (
                pp::consumer_group.eq(group),
                pp::kafka_topic.eq(topic),
                pp::kafka_partition.eq(*p),
            )
        })
        .collect();
    diesel::insert_into(pp::table)
        .values(&new_rows)
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    let rows: Vec<(i32, i64)> = pp::table
        .select((pp::kafka_partition, pp::next_offset))
        .filter(pp::consumer_group.eq(group))
        .filter(pp::kafka_topic.eq(topic))
        .filter(pp::kafka_partition.eq_any(&sorted))
        .order(pp::kafka_partition.asc())
        .for_update()
        .load(conn)
        .await?;
    Ok(rows.into_iter().collect())
}

/// Adds a batch's counts to a locked row and moves its next offset forward.
pub async fn advance(
    conn: &mut AsyncPgConnection,
    group: &str,
    topic: &str,
    partition: i32,
    next_offset: i64,
    counts: &Counts,
) -> Result<(), DbError> {
    diesel::update(pp::table)
        .filter(pp::consumer_group.eq(group))
        .filter(pp::kafka_topic.eq(topic))
        .filter(pp::kafka_partition.eq(partition))
        .set((
            pp::next_offset.eq(next_offset),
            pp::received.eq(pp::received + counts.received),
            pp::unique_processed.eq(pp::unique_processed + counts.unique_processed),
            pp::duplicate_dropped.eq(pp::duplicate_dropped + counts.duplicate_dropped),
            pp::invalid.eq(pp::invalid + counts.invalid),
            pp::replayed.eq(pp::replayed + counts.replayed),
            pp::lost.eq(pp::lost + counts.lost),
            pp::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Every progress row of a group and Kafka topic, by partition.
pub async fn all(
    conn: &mut AsyncPgConnection,
    group: &str,
    topic: &str,
) -> Result<Vec<Progress>, DbError> {
    Ok(pp::table
        .select(Progress::as_select())
        .filter(pp::consumer_group.eq(group))
        .filter(pp::kafka_topic.eq(topic))
        .order(pp::kafka_partition.asc())
        .load(conn)
        .await?)
}
