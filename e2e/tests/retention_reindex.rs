//! Under retention the enforcer rebuilds the payload GIN index online, at most once per
//! `LOGAGG_RETENTION_REINDEX_INTERVAL_MS` in which it removed rows (GIN keeps the keys of
//! removed rows: docs/RETENTION.md): after rows expired the index is a new relation, valid,
//! still answers payload searches, and the ledger stays exact. Nothing is rebuilt while no rows
//! go.

use crate::retention_support;

use logagg_testkit::http::event_ids;
use logagg_testkit::{wait_for, TestEnv};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use retention_support::{backdate, plan, quick_enforcer, set_retention, TIMEOUT};
use serde_json::json;

#[derive(diesel::QueryableByName, Debug, PartialEq, Eq, Clone, Copy)]
struct IndexState {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    filenode: i64,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    valid: bool,
}

async fn payload_index(env: &TestEnv) -> IndexState {
    use diesel_async::RunQueryDsl;
    let mut conn = env.pool.get().await.expect("connection");
    diesel::sql_query(
        "SELECT c.relfilenode::int8 AS filenode, i.indisvalid AS valid FROM pg_class c \
         JOIN pg_index i ON i.indexrelid = c.oid WHERE c.relname = 'events_payload_idx'",
    )
    .get_result(&mut conn)
    .await
    .expect("the payload index")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_payload_index_is_rebuilt_online_once_rows_expire() {
    let (env, api) = TestEnv::with_api("retidx", 2, &[]).await;
    let mut vars = quick_enforcer(500).to_vec();
    vars.push(("LOGAGG_RETENTION_REINDEX_INTERVAL_MS", "500".into()));
    let _consumer = env.spawn_consumer_with("c1", &vars).await;
    set_retention(&api, json!({"retention_seconds": 600})).await;

    let old = plan(1_000, 2, 11, "old");
    env.send_plan(&old).await;
    env.wait_rows(TIMEOUT, old.distinct as i64).await;
    // Nothing removed yet: the index is left alone, whatever the interval.
    let untouched = payload_index(&env).await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(
        payload_index(&env).await,
        untouched,
        "rebuilt with nothing removed"
    );

    env.execute(&backdate("true", "1 hour")).await;
    let rebuilt = wait_for(TIMEOUT, "the payload index rebuilt", || async {
        let now = payload_index(&env).await;
        (now.filenode != untouched.filenode).then_some(now)
    })
    .await;
    assert!(rebuilt.valid, "{rebuilt:?}");

    let new = plan(200, 2, 12, "new");
    env.send_plan(&new).await;
    env.wait_rows(TIMEOUT, new.distinct as i64).await;
    let ledger = env.assert_ledger("after the rebuild").await;
    assert_eq!(ledger.expired, old.distinct as i64, "{ledger:?}");
    let sample = new.send(0);
    let filter = serde_json::to_string(&sample.payload).expect("payload");
    let filter = utf8_percent_encode(&filter, NON_ALPHANUMERIC);
    let (status, found) = api.get(&format!("/events?payload={filter}")).await;
    assert_eq!(status, 200, "{found}");
    assert!(
        event_ids(&found).contains(&sample.event_id),
        "a payload search after the rebuild: {found}"
    );
}
