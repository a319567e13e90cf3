//! Queries on the `events` table: the deduplicating bulk insert and the API's reads.

use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::sql_types::{Array, Int4, Int8, Jsonb, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::schema::events;
use super::DbError;
use crate::contract::EventView;
use crate::Event;

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

impl NewEvent {
    /// The row of `event`, read from `partition` at `offset`.
    pub fn from_event(event: &Event, partition: i32, offset: i64) -> Self {
        Self {
            topic: event.topic.clone(),
            event_id: event.event_id.clone(),
            source: event.source.clone(),
            event_timestamp: event.timestamp_utc(),
            payload: serde_json::Value::Object(event.payload.clone()),
            kafka_partition: partition,
            kafka_offset: offset,
        }
    }
}

/// A stored row, as selected; the API answers with its [`EventView`].
#[derive(Debug, Clone, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = events)]
pub struct StoredEvent {
    pub id: i64,
    pub topic: String,
    pub event_id: String,
    pub event_timestamp: DateTime<Utc>,
    pub source: String,
    pub payload: serde_json::Value,
    pub processed_at: DateTime<Utc>,
    pub kafka_partition: i32,
    pub kafka_offset: i64,
}

impl From<StoredEvent> for EventView {
    fn from(row: StoredEvent) -> Self {
        Self {
            id: row.id,
            topic: row.topic,
            event_id: row.event_id,
            timestamp: row.event_timestamp,
            source: row.source,
            payload: row.payload,
            processed_at: row.processed_at,
            partition: row.kafka_partition,
            offset: row.kafka_offset,
        }
    }
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
        let keys: Vec<InsertedKey> = bind_event_arrays(
            "INSERT INTO events \
               (topic, event_id, source, event_timestamp, payload, kafka_partition, kafka_offset) \
             SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], \
                                  $5::jsonb[], $6::int4[], $7::int8[]) \
             ON CONFLICT (topic, event_id) DO NOTHING \
             RETURNING topic, event_id",
            chunk,
        )
        .load(conn)
        .await?;
        inserted.extend(keys.into_iter().map(|k| (k.topic, k.event_id)));
    }
    Ok(inserted)
}

/// `sql` with the columns of `rows` bound as arrays `$1..$7`, in the order topic, event_id,
/// source, event_timestamp, payload, kafka_partition, kafka_offset (for `unnest`); the query
/// stays open for more binds.
pub fn bind_event_arrays<'a>(sql: &str, rows: &'a [NewEvent]) -> BoxedSqlQuery<'a, Pg, SqlQuery> {
    let column = |value: fn(&NewEvent) -> &str| rows.iter().map(value).collect::<Vec<_>>();
    diesel::sql_query(sql)
        .into_boxed()
        .bind::<Array<Text>, _>(column(|r| &r.topic))
        .bind::<Array<Text>, _>(column(|r| &r.event_id))
        .bind::<Array<Text>, _>(column(|r| &r.source))
        .bind::<Array<Timestamptz>, _>(rows.iter().map(|r| r.event_timestamp).collect::<Vec<_>>())
        .bind::<Array<Jsonb>, _>(rows.iter().map(|r| &r.payload).collect::<Vec<_>>())
        .bind::<Array<Int4>, _>(rows.iter().map(|r| r.kafka_partition).collect::<Vec<_>>())
        .bind::<Array<Int8>, _>(rows.iter().map(|r| r.kafka_offset).collect::<Vec<_>>())
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
) -> Result<Option<EventView>, DbError> {
    let row: Option<StoredEvent> = events::table
        .select(StoredEvent::as_select())
        .filter(events::topic.eq(topic))
        .filter(events::event_id.eq(event_id))
        .first(conn)
        .await
        .optional()?;
    Ok(row.map(EventView::from))
}

/// Number of stored rows.
pub async fn count(conn: &mut AsyncPgConnection) -> Result<i64, DbError> {
    Ok(events::table.count().get_result(conn).await?)
}

/// Empties the table (the consumer's `replay --rebuild`).
pub async fn delete_all(conn: &mut AsyncPgConnection) -> Result<usize, DbError> {
    Ok(diesel::delete(events::table).execute(conn).await?)
}
