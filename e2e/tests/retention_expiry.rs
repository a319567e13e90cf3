//! Retention end to end: rows stored longer ago than the policy disappear in bounded steps,
//! newer rows stay, ingest goes on during enforcement (the consumer's batch time is printed),
//! `unique_processed = rows + expired + deleted` holds at every check, and `/stats`,
//! `/health`, `/metrics` and `GET /topics` show the policy and the enforcer's run.

use crate::retention_support;

use logagg_testkit::{wait_for, TestEnv};
use retention_support::{
    admin, backdate, mean_batch_ms, metric, plan, quick_enforcer, set_retention, TIMEOUT,
};
use serde_json::json;

/// Rows per retention DELETE: small, so the old rows go in many steps.
const STEP_ROWS: usize = 400;

#[tokio::test(flavor = "multi_thread")]
async fn old_rows_expire_in_steps_while_ingest_continues_and_the_ledger_holds() {
    let (env, api) = TestEnv::with_api("retexp", 2, &[]).await;
    let consumer = env
        .spawn_consumer_with("c1", &quick_enforcer(STEP_ROWS))
        .await;

    // Old rows: stored, then aged by an hour (the stored time is what retention measures).
    let old = plan(5_000, 2, 1, "old");
    env.send_plan(&old).await;
    env.wait_counts(TIMEOUT, "the old round", |c| {
        c.received == old.sends.len() as i64
    })
    .await;
    env.execute(&backdate("true", "1 hour")).await;
    assert_eq!(env.assert_ledger("before any policy").await.expired, 0);

    // A default of ten minutes; new rows keep flowing while the old ones go.
    let metrics_before = consumer.get_text("/metrics").await.expect("metrics");
    let policies = set_retention(&api, json!({"retention_seconds": 600})).await;
    assert_eq!(policies["default_seconds"], 600, "{policies}");
    let new = plan(3_000, 2, 2, "new");
    let sender = env.spawn_paced_sender(&new, 100, std::time::Duration::from_millis(20));
    let checks = std::sync::atomic::AtomicUsize::new(0);
    wait_for(TIMEOUT, "every old row expired", || async {
        checks.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let ledger = env.assert_ledger("during enforcement").await;
        (ledger.expired == old.distinct as i64).then_some(())
    })
    .await;
    sender.await.expect("paced sender");
    let total_sends = (old.sends.len() + new.sends.len()) as i64;
    let counts = env
        .wait_counts(TIMEOUT, "every new send", |c| c.received == total_sends)
        .await;
    let metrics_after = consumer.get_text("/metrics").await.expect("metrics");

    // Exactly the old rows went; every new row stayed.
    let ledger = env.assert_ledger("after enforcement").await;
    assert_eq!(ledger.rows, new.distinct as i64, "{ledger:?}");
    assert_eq!(ledger.expired, old.distinct as i64, "{ledger:?}");
    assert_eq!(ledger.deleted, 0);
    assert_eq!(
        counts.unique_processed,
        (old.distinct + new.distinct) as i64
    );
    let steps = metric(&metrics_after, "logagg_retention_step_seconds_count").unwrap_or(0.0);
    assert!(
        steps >= (old.distinct / STEP_ROWS) as f64,
        "{} rows in steps of {STEP_ROWS} took {steps} steps",
        old.distinct
    );
    assert_eq!(
        metric(&metrics_after, "logagg_retention_enforcer"),
        Some(1.0)
    );
    println!(
        "retention: {} rows expired in {steps} steps (<= {STEP_ROWS} rows each) over {} \
         ledger checks; consumer batch time meanwhile: mean {:.1} ms",
        old.distinct,
        checks.into_inner(),
        mean_batch_ms(&metrics_before, &metrics_after)
    );

    // The figures on the API: /stats totals and per topic, the run on /stats and /health,
    // the policy on /topics, gauges on /metrics.
    let stats = api.api().stats().await;
    assert_eq!(stats.expired, old.distinct as i64);
    assert_eq!(stats.stored_events, ledger.rows);
    let per_topic_expired: i64 = stats.per_topic.values().map(|c| c.expired).sum();
    assert_eq!(per_topic_expired, stats.expired);
    let status = stats.retention.expect("the enforcer's status on /stats");
    assert!(status.removed_total >= old.distinct as i64, "{status:?}");
    let (code, health) = api.get("/health").await;
    assert_eq!(code, 200);
    assert!(health["retention"]["last_run_at"].is_string(), "{health}");
    let (_, topics) = api.get("/topics").await;
    for topic in topics.as_array().expect("topics") {
        assert_eq!(topic["retention_seconds"], 600, "{topic}");
        let name = topic["topic"].as_str().expect("name");
        let stored = topic["stored"].as_i64().expect("stored");
        if name.starts_with("old") {
            assert_eq!(stored, 0, "{topic}");
        } else {
            assert!(stored > 0, "{topic}");
        }
    }
    let api_metrics = api.get_text("/metrics").await.expect("api metrics");
    assert!(
        metric(&api_metrics, "logagg_retention_removed").unwrap_or(0.0) >= old.distinct as f64,
        "{api_metrics}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn exactly_one_consumer_enforces_and_a_topic_can_be_exempted() {
    let (env, api) = TestEnv::with_api("retone", 2, &[]).await;
    let first = env.spawn_consumer_with("c1", &quick_enforcer(1_000)).await;
    let second = env.spawn_consumer_with("c2", &quick_enforcer(1_000)).await;
    let load = plan(1_000, 2, 3, "ex");
    env.send_plan(&load).await;
    env.wait_counts(TIMEOUT, "the load", |c| {
        c.received == load.sends.len() as i64
    })
    .await;
    // Everything expires after a minute, except topic ex.0, kept forever.
    set_retention(&api, json!({"retention_seconds": 60})).await;
    let policies = set_retention(&api, json!({"topic": "ex.0", "retention_seconds": null})).await;
    assert_eq!(
        policies["topics"]["ex.0"],
        serde_json::Value::Null,
        "{policies}"
    );
    let kept: i64 = {
        let (_, topics) = api.get("/topics").await;
        topics
            .as_array()
            .expect("topics")
            .iter()
            .find(|t| t["topic"] == "ex.0")
            .map(|t| t["stored"].as_i64().expect("stored"))
            .expect("topic ex.0")
    };
    env.execute(&backdate("true", "2 minutes")).await;
    let ledger = wait_for(TIMEOUT, "the other topic expired", || async {
        let ledger = env.assert_ledger("two consumers").await;
        (ledger.rows == kept).then_some(ledger)
    })
    .await;
    assert_eq!(ledger.expired, load.distinct as i64 - kept);

    // One enforcer of the two.
    let mut holders = 0;
    for consumer in [&first, &second] {
        let text = consumer.get_text("/metrics").await.expect("metrics");
        if metric(&text, "logagg_retention_enforcer") == Some(1.0) {
            holders += 1;
        }
    }
    assert_eq!(holders, 1, "exactly one consumer holds the retention lock");

    // Invalid policies are refused with a JSON error.
    let error = admin(
        &api,
        "PUT",
        "/admin/retention",
        Some(&json!({"retention_seconds": 0})),
        None,
        422,
    )
    .await;
    assert!(error["error"].is_string(), "{error}");
    admin(
        &api,
        "PUT",
        "/admin/retention",
        Some(&json!({"topic": "bad topic!", "retention_seconds": 5})),
        None,
        422,
    )
    .await;
}
