//! Each documented query form of `GET /events` is served by an index: EXPLAIN of the exact
//! statement the API runs, on a realistically sized table (bulk-generated), shows no
//! sequential scan of `events`.

use logagg_core::db::{query_forms, search};
use logagg_testkit::TestEnv;

const ROWS: i64 = 200_000;

#[tokio::test(flavor = "multi_thread")]
async fn every_documented_form_uses_an_index() {
    let env = TestEnv::new("explain", 1).await;
    env.execute(&query_forms::generate_sql(1, ROWS)).await;
    env.execute("ANALYZE events").await;
    let mut conn = env.pool.get().await.expect("connection");
    let mut failures = Vec::new();
    for (name, query) in query_forms::forms() {
        let plan = search::explain(&mut conn, &query).await.expect("explain");
        let text = plan.join("\n");
        eprintln!("== {name}\n{text}");
        if text.contains("Seq Scan on events") {
            failures.push(format!("{name}:\n{text}"));
        }
    }
    assert!(
        failures.is_empty(),
        "sequential scans:\n{}",
        failures.join("\n\n")
    );
}
