//! Retention and admin deletes: the policies (`retention_policies`), the enforcer's bounded
//! removal step and status row (`retention_status`), and audited deletes by filter
//! (`admin_deletes`). Every DELETE here moves `expired`/`deleted` in `topic_counters` in its
//! own transaction, so `unique_processed = rows + expired + deleted` holds at every commit.
//! Age is the stored time (`processed_at`), never the client's event timestamp.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::sql_types::{Array, BigInt, Int8, Nullable, Text, Timestamptz};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use super::counters::{self, Removal, Removed};
use super::schema::{admin_deletes, retention_policies as rp, retention_status as rs};
use super::DbError;
use crate::contract::{AuditEntry, DeleteFilter, RetentionPolicies, RetentionStatus};

/// The policy row that holds the default (`*` is not a valid topic name).
pub const DEFAULT_TOPIC: &str = "*";

/// The advisory lock only the one enforcing consumer holds (`pg_try_advisory_lock`); any
/// constant distinct from the migrations' and the test template's locks.
pub const ENFORCER_LOCK_KEY: i64 = 0x6c6f_6761_6767_7274;

/// Tries to take the enforcer's session advisory lock on this connection (held until the
/// session ends); whether it was taken.
pub async fn try_lock(conn: &mut AsyncPgConnection) -> Result<bool, DbError> {
    #[derive(QueryableByName)]
    struct Locked {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        locked: bool,
    }
    let row: Locked = diesel::sql_query("SELECT pg_try_advisory_lock($1) AS locked")
        .bind::<BigInt, _>(ENFORCER_LOCK_KEY)
        .get_result(conn)
        .await?;
    Ok(row.locked)
}

/// The default and the per-topic overrides.
pub async fn policies(conn: &mut AsyncPgConnection) -> Result<RetentionPolicies, DbError> {
    let rows: Vec<(String, Option<i64>)> = rp::table
        .select((rp::topic, rp::retention_seconds))
        .order(rp::topic.asc())
        .load(conn)
        .await?;
    let mut out = RetentionPolicies {
        default_seconds: None,
        topics: BTreeMap::new(),
        status: status(conn).await?,
    };
    for (topic, seconds) in rows {
        if topic == DEFAULT_TOPIC {
            out.default_seconds = seconds;
        } else {
            out.topics.insert(topic, seconds);
        }
    }
    Ok(out)
}

/// Sets (or, with `None` for `seconds`, exempts) `topic`'s retention; `DEFAULT_TOPIC` sets the
/// default. `updated_by` names who asked.
pub async fn set_policy(
    conn: &mut AsyncPgConnection,
    topic: &str,
    seconds: Option<i64>,
    updated_by: &str,
) -> Result<(), DbError> {
    diesel::insert_into(rp::table)
        .values((
            rp::topic.eq(topic),
            rp::retention_seconds.eq(seconds),
            rp::updated_by.eq(updated_by),
        ))
        .on_conflict(rp::topic)
        .do_update()
        .set((
            rp::retention_seconds.eq(seconds),
            rp::updated_by.eq(updated_by),
            rp::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Removes `topic`'s own policy (it follows the default again); whether there was one.
pub async fn clear_policy(conn: &mut AsyncPgConnection, topic: &str) -> Result<bool, DbError> {
    Ok(diesel::delete(rp::table.filter(rp::topic.eq(topic)))
        .execute(conn)
        .await?
        > 0)
}

/// Every known event topic with the retention that applies to it (topics kept forever are
/// left out). Topics come from `topic_counters`, so no scan of `events`.
pub async fn effective(conn: &mut AsyncPgConnection) -> Result<Vec<(String, i64)>, DbError> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        topic: String,
        #[diesel(sql_type = Int8)]
        seconds: i64,
    }
    let rows: Vec<Row> = diesel::sql_query(
        "SELECT t.topic, CASE WHEN own.topic IS NOT NULL THEN own.retention_seconds \
                              ELSE dflt.retention_seconds END AS seconds \
         FROM (SELECT DISTINCT topic FROM topic_counters) t \
         LEFT JOIN retention_policies own ON own.topic = t.topic \
         LEFT JOIN retention_policies dflt ON dflt.topic = '*' \
         WHERE CASE WHEN own.topic IS NOT NULL THEN own.retention_seconds \
                    ELSE dflt.retention_seconds END IS NOT NULL \
         ORDER BY t.topic",
    )
    .load(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.topic, r.seconds)).collect())
}

