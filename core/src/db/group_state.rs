//! A consumer group's own rows (counters, progress, dead letters), forgotten together when
//! `replay --rebuild` re-reads its Kafka topic from scratch.

use diesel::sql_types::Text;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::DbError;

/// The tables keyed by `(consumer_group, kafka_topic)`: everything a group knows of its topic
/// besides the events themselves.
pub const GROUP_TABLES: [&str; 3] = ["topic_counters", "partition_progress", "dead_letters"];

/// Deletes the group's rows of `kafka_topic` from every table of [`GROUP_TABLES`]; the rows
/// deleted per table, in that order. Run it inside the rebuild's transaction.
pub async fn forget(
    conn: &mut AsyncPgConnection,
    group: &str,
    kafka_topic: &str,
) -> Result<Vec<(&'static str, usize)>, DbError> {
    let mut deleted = Vec::with_capacity(GROUP_TABLES.len());
    for table in GROUP_TABLES {
        // The table name is one of the constants above, never input.
        let rows = diesel::sql_query(format!(
            "DELETE FROM {table} WHERE consumer_group = $1 AND kafka_topic = $2"
        ))
        .bind::<Text, _>(group)
        .bind::<Text, _>(kafka_topic)
        .execute(conn)
        .await?;
        deleted.push((table, rows));
    }
    Ok(deleted)
}
