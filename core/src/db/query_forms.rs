//! The documented query forms of `GET /events` (docs/QUERYING.md) as the API builds them, and a
//! synthetic `events` table they select from: shared by the EXPLAIN test (every form uses an
//! index) and `logagg-bench` (each form's latency on millions of rows).

use chrono::{TimeZone, Utc};
use serde_json::json;

use super::events::Order;
use super::search::{After, CommitCursor, EventFilter, EventQuery};

/// Inserts synthetic rows `lo..=hi` (40 topics, 25 sources, one event per 12 s from
/// 2026-11-01, payloads with a level, a user id out of 5000 and an md5 message).
pub fn generate_sql(lo: i64, hi: i64) -> String {
    format!(
        "INSERT INTO events (topic, event_id, source, event_timestamp, payload, kafka_partition, kafka_offset) \
         SELECT 'svc.' || (g % 40), 'e-' || g, 'host-' || (g % 25), \
                timestamptz '2026-11-01 00:00:00+00' + g * interval '12 seconds', \
                jsonb_build_object('level', (ARRAY['info','warn','error','debug'])[g % 4 + 1], \
                                   'user', jsonb_build_object('id', g % 5000), \
                                   'msg', 'request ' || md5(g::text)), 0, g \
         FROM generate_series({lo}, {hi}) g"
    )
}

/// Each documented form, named, with values that select a realistic share of the synthetic
/// table (a topic is 1/40 of it). The text term matches no row: the worst case of a trigram
/// search, which must recheck every candidate instead of stopping at the page size.
pub fn forms() -> Vec<(&'static str, EventQuery)> {
    let at = |day: u32, hour: u32| Utc.with_ymd_and_hms(2026, 11, day, hour, 0, 0).unwrap();
    let page = |filter: EventFilter, order: Order| EventQuery {
        filter,
        order,
        before: None,
        after: None,
        until: None,
        limit: Some(101),
    };
    let filter = EventFilter::default;
    let topic = |t: &str| EventFilter {
        topics: vec![t.into()],
        ..filter()
    };
    let text = || Some("deadbeef".to_owned());
    vec![
        ("newest first", page(filter(), Order::Desc)),
        ("topic", page(topic("svc.7"), Order::Desc)),
        ("topic, oldest first", page(topic("svc.7"), Order::Asc)),
        (
            "several topics",
            page(
                EventFilter {
                    topics: vec!["svc.7".into(), "svc.9".into()],
                    ..filter()
                },
                Order::Desc,
            ),
        ),
        (
            "source",
            page(
                EventFilter {
                    source: Some("host-3".into()),
                    ..filter()
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
                    ..filter()
                },
                Order::Desc,
            ),
        ),
        (
            "text",
            page(
                EventFilter {
                    text: text(),
                    ..filter()
                },
                Order::Desc,
            ),
        ),
        (
            "payload containment",
            page(
                EventFilter {
                    payload: Some(json!({"user": {"id": 4242}})),
                    ..filter()
                },
                Order::Desc,
            ),
        ),
        (
            "topic + text",
            page(
                EventFilter {
                    topics: vec!["svc.7".into()],
                    text: text(),
                    ..filter()
                },
                Order::Desc,
            ),
        ),
        (
            "follower (after a cursor, oldest first)",
            EventQuery {
                after: Some(After::Commit(CommitCursor { tx: 1, id: 190_000 })),
                ..page(filter(), Order::Asc)
            },
        ),
    ]
}