/// Which rows a removal step takes.
#[derive(Debug, Clone, Copy)]
pub enum Doomed<'a> {
    /// Retention: rows of `topic` stored more than `seconds` ago, oldest first; rows another
    /// remover holds are skipped (`SKIP LOCKED`), never waited for. Counted as `expired`.
    Expired { topic: &'a str, seconds: i64 },
    /// An admin delete: rows matching every field of `filter`. Counted as `deleted` and added
    /// to audit row `audit_id`.
    Deleted {
        filter: &'a DeleteFilter,
        audit_id: i64,
    },
}

/// Removes at most `limit` of the `doomed` rows and, in the same transaction, moves what the
/// removal moves: the `expired` or `deleted` counters of `group` on `kafka_topic` and, for an
/// admin delete, its audit row's count. Returns the rows removed.
pub async fn remove_step(
    conn: &mut AsyncPgConnection,
    group: &str,
    kafka_topic: &str,
    doomed: Doomed<'_>,
    limit: i64,
) -> Result<i64, DbError> {
    let statement = match doomed {
        Doomed::Expired { topic, seconds } => removing(
            "WHERE topic = $1 AND processed_at < now() - $2 * interval '1 second' \
             ORDER BY processed_at LIMIT $3 FOR UPDATE SKIP LOCKED",
        )
        .bind::<Text, _>(topic)
        .bind::<Int8, _>(seconds),
        Doomed::Deleted { filter, .. } => removing(
            "WHERE ($1::text IS NULL OR topic = $1) \
               AND ($2::text IS NULL OR source = $2) \
               AND ($3::timestamptz IS NULL OR event_timestamp >= $3) \
               AND ($4::timestamptz IS NULL OR event_timestamp < $4) \
               AND ($5::text[] IS NULL OR event_id = ANY($5)) \
             LIMIT $6 FOR UPDATE",
        )
        .bind::<Nullable<Text>, _>(filter.topic.as_deref())
        .bind::<Nullable<Text>, _>(filter.source.as_deref())
        .bind::<Nullable<Timestamptz>, _>(filter.from)
        .bind::<Nullable<Timestamptz>, _>(filter.to)
        .bind::<Nullable<Array<Text>>, _>(filter.event_ids.as_deref()),
    }
    .bind::<BigInt, _>(limit);
    conn.transaction::<_, DbError, _>(async |conn| {
        let removed: Vec<Removed> = statement.load(conn).await?;
        let count: i64 = removed.iter().map(|r| r.removed).sum();
        let removal = match doomed {
            Doomed::Expired { .. } => Removal::Expired,
            Doomed::Deleted { audit_id, .. } => {
                diesel::update(admin_deletes::table.find(audit_id))
                    .set(admin_deletes::deleted.eq(admin_deletes::deleted + count))
                    .execute(conn)
                    .await?;
                Removal::Deleted
            }
        };
        counters::add_removed(conn, group, kafka_topic, removal, &removed).await?;
        Ok(count)
    })
    .await
}

/// The statement of a removal step: deletes the rows of `events` that `rows` (`WHERE ...
/// LIMIT ... FOR UPDATE`, its parameters bound by the caller) selects, and returns them per
/// Kafka partition and event topic.
fn removing(rows: &str) -> BoxedSqlQuery<'static, Pg, SqlQuery> {
    diesel::sql_query(format!(
        "WITH doomed AS (SELECT id FROM events {rows}), \
              gone AS (DELETE FROM events WHERE id IN (SELECT id FROM doomed) \
                       RETURNING kafka_partition, topic) \
         SELECT kafka_partition, topic, count(*)::int8 AS removed FROM gone \
         GROUP BY kafka_partition, topic"
    ))
    .into_boxed()
}

