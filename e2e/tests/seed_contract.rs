//! A client written to the seed systems' de facto contract, and nothing more: it publishes a
//! single event or `{"events": [...]}`, expects 422 for a missing field or a bad timestamp,
//! lists `GET /events?topic=`, reads a flat `/stats` and `GET /health`. It must work unchanged
//! against logagg, including the deduplication the seeds promised.

use std::time::Duration;

use logagg_testkit::{wait_for, TestEnv};
use serde_json::{json, Value};

const TIMEOUT: Duration = Duration::from_secs(60);

/// What a seed client knows: a base URL, status codes and JSON bodies.
struct SeedClient {
    base: String,
    http: reqwest::Client,
}

/// The flat `/stats` a seed dashboard reads.
#[derive(Debug, serde::Deserialize)]
struct SeedStats {
    received: u64,
    unique_processed: u64,
    duplicate_dropped: u64,
    topics: Vec<String>,
    uptime_seconds: f64,
}

impl SeedClient {
    fn new(base: String) -> Self {
        Self {
            base,
            http: reqwest::Client::new(),
        }
    }

    async fn post(&self, body: &Value) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}/publish", self.base))
            .json(body)
            .send()
            .await
            .expect("publish request");
        let status = response.status().as_u16();
        (status, response.json().await.expect("JSON body"))
    }

    async fn publish(&self, event: &Value) -> (u16, Value) {
        self.post(event).await
    }

    async fn publish_batch(&self, events: &[Value]) -> (u16, Value) {
        self.post(&json!({ "events": events })).await
    }

    /// A batch the seeds expect to be accepted (200).
    async fn publish_batch_ok(&self, events: &[Value]) {
        let (status, body) = self.publish_batch(events).await;
        assert_eq!(status, 200, "{body}");
    }

    async fn events(&self, topic: &str) -> Vec<Value> {
        let response = self
            .http
            .get(format!("{}/events", self.base))
            .query(&[("topic", topic)])
            .send()
            .await
            .expect("events request");
        assert_eq!(response.status().as_u16(), 200);
        response.json().await.expect("a JSON array")
    }

    /// `GET path` on the API.
    async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    async fn stats(&self) -> SeedStats {
        let response = self.get("/stats").await;
        assert_eq!(response.status().as_u16(), 200);
        response.json().await.expect("flat stats")
    }

    /// `/stats` once `received` reaches `records`.
    async fn wait_received(&self, records: u64, what: &str) -> SeedStats {
        wait_for(TIMEOUT, what, || async {
            let stats = self.stats().await;
            (stats.received == records).then_some(stats)
        })
        .await
    }

    async fn health(&self) -> (u16, Value) {
        let response = self.get("/health").await;
        (
            response.status().as_u16(),
            response.json().await.expect("JSON health"),
        )
    }
}

fn seed_event(topic: &str, event_id: &str) -> Value {
    json!({"topic": topic, "event_id": event_id, "timestamp": "2026-11-25T12:00:00+00:00",
           "source": "seed-client", "payload": {"level": "info", "message": format!("hello {event_id}")}})
}

#[tokio::test(flavor = "multi_thread")]
async fn a_seed_client_works_unchanged() {
    let (env, api) = TestEnv::with_api("seed", 3, &[]).await;
    let _consumer = env.spawn_consumer("c1").await;
    let client = SeedClient::new(api.url(""));

    let (status, health) = client.health().await;
    assert_eq!(
        (status, health["status"].as_str()),
        (200, Some("healthy")),
        "{health}"
    );

    let (status, body) = client.publish(&seed_event("app.logs", "seed-1")).await;
    assert_eq!(status, 200, "{body}");
    client
        .publish_batch_ok(&[
            seed_event("app.logs", "seed-2"),
            seed_event("app.logs", "seed-3"),
        ])
        .await;

    let mut missing = seed_event("app.logs", "seed-4");
    missing.as_object_mut().unwrap().remove("source");
    let (status, body) = client.publish(&missing).await;
    assert_eq!(status, 422, "missing field: {body}");
    let (status, body) = client.publish_batch(&[missing]).await;
    assert_eq!(status, 422, "missing field in a batch: {body}");
    let mut bad_time = seed_event("app.logs", "seed-5");
    bad_time["timestamp"] = json!("not-a-date");
    let (status, body) = client.publish(&bad_time).await;
    assert_eq!(status, 422, "not-a-date: {body}");

    let listed = wait_for(TIMEOUT, "three events listed", || async {
        let events = client.events("app.logs").await;
        (events.len() == 3).then_some(events)
    })
    .await;
    let ids: Vec<&str> = listed
        .iter()
        .map(|e| e["event_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["seed-3", "seed-2", "seed-1"], "newest first");
    for event in &listed {
        assert_eq!(event["topic"], "app.logs");
        assert_eq!(event["source"], "seed-client");
        assert_eq!(event["payload"]["level"], "info");
        assert!(event["timestamp"].is_string());
    }
    assert!(client.events("never-seen").await.is_empty());

    let stats = client.stats().await;
    assert_eq!(
        (
            stats.received,
            stats.unique_processed,
            stats.duplicate_dropped
        ),
        (3, 3, 0),
        "{stats:?}"
    );
    assert_eq!(stats.topics, ["app.logs"]);
    assert!(stats.uptime_seconds >= 0.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn ten_identical_events_sent_in_parallel_are_stored_once() {
    let (env, api) = TestEnv::with_api("seed_par", 3, &[]).await;
    let _consumer = env.spawn_consumer("c1").await;
    let client = SeedClient::new(api.url(""));
    let event = seed_event("payments", "pay-1");

    let answers = futures::future::join_all((0..10).map(|_| client.publish(&event))).await;
    for (status, body) in &answers {
        assert_eq!(*status, 200, "{body}");
    }
    let stats = client.wait_received(10, "all ten copies counted").await;
    assert_eq!(
        (stats.unique_processed, stats.duplicate_dropped),
        (1, 9),
        "{stats:?}"
    );
    let events = client.events("payments").await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["event_id"], "pay-1");
    assert_eq!(env.rows().await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_event_id_under_two_topics_is_stored_twice() {
    let (env, api) = TestEnv::with_api("seed_two", 3, &[]).await;
    let _consumer = env.spawn_consumer("c1").await;
    let client = SeedClient::new(api.url(""));

    client
        .publish_batch_ok(&[
            seed_event("orders", "shared-id"),
            seed_event("invoices", "shared-id"),
        ])
        .await;
    let stats = client.wait_received(2, "both events counted").await;
    assert_eq!(
        (stats.unique_processed, stats.duplicate_dropped),
        (2, 0),
        "{stats:?}"
    );
    let mut topics = stats.topics.clone();
    topics.sort_unstable();
    assert_eq!(topics, ["invoices", "orders"]);
    for topic in ["orders", "invoices"] {
        let events = client.events(topic).await;
        assert_eq!(events.len(), 1, "{topic}: {events:?}");
        assert_eq!(events[0]["event_id"], "shared-id");
        assert_eq!(events[0]["topic"], topic);
    }
    assert_eq!(env.rows().await, 2);
}
