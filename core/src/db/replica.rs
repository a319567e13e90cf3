//! The read replica (`LOGAGG_DATABASE_READ_URL`): how far a streaming standby's replay is
//! behind its primary.

use diesel::sql_types::{Bool, Nullable};
use diesel::QueryableByName;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::DbError;

#[derive(QueryableByName)]
struct Replay {
    #[diesel(sql_type = Bool)]
    in_recovery: bool,
    #[diesel(sql_type = Nullable<diesel::sql_types::Int8>)]
    lag_ms: Option<i64>,
}

/// Milliseconds the standby's replay is behind: 0 when it has replayed everything it received
/// (an idle primary does not make it stale), else the age of the last transaction it replayed.
/// `None` when the server is not a standby (a primary given as the read URL: never stale) or
/// has replayed nothing yet.
pub async fn replay_lag_ms(conn: &mut AsyncPgConnection) -> Result<Option<i64>, DbError> {
    let replay: Replay = diesel::sql_query(
        "SELECT pg_is_in_recovery() AS in_recovery, \
                CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0 \
                     ELSE (EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()) * 1000)::int8 \
                END AS lag_ms",
    )
    .get_result(conn)
    .await?;
    Ok(if replay.in_recovery {
        replay.lag_ms
    } else {
        Some(0)
    })
}
