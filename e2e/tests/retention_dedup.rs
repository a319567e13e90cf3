//! The dedup horizon is the retention (docs/RETENTION.md): while an event is kept, a re-send
//! of its `(topic, event_id)` is a duplicate; once it expired, a re-send is stored again and
//! counted unique. The ledger holds throughout.

use crate::retention_support;

use logagg_testkit::{event_json, TestEnv};
use retention_support::{backdate, quick_enforcer, set_retention, TIMEOUT};
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn a_kept_event_is_a_duplicate_and_an_expired_one_is_stored_again() {
    let (env, api) = TestEnv::with_api("retdedup", 1, &[]).await;
    let _consumer = env.spawn_consumer_with("c1", &quick_enforcer(100)).await;
    let client = api.api();
    let event = event_json("horizon", "h-1");
    let other = event_json("horizon", "h-2");
    set_retention(&api, json!({"topic": "horizon", "retention_seconds": 3600})).await;

    client.publish_ok(&json!([event, other])).await;
    env.wait_counts(TIMEOUT, "the originals", |c| c.received == 2)
        .await;
    // Kept: a re-send is a duplicate.
    client.publish_ok(&event).await;
    let counts = env
        .wait_counts(TIMEOUT, "the re-send", |c| c.received == 3)
        .await;
    assert_eq!((counts.unique_processed, counts.duplicate_dropped), (2, 1));
    env.assert_ledger("while kept").await;

    // h-1 ages past the hour; h-2 stays young.
    env.execute(&backdate("event_id = 'h-1'", "2 hours")).await;
    let ledger = logagg_testkit::wait_for(TIMEOUT, "h-1 expired", || async {
        let ledger = env.assert_ledger("expiring").await;
        (ledger.expired == 1).then_some(ledger)
    })
    .await;
    assert_eq!(ledger.rows, 1);
    assert!(client.event("horizon", "h-1").await.is_none());
    assert!(client.event("horizon", "h-2").await.is_some());

    // Expired: a re-send is stored again, unique; h-2 (kept) is still a duplicate.
    client.publish_ok(&json!([event, other])).await;
    let counts = env
        .wait_counts(TIMEOUT, "the re-sends after expiry", |c| c.received == 5)
        .await;
    assert_eq!((counts.unique_processed, counts.duplicate_dropped), (3, 2));
    let ledger = env.assert_ledger("after the re-send").await;
    assert_eq!((ledger.rows, ledger.expired), (2, 1));
    assert!(client.event("horizon", "h-1").await.is_some());
    let stats = client.stats().await;
    let topic = &stats.per_topic["horizon"];
    assert_eq!(
        (
            topic.unique_processed,
            topic.duplicate_dropped,
            topic.expired
        ),
        (3, 2, 1)
    );
}
