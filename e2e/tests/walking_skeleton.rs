//! The thin real path: POST /publish -> idempotent producer -> Kafka -> consumer group ->
//! PostgreSQL -> GET /events and GET /stats, with a duplicate. Read through the typed API
//! client, so the answers are checked against the HTTP contract's types too.

use std::time::Duration;

use logagg_testkit::{wait_for, TestEnv};
use serde_json::json;

const TIMEOUT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread")]
async fn published_event_is_stored_once_and_counted() {
    let (env, api) = TestEnv::with_api("skeleton", 3, &[]).await;
    let client = api.api();
    let event = json!({"topic": "orders", "event_id": "evt-1", "timestamp": "2026-11-25T12:00:00Z",
                       "source": "checkout", "payload": {"amount": 42}});

    let accepted = client.publish_ok(&event).await;
    assert_eq!(
        (accepted.status.as_str(), accepted.accepted),
        ("accepted", 1)
    );
    assert_eq!(accepted.offsets[0].event_id, "evt-1");

    // Acked by the broker but no consumer yet: the record waits in Kafka as lag.
    let stats = client.stats().await;
    assert_eq!(
        (stats.consumer_lag, stats.received),
        (Some(1), 0),
        "{stats:?}"
    );

    let _consumer = env.spawn_consumer("c1").await;
    let events = wait_for(TIMEOUT, "the event in GET /events", || async {
        let events = client.events("topic=orders").await;
        (events.len() == 1).then_some(events)
    })
    .await;
    assert_eq!(events[0].event_id, "evt-1");
    assert_eq!(events[0].payload, json!({"amount": 42}));
    // The wire format of the timestamp: microseconds, UTC.
    let (_, listed) = api.get("/events?topic=orders").await;
    assert_eq!(listed[0]["timestamp"], "2026-11-25T12:00:00.000000Z");

    // The same event again: one row, one duplicate.
    client.publish_ok(&json!({"events": [event]})).await;
    let stats = wait_for(TIMEOUT, "the duplicate counted in /stats", || async {
        let stats = client.stats().await;
        (stats.received == 2 && stats.consumer_lag == Some(0)).then_some(stats)
    })
    .await;
    assert_eq!(
        (
            stats.unique_processed,
            stats.duplicate_dropped,
            stats.invalid
        ),
        (1, 1, 0),
        "{stats:?}"
    );
    assert_eq!(stats.topics, ["orders"], "{stats:?}");
    assert_eq!(stats.stored_events, 1, "{stats:?}");
    assert_eq!(env.rows().await, 1);

    let one = client.event("orders", "evt-1").await.expect("stored");
    assert_eq!(one.source, "checkout");
}
