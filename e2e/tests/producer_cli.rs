//! `logagg-producer`: the load generator's golden check through Kafka and through the HTTP API,
//! NDJSON publishing, and the record format as any Kafka client (kcat) sees it.

use std::process::Command;

use logagg_testkit::TestEnv;
use serde_json::Value;

fn producer(env: &TestEnv, args: &[&str]) -> (bool, String) {
    let ran = env.run("logagg-producer", args);
    (ran.success, ran.text())
}

/// `logagg-producer load --verify` of `events` events (30% duplicates, seed 77, topics
/// `cli.<n>`) via `via`.
fn load(env: &TestEnv, events: &str, via: &str, api_url: &str) -> (bool, String) {
    producer(
        env,
        &[
            "load",
            "--events",
            events,
            "--duplicate-ratio",
            "0.3",
            "--via",
            via,
            "--api-url",
            api_url,
            "--verify",
            "--quiet",
            "--seed",
            "77",
            // The same topics on every run (the default prefix is new per run), so a second
            // run re-sends the first one's events.
            "--topic-prefix",
            "cli",
        ],
    )
}

async fn load_verifies(via: &str) {
    let env = TestEnv::new(&format!("cli_{via}"), 4).await;
    let api = env.spawn_api().await;
    let _consumer = env.spawn_consumer("c").await;
    let api_url = api.url("");
    let (ok, text) = load(&env, "20000", via, &api_url);
    assert!(ok, "{text}");
    assert!(text.contains("verify      OK"), "{text}");
    assert!(
        text.contains("distinct    14000") && text.contains("duplicates  6000"),
        "{text}"
    );
    assert_eq!(env.rows().await, 14_000);

    // The same seed again is all duplicates, so the golden check must now fail, naming the figure.
    let (ok, text) = load(&env, "2000", via, &api_url);
    assert!(!ok, "{text}");
    assert!(
        text.contains("VERIFY FAILED: topic cli.0: unique_processed grew by 0"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn load_with_verify_passes_via_kafka() {
    load_verifies("kafka").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn load_with_verify_passes_via_http() {
    load_verifies("http").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn published_records_read_back_with_kcat_as_key_topic_value_json() {
    let env = TestEnv::new("cli_kcat", 2).await;
    let lines = [
        r#"{"topic":"orders","event_id":"o-1","timestamp":"2026-11-25T12:00:00Z","source":"shop","payload":{"n":1}}"#,
        r#"{"topic":"users/signup","event_id":"u-1","timestamp":"2026-11-25T12:00:01+01:00","source":"web"}"#,
    ];
    let ran = env.run_with_input(
        "logagg-producer",
        &["publish", "--via", "kafka", "-"],
        lines.join("\n").as_bytes(),
    );
    assert!(ran.success, "{ran}");

    let output = Command::new("kcat")
        .args([
            "-C",
            "-b",
            &logagg_testkit::services::brokers(),
            "-t",
            &env.topic,
            "-e",
            "-q",
            "-f",
            "%k\t%s\n",
        ])
        .output()
        .expect("kcat");
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    let mut records: Vec<(String, Value)> = text
        .lines()
        .map(|l| {
            let (key, value) = l.split_once('\t').expect("key<TAB>value");
            (
                key.to_owned(),
                serde_json::from_str(value).expect("value is JSON"),
            )
        })
        .collect();
    records.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(records.len(), 2, "{text}");
    assert_eq!(records[0].0, "orders");
    assert_eq!(records[0].1["event_id"], "o-1");
    assert_eq!(records[0].1["payload"]["n"], 1);
    assert_eq!(records[1].0, "users/signup");
    assert_eq!(records[1].1["topic"], "users/signup");
    assert_eq!(records[1].1["payload"], serde_json::json!({}));

    // An invalid line: nothing is published at all.
    let before = env.high_watermarks().await;
    let ran = env.run_with_input(
        "logagg-producer",
        &["publish", "--via", "kafka"],
        format!("{}\n{{\"topic\":\"x\"}}\n", lines[0]).as_bytes(),
    );
    assert!(!ran.success, "{ran}");
    assert!(ran.stderr.contains("line 2"), "{ran}");
    assert_eq!(env.high_watermarks().await, before);
}
