//! Admin deletes by filter: admin scope only, exactly the matching rows go (by topic + source,
//! by event ids, by event-time range), each writes an audit row naming the token, the
//! `deleted` counters are exact, and `replay --rebuild` restores the deleted rows from the log.

use crate::retention_support;

use std::collections::BTreeSet;

use logagg_testkit::{event_json, sha256_hex, TestEnv};
use retention_support::{admin, TIMEOUT};
use serde_json::{json, Value};

const ADMIN: &str = "admin-3c4d5e6f-token";
const READER: &str = "read-7a8b9c0d-token";

/// Event `n` of topic `topic`: source `s<n % 3>`, event time minute `n` of 12:00.
fn event(topic: &str, n: usize) -> Value {
    let mut event = event_json(topic, &format!("{topic}-{n}"));
    event["source"] = json!(format!("s{}", n % 3));
    event["timestamp"] = json!(format!("2026-11-25T12:{:02}:00Z", n % 60));
    event
}

/// The ids of the stored events, read through the API.
async fn stored_ids(api: &logagg_testkit::Service, topic: &str) -> BTreeSet<String> {
    let path = format!("/events?topic={topic}&limit=1000");
    let rows = admin(api, "GET", &path, None, Some(READER), 200).await;
    rows.as_array()
        .expect("events")
        .iter()
        .map(|r| r["event_id"].as_str().expect("id").to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_by_filter_is_exact_audited_and_undone_by_a_rebuild() {
    let env = TestEnv::new("retdel", 2).await;
    let dir = logagg_testkit::root()
        .join("target/e2e-secrets")
        .join(&env.name);
    std::fs::create_dir_all(&dir).expect("secrets dir");
    let tokens = dir.join("tokens");
    std::fs::write(
        &tokens,
        format!(
            "ops admin,publish,read sha256:{}\nreader read sha256:{}\n",
            sha256_hex(ADMIN),
            sha256_hex(READER)
        ),
    )
    .expect("tokens file");
    let api = env
        .spawn_api_with(&[("LOGAGG_API_TOKENS_FILE", tokens.display().to_string())])
        .await;
    let consumer = env.spawn_consumer("c1").await;

    // 60 events on topic a, 30 on topic b.
    let a: Vec<Value> = (0..60).map(|n| event("a", n)).collect();
    let b: Vec<Value> = (0..30).map(|n| event("b", n)).collect();
    for batch in [&a, &b] {
        admin(
            &api,
            "POST",
            "/publish",
            Some(&json!(batch)),
            Some(ADMIN),
            200,
        )
        .await;
    }
    env.wait_counts(TIMEOUT, "90 events", |c| c.unique_processed == 90)
        .await;
    let filter = json!({"topic": "a", "source": "s1"});

    // Read scope is not enough.
    admin(
        &api,
        "POST",
        "/admin/delete",
        Some(&filter),
        Some(READER),
        403,
    )
    .await;
    admin(
        &api,
        "POST",
        "/admin/delete",
        Some(&json!({})),
        Some(ADMIN),
        422,
    )
    .await;
    assert_eq!(env.assert_ledger("nothing deleted yet").await.deleted, 0);

    // topic a + source s1: events 1, 4, 7, ... (20 of them).
    let reply = admin(
        &api,
        "POST",
        "/admin/delete",
        Some(&filter),
        Some(ADMIN),
        200,
    )
    .await;
    assert_eq!(reply["deleted"], 20, "{reply}");
    let expected_a: BTreeSet<String> = (0..60)
        .filter(|n| n % 3 != 1)
        .map(|n| format!("a-{n}"))
        .collect();
    assert_eq!(stored_ids(&api, "a").await, expected_a);
    // By ids (one already gone, one absent: only the stored one counts).
    let reply = admin(
        &api,
        "POST",
        "/admin/delete",
        Some(&json!({"topic": "b", "event_ids": ["b-0", "b-1", "nope"]})),
        Some(ADMIN),
        200,
    )
    .await;
    assert_eq!(reply["deleted"], 2, "{reply}");
    // By event-time range on topic b: minutes 10..20 (b-10 .. b-19).
    let reply = admin(
        &api,
        "POST",
        "/admin/delete",
        Some(&json!({"topic": "b", "from": "2026-11-25T12:10:00Z", "to": "2026-11-25T12:20:00Z"})),
        Some(ADMIN),
        200,
    )
    .await;
    assert_eq!(reply["deleted"], 10, "{reply}");
    let expected_b: BTreeSet<String> = (2..30)
        .filter(|n| !(10..20).contains(n))
        .map(|n| format!("b-{n}"))
        .collect();
    assert_eq!(stored_ids(&api, "b").await, expected_b);

    // Counters: exact, per topic too; the ledger holds.
    let ledger = env.assert_ledger("after the deletes").await;
    assert_eq!((ledger.rows, ledger.deleted), (58, 32), "{ledger:?}");
    let stats = admin(&api, "GET", "/stats", None, Some(READER), 200).await;
    assert_eq!(stats["deleted"], 32, "{stats}");
    assert_eq!(stats["per_topic"]["a"]["deleted"], 20, "{stats}");
    assert_eq!(stats["per_topic"]["b"]["deleted"], 12, "{stats}");

    // The audit: who, what filter, how many, when; newest first.
    let audit = admin(&api, "GET", "/admin/deletes", None, Some(ADMIN), 200).await;
    let audit = audit.as_array().expect("audit rows");
    assert_eq!(audit.len(), 3, "{audit:?}");
    assert_eq!(audit[2]["requested_by"], "ops");
    assert_eq!(audit[2]["filter"], filter);
    assert_eq!(audit[2]["deleted"], 20);
    assert!(audit[2]["created_at"].is_string());
    assert_eq!(audit[0]["deleted"], 10);

    // A rebuild re-reads the log: the deleted rows come back, counted afresh; the audit stays.
    assert!(consumer.terminate().await.success());
    let ran = env.run("logagg-consumer", &["replay", "--rebuild"]);
    assert!(ran.success, "{}", ran.text());
    let _consumer = env.spawn_consumer("c2").await;
    env.wait_counts(TIMEOUT, "the rebuild", |c| c.received == 90)
        .await;
    let ledger = env.assert_ledger("after the rebuild").await;
    assert_eq!(
        (ledger.unique_processed, ledger.rows, ledger.deleted),
        (90, 90, 0)
    );
    assert!(stored_ids(&api, "a").await.contains("a-1"));
    assert!(stored_ids(&api, "b").await.contains("b-15"));
    let audit = admin(&api, "GET", "/admin/deletes", None, Some(ADMIN), 200).await;
    assert_eq!(audit.as_array().map(Vec::len), Some(3));
}
