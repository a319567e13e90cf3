//! The seek recipes of redpanda/README.md (seek-earliest, offsets-for-time, seek-timestamp,
//! seek-offsets), run as written against the test's own topic and group while its consumers
//! are stopped, each followed by a restart: the group's offsets move where the README says
//! and the consumer re-reads exactly those records. See ops_recipes.rs for the others.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use logagg_core::db::progress::Counts;
use logagg_testkit::process::run_shell;
use logagg_testkit::recipes::{
    self, localize, recipe, run_recipe, scratch_dir, Target, RECIPE_TIMEOUT,
};
use logagg_testkit::tools::{
    caught_up, parse_get_offsets, parse_kcat_query, parse_reset, GroupRow,
};
use logagg_testkit::truth::{all, assert_stats_match};
use logagg_testkit::{event, wait_for, Service, TestEnv};

const TIMEOUT: Duration = Duration::from_secs(90);

/// Starts a consumer and waits until it re-read `replayed` records in all; its counters.
async fn replay_with(env: &TestEnv, label: &str, replayed: i64, what: &str) -> (Service, Counts) {
    let consumer = env.spawn_consumer(label).await;
    let counts = env
        .wait_counts(TIMEOUT, what, |c| c.replayed >= replayed)
        .await;
    (consumer, counts)
}

/// The describe-group recipe until `done` holds, within [`TIMEOUT`].
async fn describe_until(
    env: &TestEnv,
    dir: &std::path::Path,
    what: &str,
    done: impl Fn(&BTreeMap<i32, GroupRow>) -> bool,
) -> BTreeMap<i32, GroupRow> {
    recipes::describe_until(env, dir, TIMEOUT, what, done).await
}

