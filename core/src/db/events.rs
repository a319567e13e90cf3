//! Queries on the `events` table: the deduplicating bulk insert and the API's reads.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
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
#[derive(Debug, Clone, Queryable, Selectable)]
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

/// Which way `GET /events` walks a topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Newest first (the default).
    Desc,
    /// Publish order.
    Asc,
}

/// Filters of `GET /events`.
#[derive(Debug, Clone)]
pub struct EventQuery {
    pub topic: Option<String>,
    pub limit: i64,
    /// Only ids strictly below this one.
    pub before: Option<i64>,
    /// Only ids strictly above this one.
    pub after: Option<i64>,
    pub order: Order,
}

/// Lists stored events with cursor paging on `id`.
pub async fn list(
    conn: &mut AsyncPgConnection,
    query: &EventQuery,
) -> Result<Vec<EventView>, DbError> {
    let mut sql = events::table.select(StoredEvent::as_select()).into_boxed();
    if let Some(topic) = &query.topic {
        sql = sql.filter(events::topic.eq(topic.clone()));
    }
    if let Some(before) = query.before {
        sql = sql.filter(events::id.lt(before));
    }
    if let Some(after) = query.after {
        sql = sql.filter(events::id.gt(after));
    }
    sql = match query.order {
        Order::Desc => sql.order(events::id.desc()),
        Order::Asc => sql.order(events::id.asc()),
    };
    let rows: Vec<StoredEvent> = sql.limit(query.limit).load(conn).await?;
    Ok(rows.into_iter().map(EventView::from).collect())
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