/// How far `topic`'s oldest row is past its retention, in milliseconds (0 when none is due).
pub async fn lag_ms(
    conn: &mut AsyncPgConnection,
    topic: &str,
    seconds: i64,
) -> Result<i64, DbError> {
    #[derive(QueryableByName)]
    struct Lag {
        #[diesel(sql_type = Int8)]
        lag_ms: i64,
    }
    let lag: Lag = diesel::sql_query(
        "SELECT COALESCE(GREATEST(0, (EXTRACT(EPOCH FROM \
                  (now() - $2 * interval '1 second' - min(processed_at))) * 1000)::int8), 0) \
                AS lag_ms \
         FROM events WHERE topic = $1",
    )
    .bind::<Text, _>(topic)
    .bind::<Int8, _>(seconds)
    .get_result(conn)
    .await?;
    Ok(lag.lag_ms)
}

/// What one enforcer run did, for the status row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunReport {
    pub removed: i64,
    pub lag_ms: i64,
    pub error: Option<String>,
}

/// Records a finished run (the enforcer's status row; `holder` names the consumer).
pub async fn record_run(
    conn: &mut AsyncPgConnection,
    holder: &str,
    report: &RunReport,
) -> Result<(), DbError> {
    diesel::insert_into(rs::table)
        .values((
            rs::id.eq(1),
            rs::holder.eq(holder),
            rs::last_run_at.eq(diesel::dsl::now),
            rs::last_run_removed.eq(report.removed),
            rs::removed_total.eq(report.removed),
            rs::lag_ms.eq(report.lag_ms),
            rs::last_error.eq(report.error.as_deref()),
        ))
        .on_conflict(rs::id)
        .do_update()
        .set((
            rs::holder.eq(holder),
            rs::last_run_at.eq(diesel::dsl::now),
            rs::last_run_removed.eq(report.removed),
            rs::removed_total.eq(rs::removed_total + report.removed),
            rs::lag_ms.eq(report.lag_ms),
            rs::last_error.eq(report.error.as_deref()),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// The enforcer's last run, if any consumer ever ran it on this database.
pub async fn status(conn: &mut AsyncPgConnection) -> Result<Option<RetentionStatus>, DbError> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        holder: String,
        #[diesel(sql_type = Timestamptz)]
        last_run_at: DateTime<Utc>,
        #[diesel(sql_type = Int8)]
        last_run_removed: i64,
        #[diesel(sql_type = Int8)]
        removed_total: i64,
        #[diesel(sql_type = Int8)]
        lag_ms: i64,
        #[diesel(sql_type = Int8)]
        age_ms: i64,
        #[diesel(sql_type = Nullable<Text>)]
        last_error: Option<String>,
    }
    let row: Option<Row> = diesel::sql_query(
        "SELECT holder, last_run_at, last_run_removed, removed_total, lag_ms, \
                (EXTRACT(EPOCH FROM (now() - last_run_at)) * 1000)::int8 AS age_ms, last_error \
         FROM retention_status WHERE id = 1",
    )
    .get_result(conn)
    .await
    .optional()?;
    Ok(row.map(|r| RetentionStatus {
        holder: r.holder,
        last_run_at: r.last_run_at,
        last_run_removed: r.last_run_removed,
        removed_total: r.removed_total,
        lag_seconds: r.lag_ms as f64 / 1000.0,
        last_run_age_seconds: r.age_ms.max(0) as f64 / 1000.0,
        last_error: r.last_error,
    }))
}

/// Opens the audit row of an admin delete (its count grows with each step).
pub async fn open_audit(
    conn: &mut AsyncPgConnection,
    requested_by: &str,
    filter: &DeleteFilter,
) -> Result<i64, DbError> {
    let filter = serde_json::to_value(filter).expect("a filter serializes");
    Ok(diesel::insert_into(admin_deletes::table)
        .values((
            admin_deletes::requested_by.eq(requested_by),
            admin_deletes::filter.eq(filter),
            admin_deletes::deleted.eq(0),
        ))
        .returning(admin_deletes::id)
        .get_result(conn)
        .await?)
}

/// The audited deletes, newest first.
pub async fn audit(conn: &mut AsyncPgConnection, limit: i64) -> Result<Vec<AuditEntry>, DbError> {
    let rows: Vec<(i64, String, serde_json::Value, i64, DateTime<Utc>)> = admin_deletes::table
        .select((
            admin_deletes::id,
            admin_deletes::requested_by,
            admin_deletes::filter,
            admin_deletes::deleted,
            admin_deletes::created_at,
        ))
        .order(admin_deletes::id.desc())
        .limit(limit)
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(
            |(id, requested_by, filter, deleted, created_at)| AuditEntry {
                id,
                requested_by,
                filter,
                deleted,
                created_at,
            },
        )
        .collect())
}

