//! Every kcat / Kafka CLI recipe of redpanda/README.md, run as written against the test's own
//! topic and consumer group (the README's `events`, `logagg`, broker, scratch files and
//! example times substituted), and checked through the tools' output, the running
//! logagg-consumer's effect in PostgreSQL and the API's /stats. The commands are extracted from
//! the README by their `<!-- recipe: NAME tool=TOOL -->` markers (logagg_testkit::recipes), so a
//! changed recipe is a changed test. rpk is not available here; its forms are only checked for
//! shape. The seek recipes are in ops_seek_recipes.rs.

use std::collections::BTreeSet;
use std::time::Duration;

use logagg_testkit::process::run_shell;
use logagg_testkit::recipes::{
    self, readme_recipes, run_recipe, scratch_dir, Target, README, README_BROKERS,
};
use logagg_testkit::services::brokers;
use logagg_testkit::tools::{
    caught_up, parse_console_consume, parse_get_offsets, parse_kcat_consume, GroupRow,
};
use logagg_testkit::truth::{all, assert_stats_match};
use logagg_testkit::{event, TestEnv};
use serde_json::Value;

const TIMEOUT: Duration = Duration::from_secs(90);
/// The event of the produce recipes.
const RECIPE_TOPIC: &str = "orders";
const RECIPE_EVENT_ID: &str = "0193a8f0-7c4e-7b2a-9d1e-3f5a6b7c8d90";

/// Every (recipe, tool) of the README that can run here, each exercised by this file or
/// ops_seek_recipes.rs. A recipe added to the README without a test fails
/// `every_runnable_recipe_is_exercised`.
const EXERCISED: &[(&str, &str)] = &[
    ("create-topic", "kafka-cli"),
    ("produce", "kcat"),
    ("produce", "kafka-cli"),
    ("consume", "kcat"),
    ("consume", "kafka-cli"),
    ("describe-group", "kafka-cli"),
    ("end-offsets", "kafka-cli"),
    ("seek-earliest", "kafka-cli"),
    ("seek-timestamp", "kafka-cli"),
    ("offsets-for-time", "kafka-cli"),
    ("offsets-for-time", "kcat"),
    ("seek-offsets", "kafka-cli"),
];

/// `scripts/kafka-tool.sh topics --bootstrap-server BROKERS ARGS`.
async fn topics(args: &[&str]) -> logagg_testkit::process::Ran {
    let command = format!(
        "scripts/kafka-tool.sh topics --bootstrap-server {} {}",
        brokers(),
        args.join(" ")
    );
    run_shell(&command, TIMEOUT).await
}

/// The describe-group recipe until `done` holds, within [`TIMEOUT`].
async fn describe_until(
    env: &TestEnv,
    dir: &std::path::Path,
    what: &str,
    done: impl Fn(&std::collections::BTreeMap<i32, GroupRow>) -> bool,
) -> std::collections::BTreeMap<i32, GroupRow> {
    recipes::describe_until(env, dir, TIMEOUT, what, done).await
}

