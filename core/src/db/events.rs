//! Queries on the `events` table: the deduplicating bulk insert and the API's reads.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, Int4, Int8, Jsonb, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;

use super::schema::events;
use super::DbError;

/// Rows per INSERT statement. Rows travel as one array per column (`unnest`), so there are
/// 7 bind parameters whatever the size; the chunk only bounds one statement's work.
pub const INSERT_CHUNK_ROWS: usize = 10_000;

/// An event ready to be stored, with the Kafka position it was read from.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = events)]
pub struct NewEvent {
    pub topic: String,
    pub event_id: String,
    pub source: String,
    pub event_timestamp: DateTime<Utc>,
    pub payload: serde_json::Value,
    pub kafka_partition: i32,
    pub kafka_offset: i64,
}

/// A stored event as the API returns it.
#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Serialize)]
#[diesel(table_name = events)]
pub struct StoredEvent {
    pub id: i64,
    pub topic: String,
    pub event_id: String,
    #[serde(serialize_with = "crate::db::events::rfc3339")]
    #[diesel(column_name = event_timestamp)]
    pub timestamp: DateTime<Utc>,
    pub source: String,
    pub payload: serde_json::Value,
    #[serde(serialize_with = "crate::db::events::rfc3339")]
    pub processed_at: DateTime<Utc>,
    #[serde(rename = "partition")]
    pub kafka_partition: i32,
    #[serde(rename = "offset")]
    pub kafka_offset: i64,
}

fn rfc3339<S: serde::Serializer>(ts: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::event::format_timestamp(ts))
}

/// A key the insert reported as new.
#[derive(QueryableByName)]
struct InsertedKey {
    #[diesel(sql_type = Text)]
    topic: String,
    #[diesel(sql_type = Text)]
    event_id: String,
}

/// Inserts rows, skipping any whose `(topic, event_id)` is already stored, and returns the
/// keys that were actually inserted. Rows must already be unique within `rows`.
///
/// One `INSERT ... SELECT FROM unnest(arrays) ON CONFLICT DO NOTHING` per chunk: a column per
/// bind parameter parses and plans far faster than a multi-row VALUES list with 8 binds a row.
pub async fn insert_new(
    conn: &mut AsyncPgConnection,
    rows: &[NewEvent],
) -> Result<Vec<(String, String)>, DbError> {
    let mut inserted = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(INSERT_CHUNK_ROWS) {
        let keys: Vec<InsertedKey> = diesel::sql_query(
            "INSERT INTO events \
               (topic, event_id, source, event_timestamp, payload, kafka_partition, kafka_offset) \
             SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], \
                                  $5::jsonb[], $6::int4[], $7::int8[]) \
             ON CONFLICT (topic, event_id) DO NOTHING \
             RETURNING topic, event_id",
        )
        .bind::<Array<Text>, _>(chunk.iter().map(|r| r.topic.as_str()).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(
            chunk
                .iter()
                .map(|r| r.event_id.as_str())
                .collect::<Vec<_>>(),
        )
        .bind::<Array<Text>, _>(chunk.iter().map(|r| r.source.as_str()).collect::<Vec<_>>())
        .bind::<Array<Timestamptz>, _>(chunk.iter().map(|r| r.event_timestamp).collect::<Vec<_>>())
        .bind::<Array<Jsonb>, _>(chunk.iter().map(|r| &r.payload).collect::<Vec<_>>())
        .bind::<Array<Int4>, _>(chunk.iter().map(|r| r.kafka_partition).collect::<Vec<_>>())
        .bind::<Array<Int8>, _>(chunk.iter().map(|r| r.kafka_offset).collect::<Vec<_>>())
        .load(conn)
        .await?;
        inserted.extend(keys.into_iter().map(|k| (k.topic, k.event_id)));
    }
    Ok(inserted)
}

/// Which way `GET /events` walks: newest first by id, or oldest first in commit order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Newest first (the default).
    Desc,
    /// Publish order.
    Asc,
}

/// One event by its key.
pub async fn find(
    conn: &mut AsyncPgConnection,
    topic: &str,
    event_id: &str,
) -> Result<Option<StoredEvent>, DbError> {
    Ok(events::table
        .select(StoredEvent::as_select())
        .filter(events::topic.eq(topic))
        .filter(events::event_id.eq(event_id))
        .first(conn)
        .await
        .optional()?)
}

/// Number of stored rows.
pub async fn count(conn: &mut AsyncPgConnection) -> Result<i64, DbError> {
    Ok(events::table.count().get_result(conn).await?)
}

/// Empties the table (the consumer's `replay --rebuild`).
pub async fn delete_all(conn: &mut AsyncPgConnection) -> Result<usize, DbError> {
    Ok(diesel::delete(events::table).execute(conn).await?)
}