/// The retention invariant's four figures, read in one statement (one snapshot).
#[derive(Debug, Clone, Copy, PartialEq, Eq, QueryableByName)]
pub struct Ledger {
    #[diesel(sql_type = Int8)]
    pub unique_processed: i64,
    #[diesel(sql_type = Int8)]
    pub rows: i64,
    #[diesel(sql_type = Int8)]
    pub expired: i64,
    #[diesel(sql_type = Int8)]
    pub deleted: i64,
}

impl Ledger {
    /// `unique_processed = rows + expired + deleted`.
    pub fn holds(&self) -> bool {
        self.unique_processed == self.rows + self.expired + self.deleted
    }
}

/// The group's [`Ledger`] from one snapshot of the database.
pub async fn ledger(
    conn: &mut AsyncPgConnection,
    group: &str,
    kafka_topic: &str,
) -> Result<Ledger, DbError> {
    Ok(diesel::sql_query(
        "SELECT (SELECT COALESCE(sum(unique_processed), 0) FROM partition_progress \
                  WHERE consumer_group = $1 AND kafka_topic = $2)::int8 AS unique_processed, \
                (SELECT count(*) FROM events)::int8 AS rows, \
                COALESCE(sum(expired), 0)::int8 AS expired, \
                COALESCE(sum(deleted), 0)::int8 AS deleted \
         FROM topic_counters WHERE consumer_group = $1 AND kafka_topic = $2",
    )
    .bind::<Text, _>(group)
    .bind::<Text, _>(kafka_topic)
    .get_result(conn)
    .await?)
}

/// What `events` occupies on disk, and its vacuum state (the soak records it per minute).
#[derive(Debug, Clone, Copy, PartialEq, Eq, QueryableByName)]
pub struct TableSize {
    /// Heap and TOAST.
    #[diesel(sql_type = Int8)]
    pub table_bytes: i64,
    #[diesel(sql_type = Int8)]
    pub index_bytes: i64,
    #[diesel(sql_type = Int8)]
    pub dead_rows: i64,
    #[diesel(sql_type = Int8)]
    pub autovacuums: i64,
}

/// The size of `events` now.
pub async fn events_size(conn: &mut AsyncPgConnection) -> Result<TableSize, DbError> {
    Ok(diesel::sql_query(
        "SELECT pg_table_size('events')::int8 AS table_bytes, \
                pg_indexes_size('events')::int8 AS index_bytes, \
                COALESCE(n_dead_tup, 0)::int8 AS dead_rows, \
                COALESCE(autovacuum_count, 0)::int8 AS autovacuums \
         FROM pg_stat_user_tables WHERE relname = 'events'",
    )
    .get_result(conn)
    .await?)
}
