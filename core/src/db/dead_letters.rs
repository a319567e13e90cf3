//! The `dead_letters` table: records that could not become events.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;

use super::schema::dead_letters;
use super::DbError;

/// A record to park, with where it was read and why it was refused.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = dead_letters)]
pub struct NewDeadLetter {
    pub consumer_group: String,
    pub kafka_topic: String,
    pub kafka_partition: i32,
    pub kafka_offset: i64,
    pub record_key: Option<Vec<u8>>,
    pub record_value: Option<Vec<u8>>,
    pub error: String,
}

/// A stored dead letter.
#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = dead_letters)]
pub struct DeadLetter {
    pub kafka_partition: i32,
    pub kafka_offset: i64,
    pub record_key: Option<Vec<u8>>,
    pub record_value: Option<Vec<u8>>,
    pub error: String,
}

/// Stores dead letters; a replayed record already parked is not stored twice.
pub async fn insert(
    conn: &mut AsyncPgConnection,
    rows: &[NewDeadLetter],
) -> Result<usize, DbError> {
    if rows.is_empty() {
        return Ok(0);
    }
    Ok(diesel::insert_into(dead_letters::table)
        .values(rows)
        .on_conflict_do_nothing()
        .execute(conn)
        .await?)
}

/// Every dead letter of a group, oldest first.
pub async fn list(conn: &mut AsyncPgConnection, group: &str) -> Result<Vec<DeadLetter>, DbError> {
    Ok(dead_letters::table
        .select(DeadLetter::as_select())
        .filter(dead_letters::consumer_group.eq(group))
        .order(dead_letters::id.asc())
        .load(conn)
        .await?)
}

/// Deletes a group's dead letters (the consumer's `replay --rebuild`).
pub async fn delete_group(
    conn: &mut AsyncPgConnection,
    group: &str,
    kafka_topic: &str,
) -> Result<usize, DbError> {
    Ok(diesel::delete(
        dead_letters::table
            .filter(dead_letters::consumer_group.eq(group))
            .filter(dead_letters::kafka_topic.eq(kafka_topic)),
    )
    .execute(conn)
    .await?)
}