#[test]
fn every_runnable_recipe_is_exercised() {
    let recipes = readme_recipes();
    let mut seen = BTreeSet::new();
    for r in &recipes {
        assert!(
            seen.insert((r.name.clone(), r.tool.clone())),
            "{README}:{}: duplicate recipe {} tool={}",
            r.line,
            r.name,
            r.tool
        );
    }
    let runnable: BTreeSet<(String, String)> = seen
        .iter()
        .filter(|(_, tool)| tool != "rpk")
        .cloned()
        .collect();
    let exercised: BTreeSet<(String, String)> = EXERCISED
        .iter()
        .map(|(n, t)| (n.to_string(), t.to_string()))
        .collect();
    assert_eq!(
        runnable, exercised,
        "kcat / Kafka CLI recipes in {README} vs the ones this file exercises"
    );
    // Each operation has its rpk command and a kcat or Kafka CLI equivalent.
    let names: BTreeSet<&str> = recipes.iter().map(|r| r.name.as_str()).collect();
    for name in names {
        let tools: BTreeSet<&str> = recipes
            .iter()
            .filter(|r| r.name == name)
            .map(|r| r.tool.as_str())
            .collect();
        let runnable_here = tools.contains("kcat") || tools.contains("kafka-cli");
        assert!(runnable_here, "recipe {name} has no kcat / Kafka CLI form");
        // offsets-for-time is a look-up without an rpk equivalent (rpk seeks directly by time).
        assert!(
            tools.contains("rpk") || name == "offsets-for-time",
            "recipe {name} has no rpk form: {tools:?}"
        );
    }
    for r in recipes.iter().filter(|r| r.tool == "rpk") {
        assert!(
            r.body.contains("rpk "),
            "{README}:{}: rpk recipe without rpk",
            r.line
        );
        assert!(
            r.body.contains(&format!("-X brokers={README_BROKERS}")),
            "{README}:{}: rpk recipe without -X brokers=",
            r.line
        );
    }
    for r in recipes.iter().filter(|r| r.tool == "kcat") {
        assert!(
            r.body.contains("kcat "),
            "{README}:{}: kcat recipe without kcat",
            r.line
        );
    }
    for r in recipes.iter().filter(|r| r.tool == "kafka-cli") {
        assert!(
            r.body.contains("scripts/kafka-tool.sh "),
            "{README}:{}: Kafka CLI recipe without scripts/kafka-tool.sh",
            r.line
        );
    }
}

/// create-topic (Kafka CLI): creates a topic with the README's partitions and configuration,
/// and is idempotent.
#[tokio::test(flavor = "multi_thread")]
async fn create_topic_recipe() {
    let env = TestEnv::new("opscreate", 1).await;
    let dir = scratch_dir(&env.name);
    let topic = format!("{}.created", env.topic);
    let t = Target {
        topic: &topic,
        group: &env.group,
        dir: &dir,
        time: None,
    };
    run_recipe("create-topic", "kafka-cli", &t).await;
    run_recipe("create-topic", "kafka-cli", &t).await; // --if-not-exists: a second run is fine
    let described = topics(&["--describe", "--topic", &topic]).await;
    assert!(described.success, "{described}");
    let summary = described
        .stdout
        .lines()
        .find(|l| l.contains("PartitionCount:"))
        .unwrap_or_else(|| panic!("{described}"));
    assert!(summary.contains("PartitionCount: 6"), "{summary}");
    assert!(summary.contains("ReplicationFactor: 1"), "{summary}");
    assert!(summary.contains("cleanup.policy=delete"), "{summary}");
    assert!(summary.contains("retention.ms=604800000"), "{summary}");
    let deleted = topics(&["--delete", "--topic", &topic]).await;
    assert!(deleted.success, "{deleted}");
}

