//! The thin real path: POST /publish -> idempotent producer -> Kafka -> consumer group ->
//! PostgreSQL -> GET /events and GET /stats, with a duplicate.

use std::time::Duration;

use logagg_testkit::{wait_for, TestEnv};
use serde_json::json;

const TIMEOUT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread")]
async fn published_event_is_stored_once_and_counted() {
    let (env, api) = TestEnv::with_api("skeleton", 3, &[]).await;
    let event = json!({"topic": "orders", "event_id": "evt-1", "timestamp": "2026-11-25T12:00:00Z",
                       "source": "checkout", "payload": {"amount": 42}});

    let (status, body) = api.post_json("/publish", &event).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "accepted");
    assert_eq!(body["accepted"], 1);
    assert_eq!(body["offsets"][0]["event_id"], "evt-1");

    // Acked by the broker but no consumer yet: the record waits in Kafka as lag.
    let (_, stats) = api.get("/stats").await;
    assert_eq!(stats["consumer_lag"], 1, "{stats}");
    assert_eq!(stats["received"], 0, "{stats}");

    let _consumer = env.spawn_consumer("c1").await;
    let events = wait_for(TIMEOUT, "the event in GET /events", || async {
        let (_, events) = api.get("/events?topic=orders").await;
        (events.as_array().map(Vec::len) == Some(1)).then_some(events)
    })
    .await;
    assert_eq!(events[0]["event_id"], "evt-1");
    assert_eq!(events[0]["payload"], json!({"amount": 42}));
    assert_eq!(events[0]["timestamp"], "2026-11-25T12:00:00.000000Z");

    // The same event again: one row, one duplicate.
    let (status, _) = api.post_json("/publish", &json!({"events": [event]})).await;
    assert_eq!(status, 200);
    let stats = wait_for(TIMEOUT, "the duplicate counted in /stats", || async {
        let (_, stats) = api.get("/stats").await;
        (stats["received"] == 2 && stats["consumer_lag"] == 0).then_some(stats)
    })
    .await;
    assert_eq!(stats["unique_processed"], 1, "{stats}");
    assert_eq!(stats["duplicate_dropped"], 1, "{stats}");
    assert_eq!(stats["invalid"], 0, "{stats}");
    assert_eq!(stats["topics"], json!(["orders"]), "{stats}");
    assert_eq!(stats["stored_events"], 1, "{stats}");
    assert_eq!(env.rows().await, 1);

    let (status, one) = api.get("/events/orders/evt-1").await;
    assert_eq!(status, 200);
    assert_eq!(one["source"], "checkout");
}
