//! Each documented query form of `GET /events` is served by an index: EXPLAIN of the exact
//! statement the API runs, on a realistically sized table (bulk-generated), shows no
//! sequential scan of `events`.

use logagg_core::db::events::Order;
use logagg_core::db::search::{self, After, CommitCursor, EventFilter, EventQuery};
use logagg_e2e::TestEnv;
use serde_json::json;

const ROWS: i64 = 200_000;

/// The documented forms (docs/QUERYING.md), each as the API builds it.
pub fn forms() -> Vec<(&'static str, EventQuery)> {
    let at = |day: u32, hour: u32| {
        chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 11, day, hour, 0, 0).unwrap()
    };
    let page = |filter: EventFilter, order: Order| EventQuery {
        filter,
        order,
        before: None,
        after: None,
        until: None,
        limit: Some(101),
    };
    let topic = |t: &str| EventFilter {
        topics: vec![t.into()],
        ..EventFilter::default()
    };
    vec![
        ("newest first", page(EventFilter::default(), Order::Desc)),
        ("topic", page(topic("svc.7"), Order::Desc)),
        ("topic, oldest first", page(topic("svc.7"), Order::Asc)),
        (
            "several topics",
            page(
                EventFilter {
                    topics: vec!["svc.7".into(), "svc.9".into()],
                    ..EventFilter::default()
                },
                Order::Desc,
            ),
        ),
        (
            "source",
            page(
                EventFilter {
                    source: Some("host-3".into()),
                    ..EventFilter::default()
                },
                Order::Desc,
            ),
        ),
        (
            "time range",
            page(
                EventFilter {
                    from: Some(at(5, 10)),
                    to: Some(at(5, 12)),
                    ..EventFilter::default()
                },
                Order::Desc,
            ),
        ),
        (
            "text",
            page(
                EventFilter {
                    text: Some("deadbeef".into()),
                    ..EventFilter::default()
                },
                Order::Desc,
            ),
        ),
        (
            "payload containment",
            page(
                EventFilter {
                    payload: Some(json!({"user": {"id": 4242}})),
                    ..EventFilter::default()
                },
                Order::Desc,
            ),
        ),
        (
            "topic + text",
            page(
                EventFilter {
                    topics: vec!["svc.7".into()],
                    text: Some("deadbeef".into()),
                    ..EventFilter::default()
                },
                Order::Desc,
            ),
        ),
        (
            "follower (after a cursor, oldest first)",
            EventQuery {
                after: Some(After::Commit(CommitCursor { tx: 1, id: 190_000 })),
                ..page(EventFilter::default(), Order::Asc)
            },
        ),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn every_documented_form_uses_an_index() {
    let env = TestEnv::new("explain", 1).await;
    env.execute(&format!(
        "INSERT INTO events (topic, event_id, source, event_timestamp, payload, kafka_partition, kafka_offset) \
         SELECT 'svc.' || (g % 40), 'e-' || g, 'host-' || (g % 25), \
                timestamptz '2026-11-01 00:00:00+00' + g * interval '12 seconds', \
                jsonb_build_object('level', (ARRAY['info','warn','error','debug'])[g % 4 + 1], \
                                   'user', jsonb_build_object('id', g % 5000), \
                                   'msg', 'request ' || md5(g::text)), 0, g \
         FROM generate_series(1, {ROWS}) g"
    ))
    .await;
    env.execute("ANALYZE events").await;
    let mut conn = env.pool.get().await.expect("connection");
    let mut failures = Vec::new();
    for (name, query) in forms() {
        let plan = search::explain(&mut conn, &query).await.expect("explain");
        let text = plan.join("\n");
        eprintln!("== {name}\n{text}");
        if text.contains("Seq Scan on events") {
            failures.push(format!("{name}:\n{text}"));
        }
    }
    assert!(
        failures.is_empty(),
        "sequential scans:\n{}",
        failures.join("\n\n")
    );
}