/// produce (kcat, Kafka CLI), consume (kcat, Kafka CLI), end-offsets and describe-group:
/// the recipes' event lands on the partition logagg's own producer uses for its key, is stored
/// once (the second copy is a duplicate), and the tools show the group's offsets and lag as
/// /stats does.
#[tokio::test(flavor = "multi_thread")]
async fn produce_consume_and_describe_recipes() {
    let env = TestEnv::new("opsrecipes", 6).await;
    let dir = scratch_dir(&env.name);
    let t = Target::of(&env, &dir);
    let api = env.spawn_api().await;

    // The same event through kcat and through the console producer, then one of logagg's
    // producer with the same key, for reference.
    run_recipe("produce", "kcat", &t).await;
    run_recipe("produce", "kafka-cli", &t).await;
    let reference = env
        .producer()
        .publish(&[event(RECIPE_TOPIC, "e2e-reference")])
        .await
        .expect("publish");
    let p = reference[0].partition;
    assert_eq!(reference[0].offset, 2, "kcat and the console producer put key {RECIPE_TOPIC} on another partition than logagg's producer (murmur2)");

    // Both consume recipes show key, partition and offset of the three records.
    let kcat = parse_kcat_consume(&run_recipe("consume", "kcat", &t).await.stdout);
    let console_ran = run_recipe("consume", "kafka-cli", &t).await;
    let console = parse_console_consume(&console_ran.stdout);
    assert_eq!(kcat.len(), 3, "{kcat:?}");
    assert_eq!(kcat, console, "kcat and the console consumer disagree");
    for (offset, shown) in kcat.iter().enumerate() {
        assert_eq!(
            (shown.partition, shown.offset, shown.key.as_str()),
            (p, offset as i64, RECIPE_TOPIC)
        );
        let value: Value = serde_json::from_str(&shown.value).expect("the value is the event JSON");
        let expected_id = if offset < 2 {
            RECIPE_EVENT_ID
        } else {
            "e2e-reference"
        };
        assert_eq!(value["event_id"], expected_id, "{value}");
    }

    // end-offsets: the log end of every partition, as the broker reports its watermarks.
    let ends = parse_get_offsets(
        &run_recipe("end-offsets", "kafka-cli", &t).await.stdout,
        &env.topic,
    );
    assert_eq!(ends, env.end_offsets().await);
    assert_eq!(ends.values().sum::<i64>(), 3);
    assert_eq!(ends[&p], 3);

    // The consumer stores the event once and counts the second copy as a duplicate.
    let consumer = env.spawn_consumer("c1").await;
    let counts = env
        .wait_counts(TIMEOUT, "3 records received", |c| c.received == 3)
        .await;
    assert_eq!(all(&counts), (3, 2, 1, 0, 0));
    assert_eq!(env.rows().await, 2);
    let (status, stored) = api
        .get(&format!("/events/{RECIPE_TOPIC}/{RECIPE_EVENT_ID}"))
        .await;
    assert_eq!(status, 200, "{stored}");
    assert_eq!(stored["source"], "checkout");
    assert_eq!(stored["timestamp"], "2026-11-25T12:00:00.000000Z");

    // describe-group: committed offset = log end, lag 0, every partition owned by the member.
    let rows = describe_until(
        &env,
        &dir,
        "the group to commit up to the log end",
        |rows| caught_up(rows, &ends),
    )
    .await;
    assert_eq!(rows.len(), 6, "{rows:?}");
    assert!(
        rows.values().all(|r| r.consumer_id.is_some()),
        "a partition without an owner: {rows:?}"
    );
    let owners: BTreeSet<&String> = rows
        .values()
        .filter_map(|r| r.consumer_id.as_ref())
        .collect();
    assert_eq!(
        owners.len(),
        1,
        "one consumer owns all partitions: {rows:?}"
    );
    let s = api.api().stats().await;
    assert_eq!(s.consumer_lag, Some(0), "{s:?}");
    assert_stats_match(&s, &env.counts().await);

    // With the consumer stopped, new records are lag in the tool and in /stats alike.
    consumer.terminate_cleanly().await;
    let more: Vec<_> = (0..4)
        .map(|i| event(RECIPE_TOPIC, &format!("e2e-more-{i}")))
        .collect();
    env.producer().publish(&more).await.expect("publish");
    let rows = describe_until(
        &env,
        &dir,
        &format!("a lag of 4 on partition {p}"),
        |rows| rows.get(&p).is_some_and(|r| r.lag == Some(4)),
    )
    .await;
    assert_eq!(rows[&p].current, Some(3));
    assert_eq!(rows[&p].log_end, Some(7));
    assert!(
        rows.values().all(|r| r.consumer_id.is_none()),
        "no member after SIGTERM: {rows:?}"
    );
    assert_eq!(rows.values().filter_map(|r| r.lag).sum::<i64>(), 4);
    let s = api.api().stats().await;
    assert_eq!(s.consumer_lag, Some(4), "{s:?}");
    assert_eq!(
        s.lag_per_partition.as_ref().map(|lag| lag[&p.to_string()]),
        Some(4),
        "{s:?}"
    );

    // Started again, it catches up: lag 0 in both, 4 more rows.
    let _consumer = env.spawn_consumer("c2").await;
    let ends = env.end_offsets().await;
    describe_until(&env, &dir, "lag 0 after the restart", |rows| {
        caught_up(rows, &ends)
    })
    .await;
    let counts = env
        .wait_counts(TIMEOUT, "7 records received", |c| c.received == 7)
        .await;
    assert_eq!(all(&counts), (7, 6, 1, 0, 0));
    assert_eq!(env.rows().await, 6);
    let s = api.api().stats().await;
    assert_eq!(s.consumer_lag, Some(0), "{s:?}");
    assert_stats_match(&s, &counts);
}
