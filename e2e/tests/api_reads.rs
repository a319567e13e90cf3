//! The read side of `logagg-api` against the real binary, Kafka and PostgreSQL: `GET /events`
//! (filters, order, cursor paging both ways, limits), one event by key, `/stats` (counters,
//! topics, lag, request counts; the same from a second instance), `/health`, `/healthz` and
//! `/metrics`.

use std::collections::BTreeSet;
use std::time::Duration;

use logagg_testkit::http::event_ids;
use logagg_testkit::{event_json, http, wait_for, Service, TestEnv};
use serde_json::{json, Value};

const TIMEOUT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread")]
async fn events_are_listed_filtered_ordered_and_cursor_paged() {
    let (env, api) = TestEnv::with_api("api_events", 3, &[]).await;
    let paged: Vec<Value> = (0..7)
        .map(|i| event_json("pg/a", &format!("p-{i}")))
        .collect();
    assert_eq!(api.publish(&Value::Array(paged)).await.status, 200);
    let many: Vec<Value> = (0..105)
        .map(|i| event_json("many", &format!("m-{i:03}")))
        .collect();
    assert_eq!(api.publish(&Value::Array(many)).await.status, 200);
    let _consumer = env.spawn_consumer("c1").await;
    env.wait_rows(TIMEOUT, 112).await;

    // Defaults: every topic, newest first, 100 rows, a Link to the next page.
    let reply = http("GET", &api.url("/events"), &[], None).await;
    assert_eq!(reply.status, 200);
    let rows = reply.json();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 100);
    let ids: Vec<i64> = rows.iter().map(|r| r["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");
    assert!(
        reply
            .header("link")
            .is_some_and(|l| l.contains("rel=\"next\"")),
        "{:?}",
        reply.header("link")
    );
    for row in rows {
        for field in [
            "topic",
            "event_id",
            "timestamp",
            "source",
            "payload",
            "processed_at",
            "partition",
            "offset",
        ] {
            assert!(!row[field].is_null(), "{field} missing from {row}");
        }
    }
    let first = &rows[0];
    assert!(first["payload"].is_object());
    assert!(chrono::DateTime::parse_from_rfc3339(first["processed_at"].as_str().unwrap()).is_ok());
    assert_eq!(first["timestamp"], "2026-11-25T12:00:00.000000Z");

    // Topic filter, asc = publish order; topics with '/' work in the query string.
    let (status, asc) = api.get("/events?topic=pg%2Fa&order=asc").await;
    assert_eq!(status, 200);
    let asc_ids = event_ids(&asc);
    assert_eq!(
        asc_ids,
        (0..7).map(|i| format!("p-{i}")).collect::<Vec<_>>()
    );
    let (_, desc) = api.get("/events?topic=pg/a").await;
    let desc_ids = event_ids(&desc);
    let mut reversed = asc_ids.clone();
    reversed.reverse();
    assert_eq!(desc_ids, reversed);
    let offsets: Vec<i64> = asc
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["offset"].as_i64().unwrap())
        .collect();
    assert!(
        offsets.windows(2).all(|w| w[0] < w[1]),
        "publish order is offset order: {offsets:?}"
    );

    // Cursor paging both ways, following Link until there is none.
    for (start, expected) in [
        ("/events?topic=pg%2Fa&limit=3", reversed.clone()),
        ("/events?topic=pg%2Fa&limit=3&order=asc", asc_ids.clone()),
    ] {
        let collected = follow_links(&api, start).await;
        assert_eq!(
            collected
                .iter()
                .map(|(_, ids)| ids.len())
                .collect::<Vec<_>>(),
            [3, 3, 1],
            "{start}"
        );
        let flat: Vec<String> = collected.into_iter().flat_map(|(_, ids)| ids).collect();
        assert_eq!(flat, expected, "{start}");
    }
    // 105 events with the default limit: two pages, 100 + 5.
    let pages = follow_links(&api, "/events?topic=many").await;
    assert_eq!(
        pages.iter().map(|(_, ids)| ids.len()).collect::<Vec<_>>(),
        [100, 5]
    );
    let all: BTreeSet<String> = pages.into_iter().flat_map(|(_, ids)| ids).collect();
    assert_eq!(all.len(), 105);
    // An explicit cursor: after the 2nd event, asc.
    let second = asc.as_array().unwrap()[1]["id"].as_i64().unwrap();
    let (_, after) = api
        .get(&format!("/events?topic=pg/a&after={second}&limit=2"))
        .await;
    let after_ids = event_ids(&after);
    assert_eq!(after_ids, ["p-2", "p-3"], "after= reads forward");
    let (_, before) = api
        .get(&format!("/events?topic=pg/a&before={second}"))
        .await;
    let before_ids = event_ids(&before);
    assert_eq!(before_ids, ["p-0"]);

    // Limit bounds.
    assert_eq!(api.get("/events?limit=1000").await.0, 200);
    assert_eq!(
        api.get("/events?limit=1").await.1.as_array().unwrap().len(),
        1
    );
    for bad in [
        "limit=0",
        "limit=1001",
        "limit=-1",
        "limit=abc",
        "limit=",
        "order=up",
        "before=x",
        "colour=red",
    ] {
        let reply = http("GET", &api.url(&format!("/events?{bad}")), &[], None).await;
        reply.assert_error(400, bad);
    }
    // Unknown topic: an empty list, not an error.
    let (status, unknown) = api.get("/events?topic=never-published").await;
    assert_eq!((status, unknown), (200, json!([])));
    let (status, odd) = api.get("/events?topic=%00%FF").await;
    assert_eq!(
        (status, odd),
        (200, json!([])),
        "an impossible topic is just unknown"
    );

    // One event by key, also with '/' in the topic (raw or percent-encoded).
    for path in ["/events/pg/a/p-3", "/events/pg%2Fa/p-3"] {
        let (status, one) = api.get(path).await;
        assert_eq!(status, 200, "{path}");
        assert_eq!(
            (one["topic"].as_str(), one["event_id"].as_str()),
            (Some("pg/a"), Some("p-3")),
            "{path}"
        );
        assert_eq!(one["payload"], json!({"id": "p-3"}));
    }
    for path in ["/events/pg/a/p-99", "/events/pg/p-3", "/events/many/%00"] {
        http("GET", &api.url(path), &[], None)
            .await
            .assert_error(404, path);
    }
}

