//! Index upkeep under retention: GIN's vacuum empties a key's posting list but keeps the key, so
//! an index over values unique to each event (the payload's `jsonb_path_ops` index, when
//! payloads carry ids) grows for as long as rows come and go (docs/RETENTION.md, the soak).
//! The retention enforcer rebuilds it online, at most once per interval, with
//! `REINDEX INDEX CONCURRENTLY` (inserts and reads go on; it cannot run in a transaction).

use diesel::sql_types::BigInt;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::DbError;

/// The indexes whose keys retention cannot reclaim.
pub const REBUILT_INDEXES: [&str; 1] = ["events_payload_idx"];

#[derive(diesel::QueryableByName)]
struct Size {
    #[diesel(sql_type = BigInt)]
    bytes: i64,
}

/// An index's size in bytes.
pub async fn index_bytes(conn: &mut AsyncPgConnection, index: &str) -> Result<i64, DbError> {
    let size: Size = diesel::sql_query("SELECT pg_relation_size($1::regclass)::int8 AS bytes")
        .bind::<diesel::sql_types::Text, _>(index)
        .get_result(conn)
        .await?;
    Ok(size.bytes)
}

/// Rebuilds `index` online; returns its size before and after. A rebuild interrupted earlier
/// leaves an invalid `<index>_ccnew` copy behind, which is dropped first.
pub async fn rebuild(conn: &mut AsyncPgConnection, index: &str) -> Result<(i64, i64), DbError> {
    // Names come from REBUILT_INDEXES only: never from input.
    debug_assert!(REBUILT_INDEXES.contains(&index));
    #[derive(diesel::QueryableByName)]
    struct Leftover {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
    }
    let leftovers: Vec<Leftover> = diesel::sql_query(
        "SELECT c.relname::text AS name FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid \
         WHERE NOT i.indisvalid AND c.relname LIKE $1 || '_ccnew%'",
    )
    .bind::<diesel::sql_types::Text, _>(index)
    .load(conn)
    .await?;
    for leftover in leftovers {
        diesel::sql_query(format!(
            "DROP INDEX CONCURRENTLY IF EXISTS \"{}\"",
            leftover.name
        ))
        .execute(conn)
        .await?;
    }
    let before = index_bytes(conn, index).await?;
    diesel::sql_query(format!("REINDEX INDEX CONCURRENTLY {index}"))
        .execute(conn)
        .await?;
    Ok((before, index_bytes(conn, index).await?))
}
