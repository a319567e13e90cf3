//! `logagg-consumer replay`: refuses while consumers run, replays from earliest, from a time
//! and from explicit offsets with exact accounting, and `--rebuild` restores a lost database.

use std::time::Duration;

use logagg_producer::generator::{LoadPlan, LoadSpec};
use logagg_testkit::truth::fresh;
use logagg_testkit::TestEnv;

const TIMEOUT: Duration = Duration::from_secs(120);

fn replay(env: &TestEnv, args: &[&str]) -> (bool, String) {
    let args: Vec<&str> = std::iter::once("replay")
        .chain(args.iter().copied())
        .collect();
    let ran = env.run("logagg-consumer", &args);
    (ran.success, ran.text())
}

fn plan(events: usize, seed: u64) -> LoadPlan {
    LoadPlan::new(LoadSpec {
        events,
        duplicate_ratio: 0.25,
        topics: 4,
        payload_bytes: 32,
        seed,
        topic_prefix: "rp".into(),
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn replay_command_moves_the_group_and_keeps_fresh_counters_exact() {
    let env = TestEnv::new("replaycmd", 2).await;
    let first = plan(2_000, 1);
    env.send_plan(&first).await;
    let consumer = env.spawn_consumer("c1").await;
    env.wait_counts(TIMEOUT, "first round", |c| c.received == 2_000)
        .await;

    let (ok, text) = replay(&env, &["--to", "earliest"]);
    assert!(
        !ok && text.contains("live member"),
        "must refuse while consumers run: {text}"
    );
    assert!(consumer.terminate().await.success());

    // A point in time between two rounds: only the second round is re-read.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let between = chrono::Utc::now();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let second = plan(1_000, 2);
    env.send_plan(&second).await;
    let consumer = env.spawn_consumer("c2").await;
    env.wait_counts(TIMEOUT, "second round", |c| c.received == 3_000)
        .await;
    assert!(consumer.terminate().await.success());
    let before = env.counts().await;
    let rows = env.rows().await;
    assert_eq!(
        before.unique_processed,
        (first.distinct + second.distinct) as i64
    );

    let (ok, text) = replay(&env, &["--to", &between.to_rfc3339()]);
    assert!(ok, "{text}");
    let consumer = env.spawn_consumer("c3").await;
    let counts = env
        .wait_counts(TIMEOUT, "1000 replayed", |c| c.replayed >= 1_000)
        .await;
    assert_eq!(counts.replayed, 1_000);
    assert!(consumer.terminate().await.success());

    // Explicit offsets: partition 0 from offset 10.
    let high0 = env.end_offsets().await[&0];
    let (ok, text) = replay(&env, &["--to", "0:10"]);
    assert!(ok, "{text}");
    let consumer = env.spawn_consumer("c4").await;
    let expected = 1_000 + (high0 - 10);
    let counts = env
        .wait_counts(TIMEOUT, "partition 0 replayed", |c| c.replayed >= expected)
        .await;
    assert_eq!(counts.replayed, expected);
    assert!(consumer.terminate().await.success());

    // Replays never touch the fresh counters or the rows.
    let after = env.counts().await;
    assert_eq!(fresh(&after), fresh(&before));
    assert_eq!(env.rows().await, rows);

    // Rebuild: a lost database comes back from the log, counted afresh.
    let (ok, text) = replay(&env, &["--rebuild"]);
    assert!(ok, "{text}");
    assert_eq!(env.rows().await, 0);
    let _consumer = env.spawn_consumer("c5").await;
    let counts = env
        .wait_counts(TIMEOUT, "rebuild", |c| c.received == 3_000)
        .await;
    assert_eq!(
        counts.unique_processed,
        (first.distinct + second.distinct) as i64
    );
    assert_eq!(
        counts.duplicate_dropped,
        (first.duplicates + second.duplicates) as i64
    );
    assert_eq!(counts.replayed, 0);
    assert_eq!(env.rows().await, rows);
}
