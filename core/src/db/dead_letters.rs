//! The `dead_letters` table: records that could not become events.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;

use super::schema::dead_letters;
use super::DbError;

/// A record parked (or to park): the group that read it, where it was read, its raw key and
/// value, and why it was refused.
#[derive(Debug, Clone, Insertable, Queryable, Selectable)]
#[diesel(table_name = dead_letters)]
pub struct DeadLetter {
    pub consumer_group: String,
    pub kafka_topic: String,
    pub kafka_partition: i32,
    pub kafka_offset: i64,
    pub record_key: Option<Vec<u8>>,
    pub record_value: Option<Vec<u8>>,
    pub error: String,
}

/// Stores dead letters; a replayed record already parked is not stored twice.
pub async fn insert(conn: &mut AsyncPgConnection, rows: &[DeadLetter]) -> Result<usize, DbError> {
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
pub async fn list(
    conn: &mut AsyncPgConnection,
    group: &str,
) -> Result<Vec<StoredDeadLetter>, DbError> {
    Ok(dead_letters::table
        .select(StoredDeadLetter::as_select())
        .filter(dead_letters::consumer_group.eq(group))
        .order(dead_letters::id.asc())
        .load(conn)
        .await?)
}

/// Filters and paging of `GET /dead-letters` (newest first by id).
#[derive(Debug, Clone, Default)]
pub struct DeadLetterQuery {
    pub partition: Option<i32>,
    /// Case-insensitive substring of the error.
    pub error: Option<String>,
    /// Stored at or after this instant.
    pub from: Option<chrono::DateTime<chrono::Utc>>,
    /// Stored strictly before this instant.
    pub to: Option<chrono::DateTime<chrono::Utc>>,
    /// Only those not retried yet (`Some(true)`), only retried ones (`Some(false)`).
    pub pending: Option<bool>,
    /// Only ids strictly below this one.
    pub before: Option<i64>,
    pub limit: i64,
}

/// A stored dead letter (`GET /dead-letters` shows it as `contract::DeadLetterView`).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = dead_letters)]
pub struct StoredDeadLetter {
    pub id: i64,
    #[diesel(embed)]
    pub letter: DeadLetter,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub retried_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// One page of a group's dead letters.
pub async fn page(
    conn: &mut AsyncPgConnection,
    group: &str,
    query: &DeadLetterQuery,
) -> Result<Vec<StoredDeadLetter>, DbError> {
    let mut sql = dead_letters::table
        .select(StoredDeadLetter::as_select())
        .filter(dead_letters::consumer_group.eq(group.to_owned()))
        .into_boxed();
    if let Some(partition) = query.partition {
        sql = sql.filter(dead_letters::kafka_partition.eq(partition));
    }
    if let Some(error) = &query.error {
        let escaped: String = error
            .chars()
            .flat_map(|c| match c {
                '%' | '_' | '\\' => vec!['\\', c],
                c => vec![c],
            })
            .collect();
        sql = sql.filter(dead_letters::error.ilike(format!("%{escaped}%")));
    }
    if let Some(from) = query.from {
        sql = sql.filter(dead_letters::created_at.ge(from));
    }
    if let Some(to) = query.to {
        sql = sql.filter(dead_letters::created_at.lt(to));
    }
    match query.pending {
        Some(true) => sql = sql.filter(dead_letters::retried_at.is_null()),
        Some(false) => sql = sql.filter(dead_letters::retried_at.is_not_null()),
        None => {}
    }
    if let Some(before) = query.before {
        sql = sql.filter(dead_letters::id.lt(before));
    }
    Ok(sql
        .order(dead_letters::id.desc())
        .limit(query.limit)
        .load(conn)
        .await?)
}

/// One of a group's dead letters by id.
pub async fn get(
    conn: &mut AsyncPgConnection,
    group: &str,
    id: i64,
) -> Result<Option<StoredDeadLetter>, DbError> {
    Ok(dead_letters::table
        .select(StoredDeadLetter::as_select())
        .filter(dead_letters::consumer_group.eq(group))
        .filter(dead_letters::id.eq(id))
        .first(conn)
        .await
        .optional()?)
}

/// Records that the dead letter was re-published now.
pub async fn mark_retried(conn: &mut AsyncPgConnection, id: i64) -> Result<(), DbError> {
    diesel::update(dead_letters::table.filter(dead_letters::id.eq(id)))
        .set(dead_letters::retried_at.eq(diesel::dsl::now))
        .execute(conn)
        .await?;
    Ok(())
}

/// Dead letters not retried yet, and the age in seconds of the oldest of them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Pending {
    pub count: i64,
    pub oldest_age_seconds: Option<f64>,
}

/// Counts a group's pending dead letters (served by the partial index on `created_at`).
pub async fn pending(conn: &mut AsyncPgConnection, group: &str) -> Result<Pending, DbError> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Int8)]
        count: i64,
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Double>)]
        oldest: Option<f64>,
    }
    let row: Row = diesel::sql_query(
        "SELECT count(*) AS count, \
                extract(epoch FROM now() - min(created_at))::float8 AS oldest \
         FROM dead_letters WHERE retried_at IS NULL AND consumer_group = $1",
    )
    .bind::<diesel::sql_types::Text, _>(group)
    .get_result(conn)
    .await?;
    Ok(Pending {
        count: row.count,
        oldest_age_seconds: row.oldest,
    })
}
