//! PostgreSQL stopped and started under a running consumer. It takes the shared PostgreSQL
//! down, so it lives in the `disruptive` test binary.

use std::time::Duration;

use logagg_producer::generator::{LoadPlan, LoadSpec};
use logagg_testkit::process::script;
use logagg_testkit::TestEnv;

/// Starts PostgreSQL again even when the test fails half-way.
struct RestartPostgres;

impl Drop for RestartPostgres {
    fn drop(&mut self) {
        script("scripts/pg.sh", &["start"]);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_restart_during_consumption_loses_nothing() {
    let _alone = crate::ONE_AT_A_TIME.lock().await;
    let env = TestEnv::new("pgrestart", 3).await;
    let plan = LoadPlan::new(LoadSpec {
        events: 20_000,
        duplicate_ratio: 0.3,
        topics: 8,
        payload_bytes: 64,
        seed: 3,
        topic_prefix: "pg".into(),
    });
    let consumer = env.spawn_consumer("c").await;
    let sender = env.spawn_paced_sender(&plan, 500, Duration::from_millis(20));
    env.wait_counts(Duration::from_secs(60), "ingest under way", |c| {
        c.received > 1_000
    })
    .await;

    let guard = RestartPostgres;
    script("scripts/pg.sh", &["stop"]);
    consumer
        .wait_health_status(503, Duration::from_secs(30))
        .await;
    let (_, health) = consumer.get("/health").await;
    assert_eq!(health["database"]["status"], "down", "{health}");
    drop(guard); // starts PostgreSQL
    consumer
        .wait_health_status(200, Duration::from_secs(60))
        .await;

    sender.await.expect("sender");
    env.assert_golden(&plan, Duration::from_secs(120)).await;
}