/// Follows `Link: <...>; rel="next"` from `start` until a page has none; returns each page's
/// (path, event ids).
async fn follow_links(api: &Service, start: &str) -> Vec<(String, Vec<String>)> {
    let mut pages = Vec::new();
    let mut next = Some(start.to_owned());
    while let Some(path) = next {
        assert!(pages.len() < 50, "too many pages from {start}");
        let reply = http("GET", &api.url(&path), &[], None).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.text());
        let ids = event_ids(&reply.json());
        next = reply.header("link").map(|link| {
            let (target, rel) = link.split_once(';').expect("Link has a rel");
            assert_eq!(rel.trim(), "rel=\"next\"");
            target
                .trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_owned()
        });
        assert!(
            !ids.is_empty() || next.is_none(),
            "an empty page must not link further ({path})"
        );
        pages.push((path, ids));
    }
    assert!(
        !pages.last().unwrap().1.is_empty() || pages.len() == 1,
        "the last page is not an empty one: {pages:?}"
    );
    pages
}

#[tokio::test(flavor = "multi_thread")]
async fn stats_reports_counters_topics_lag_and_requests() {
    let (env, api) = TestEnv::with_api("api_stats", 3, &[]).await;
    let events = json!([
        event_json("alpha", "a-1"),
        event_json("alpha", "a-2"),
        event_json("beta", "b-1")
    ]);
    assert_eq!(api.publish(&events).await.status, 200);
    assert_eq!(
        api.publish(&event_json("alpha", "a-1")).await.status,
        200,
        "a duplicate"
    );
    // A record that is not an event, written straight to Kafka: counted invalid.
    let producer = env.producer();
    let delivery = producer
        .enqueue("alpha", b"not an event")
        .await
        .expect("enqueue");
    logagg_producer::EventProducer::await_ack(delivery)
        .await
        .expect("ack");

    let (status, before) = api.get("/stats").await;
    assert_eq!(status, 200);
    assert_eq!(before["consumer_lag"], 5, "nothing consumed yet: {before}");
    let per_partition = before["lag_per_partition"]
        .as_object()
        .expect("lag per partition");
    assert_eq!(per_partition.len(), 3, "{before}");
    assert_eq!(
        per_partition
            .values()
            .map(|v| v.as_i64().unwrap())
            .sum::<i64>(),
        5
    );

    let _consumer = env.spawn_consumer("c1").await;
    let stats = wait_for(TIMEOUT, "all five records counted", || async {
        let (_, stats) = api.get("/stats").await;
        (stats["received"] == 5 && stats["consumer_lag"] == 0).then_some(stats)
    })
    .await;
    assert_eq!(stats["unique_processed"], 3, "{stats}");
    assert_eq!(stats["duplicate_dropped"], 1, "{stats}");
    assert_eq!(stats["invalid"], 1, "{stats}");
    assert_eq!(stats["replayed"], 0, "{stats}");
    assert_eq!(stats["topics"], json!(["alpha", "beta"]), "{stats}");
    assert_eq!(stats["per_topic"]["alpha"]["received"], 3, "{stats}");
    assert_eq!(
        stats["per_topic"]["alpha"]["unique_processed"], 2,
        "{stats}"
    );
    assert_eq!(
        stats["per_topic"]["alpha"]["duplicate_dropped"], 1,
        "{stats}"
    );
    assert_eq!(stats["per_topic"]["beta"]["unique_processed"], 1, "{stats}");
    assert!(stats["uptime_seconds"].is_u64(), "{stats}");
    let lag = stats["lag_per_partition"].as_object().unwrap();
    assert_eq!(lag.len(), 3);
    assert!(lag.values().all(|v| v == 0), "{stats}");
    assert!(
        stats["requests"]["POST /publish"]
            .as_u64()
            .is_some_and(|n| n >= 2),
        "{stats}"
    );
    assert!(
        stats["requests"]["GET /stats"]
            .as_u64()
            .is_some_and(|n| n >= 1),
        "{stats}"
    );

    // Read from PostgreSQL: a second API instance answers the same counters.
    let other = env.spawn_api().await;
    let (_, again) = other.get("/stats").await;
    for field in [
        "received",
        "unique_processed",
        "duplicate_dropped",
        "invalid",
        "replayed",
        "topics",
        "per_topic",
    ] {
        assert_eq!(again[field], stats[field], "{field}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn health_healthz_and_metrics() {
    let (_env, api) = TestEnv::with_api("api_health", 1, &[]).await;
    let (status, health) = api.get("/health").await;
    assert_eq!(status, 200);
    assert_eq!(health["status"], "healthy", "{health}");
    assert_eq!(health["broker"], "ok", "{health}");
    assert_eq!(health["database"], "ok", "{health}");
    let (status, alive) = api.get("/healthz").await;
    assert_eq!((status, alive["status"].as_str()), (200, Some("alive")));

    assert_eq!(
        api.publish(&json!([event_json("m", "1"), event_json("m", "2")]))
            .await
            .status,
        200
    );
    assert_eq!(api.publish(&json!([])).await.status, 422);
    assert_eq!(
        http("GET", &api.url("/no/such/thing"), &[], None)
            .await
            .status,
        404
    );

    let reply = http("GET", &api.url("/metrics"), &[], None).await;
    assert_eq!(reply.status, 200);
    assert!(reply
        .header("content-type")
        .is_some_and(|c| c.starts_with("text/plain")));
    let text = reply.text();
    for line in [
        "logagg_api_requests_total{route=\"POST /publish\",status=\"200\"} 1",
        "logagg_api_requests_total{route=\"POST /publish\",status=\"422\"} 1",
        "logagg_api_requests_total{route=\"GET other\",status=\"404\"} 1",
        "logagg_api_events_accepted_total 2",
        "# TYPE logagg_api_request_seconds histogram",
        "logagg_api_request_seconds_bucket{route=\"POST /publish\",le=\"+Inf\"} 2",
        "logagg_api_request_seconds_count{route=\"POST /publish\"} 2",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "{line:?} missing from:\n{text}"
        );
    }
}