/// The seek recipes, each while the consumers are stopped, followed by a restart: the group's
/// offsets move where the README says, the consumer re-reads exactly those records (counted as
/// `replayed`), restores rows that were lost, and leaves the fresh counters alone.
#[tokio::test(flavor = "multi_thread")]
async fn seek_recipes_replay_through_the_consumer() {
    let env = TestEnv::new("opsseek", 6).await;
    let dir = scratch_dir(&env.name);
    let api = env.spawn_api().await;
    let consumer = env.spawn_consumer("c1").await;

    // Batch A: 60 events over 60 logical topics, so that every partition holds several.
    let batch_a: Vec<_> = (0..60)
        .map(|i| event(&format!("seek.{i}"), &format!("a-{i}")))
        .collect();
    let acks_a = env.producer().publish(&batch_a).await.expect("publish A");
    let mut per_partition_a: BTreeMap<i32, i64> = BTreeMap::new();
    for ack in &acks_a {
        *per_partition_a.entry(ack.partition).or_default() += 1;
    }
    assert!(
        (0..6).all(|p| per_partition_a.get(&p).copied().unwrap_or(0) >= 3),
        "the test needs at least 3 records in every partition: {per_partition_a:?}"
    );
    env.wait_counts(TIMEOUT, "batch A stored", |c| c.received == 60)
        .await;
    let ends = env.end_offsets().await;
    describe_until(&env, &dir, "batch A committed", |rows| {
        caught_up(rows, &ends)
    })
    .await;

    // While a member is active, the Kafka CLI refuses to reset: it says so and exits 0 (!),
    // and nothing moves. (The README tells operators to stop the consumers first.)
    let recipe_earliest = recipe("seek-earliest", "kafka-cli");
    let refused = run_shell(
        &localize(&recipe_earliest, &Target::of(&env, &dir)),
        RECIPE_TIMEOUT,
    )
    .await;
    assert!(
        format!("{}{}", refused.stdout, refused.stderr).contains("can only be reset if the group"),
        "expected the tool to refuse while the consumer runs:\n{refused}"
    );
    assert!(
        parse_reset(&refused.stdout, &env.group, &env.topic).is_empty(),
        "{refused}"
    );
    describe_until(
        &env,
        &dir,
        "offsets unchanged by the refused reset",
        |rows| caught_up(rows, &ends),
    )
    .await;

    // --- seek-earliest, after losing 10 rows: everything is re-read and the rows come back.
    consumer.terminate_cleanly().await;
    let lost = env.execute("DELETE FROM events WHERE event_id IN ('a-0','a-1','a-2','a-3','a-4','a-5','a-6','a-7','a-8','a-9')").await;
    assert_eq!(lost, 10);
    let reset = parse_reset(
        &run_recipe("seek-earliest", "kafka-cli", &Target::of(&env, &dir))
            .await
            .stdout,
        &env.group,
        &env.topic,
    );
    assert_eq!(
        reset,
        (0..6).map(|p| (p, 0)).collect::<BTreeMap<i32, i64>>(),
        "seek-earliest output"
    );
    let rows = describe_until(&env, &dir, "the group at offset 0", |rows| rows.len() == 6).await;
    for (p, row) in &rows {
        assert_eq!(
            (row.current, row.lag),
            (Some(0), Some(ends[p])),
            "partition {p}: {row:?}"
        );
    }
    // /stats counts records not processed yet, not the replay backlog (see the README).
    let s = api.api().stats().await;
    assert_eq!(s.consumer_lag, Some(0), "{s:?}");
    let (consumer, counts) = replay_with(&env, "c2", 60, "60 records replayed").await;
    assert_eq!(
        all(&counts),
        (60, 60, 0, 0, 60),
        "a replay counts as replayed only"
    );
    assert_eq!(env.rows().await, 60, "the 10 lost rows are restored");
    describe_until(&env, &dir, "caught up after the replay", |rows| {
        caught_up(rows, &ends)
    })
    .await;
    assert_stats_match(&api.api().stats().await, &counts);

    // --- offsets-for-time and seek-timestamp: batch B is produced after time T; seeking the
    // group to T re-reads exactly batch B.
    let t_ms = Utc::now().timestamp_millis() + 1;
    wait_for(Duration::from_secs(5), "the clock to pass T", || async {
        (Utc::now().timestamp_millis() > t_ms).then_some(())
    })
    .await;
    let time = DateTime::from_timestamp_millis(t_ms).expect("time");
    // Only topics of partitions 0..=4: partition 5 gets no record after T (the "none" case).
    let batch_b: Vec<_> = (0..60)
        .filter(|&i| acks_a[i].partition != 5)
        .take(30)
        .map(|i| event(&format!("seek.{i}"), &format!("b-{i}")))
        .collect();
    assert_eq!(batch_b.len(), 30);
    let acks_b = env.producer().publish(&batch_b).await.expect("publish B");
    let mut first_b: BTreeMap<i32, i64> = BTreeMap::new();
    for ack in &acks_b {
        let first = first_b.entry(ack.partition).or_insert(ack.offset);
        *first = (*first).min(ack.offset);
    }
    let counts = env
        .wait_counts(TIMEOUT, "batch B stored", |c| c.received == 90)
        .await;
    assert_eq!((counts.unique_processed, counts.replayed), (90, 60));
    let ends = env.end_offsets().await;
    describe_until(&env, &dir, "batch B committed", |rows| {
        caught_up(rows, &ends)
    })
    .await;

    let t = Target {
        time: Some(time),
        ..Target::of(&env, &dir)
    };
    for (p, first) in &first_b {
        assert_eq!(
            *first, per_partition_a[p],
            "B follows A directly in partition {p}"
        );
    }
    let looked_up = parse_get_offsets(
        &run_recipe("offsets-for-time", "kafka-cli", &t).await.stdout,
        &env.topic,
    );
    assert_eq!(
        looked_up, first_b,
        "Kafka CLI: first offset at or after T, only for partitions that have one"
    );
    let kcat_ran = run_recipe("offsets-for-time", "kcat", &t).await;
    let kcat_looked_up = parse_kcat_query(&kcat_ran.stdout, &env.topic);
    let expected_kcat: BTreeMap<i32, i64> = (0..6)
        .map(|p| (p, first_b.get(&p).copied().unwrap_or(-1)))
        .collect();
    assert_eq!(
        kcat_looked_up, expected_kcat,
        "kcat -Q: first offset at or after T, -1 when none\n{kcat_ran}"
    );

    consumer.terminate_cleanly().await;
    let reset = parse_reset(
        &run_recipe("seek-timestamp", "kafka-cli", &t).await.stdout,
        &env.group,
        &env.topic,
    );
    let expected: BTreeMap<i32, i64> = (0..6)
        .map(|p| (p, first_b.get(&p).copied().unwrap_or(ends[&p])))
        .collect();
    assert_eq!(
        reset, expected,
        "seek-timestamp: each partition to its first record at or after T, else to its end"
    );
    let (consumer, counts) = replay_with(&env, "c3", 90, "batch B replayed").await;
    assert_eq!(
        all(&counts),
        (90, 90, 0, 0, 90),
        "exactly batch B is re-read"
    );
    describe_until(&env, &dir, "caught up after the time seek", |rows| {
        caught_up(rows, &ends)
    })
    .await;

    // --- seek-offsets: the partitions listed in the recipe's file move, the others stay.
    consumer.terminate_cleanly().await;
    let ran = run_recipe("seek-offsets", "kafka-cli", &Target::of(&env, &dir)).await;
    let file = std::fs::read_dir(&dir)
        .expect("scratch dir")
        .map(|e| e.expect("entry").path())
        .find(|p| p.extension().is_some_and(|e| e == "csv"))
        .expect("the recipe writes its CSV file into the scratch dir");
    let wanted: BTreeMap<i32, i64> = std::fs::read_to_string(&file)
        .expect("csv")
        .lines()
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            assert_eq!(cells[0], env.topic, "{l}");
            (
                cells[1].parse().expect("partition"),
                cells[2].parse().expect("offset"),
            )
        })
        .collect();
    assert!(wanted.len() >= 2, "{wanted:?}");
    let reset = parse_reset(&ran.stdout, &env.group, &env.topic);
    assert_eq!(reset, wanted, "seek-offsets output\n{ran}");
    let rows = describe_until(&env, &dir, "the group at the file's offsets", |rows| {
        rows.len() == 6
    })
    .await;
    for (p, row) in &rows {
        assert_eq!(
            row.current,
            Some(wanted.get(p).copied().unwrap_or(ends[p])),
            "partition {p}: {rows:?}"
        );
    }
    let expected_replays: i64 = wanted.iter().map(|(p, offset)| ends[p] - offset).sum();
    assert!(expected_replays > 0);
    let _consumer = env.spawn_consumer("c4").await;
    let counts = env
        .wait_counts(TIMEOUT, "the listed partitions replayed", |c| {
            c.replayed >= 90 + expected_replays
        })
        .await;
    assert_eq!(all(&counts), (90, 90, 0, 0, 90 + expected_replays));
    describe_until(&env, &dir, "caught up after the offset seek", |rows| {
        caught_up(rows, &ends)
    })
    .await;
    assert_eq!(env.rows().await, 90);
    let s = api.api().stats().await;
    assert_stats_match(&s, &counts);
    assert_eq!(s.consumer_lag, Some(0), "{s:?}");
}
