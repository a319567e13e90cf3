//! Every filter of `GET /events` and their combinations against a known data set, under
//! cursor paging in both orders (following Link), while new events keep arriving; malformed
//! filters are 400s naming the parameter.

use crate::find_support;

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use find_support::{follow, key};
use logagg_core::Event;
use logagg_testkit::{http, wait_for, Service, TestEnv};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde_json::{json, Value};

const TIMEOUT: Duration = Duration::from_secs(90);
const EVENTS: usize = 400;

fn base_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 0, 0, 0).unwrap()
}

/// The i-th event of the data set: 4 topics, 3 sources, 3 levels, one per minute, payload with a level,
/// a nested user and a message; every 9th mentions "Needle" (mixed case).
fn event(i: usize) -> Event {
    let level = ["info", "warn", "error"][i % 3];
    let source = ["web", "db", "cache"][(i / 2) % 3];
    let tier = if i % 5 == 0 { "gold" } else { "free" };
    let message = if i % 9 == 0 {
        format!("found the NeEdLe in request {i}")
    } else {
        format!("request {i} ok")
    };
    Event::from_value(&json!({
        "topic": format!("app.{}", i % 4),
        "event_id": format!("ev-{i:04}"),
        "timestamp": (base_time() + chrono::Duration::minutes(i as i64)).to_rfc3339(),
        "source": source,
        "payload": {"level": level, "user": {"id": i % 7, "tier": tier}, "msg": message}
    }))
    .expect("valid event")
}

struct Case {
    query: String,
    keep: Box<dyn Fn(usize) -> bool>,
}

fn enc(s: &str) -> String {
    utf8_percent_encode(s, NON_ALPHANUMERIC).to_string()
}

fn cases() -> Vec<Case> {
    let at = |minutes: i64| enc(&(base_time() + chrono::Duration::minutes(minutes)).to_rfc3339());
    let case = |query: String, keep: Box<dyn Fn(usize) -> bool>| Case { query, keep };
    vec![
        case("topic=app.1".into(), Box::new(|i| i % 4 == 1)),
        case(
            "topic=app.1,app.2".into(),
            Box::new(|i| i % 4 == 1 || i % 4 == 2),
        ),
        case("source=db".into(), Box::new(|i| (i / 2) % 3 == 1)),
        case(format!("from={}", at(100)), Box::new(|i| i >= 100)),
        case(format!("to={}", at(50)), Box::new(|i| i < 50)),
        case(
            format!("from={}&to={}", at(120), at(260)),
            Box::new(|i| (120..260).contains(&i)),
        ),
        case("q=needle".into(), Box::new(|i| i % 9 == 0)),
        case("q=NEEDLE".into(), Box::new(|i| i % 9 == 0)),
        case(
            format!("payload={}", enc(r#"{"level":"error"}"#)),
            Box::new(|i| i % 3 == 2),
        ),
        case(
            format!("payload={}", enc(r#"{"user":{"tier":"gold"}}"#)),
            Box::new(|i| i % 5 == 0),
        ),
        case(
            "topic=app.0,app.3&source=web&q=needle".to_string(),
            Box::new(|i| (i % 4 == 0 || i % 4 == 3) && (i / 2) % 3 == 0 && i % 9 == 0),
        ),
        case(
            format!(
                "from={}&payload={}",
                at(200),
                enc(r#"{"user":{"id":3},"level":"info"}"#)
            ),
            Box::new(|i| i >= 200 && i % 7 == 3 && i % 3 == 0),
        ),
        case(
            format!(
                "topic=app.2&source=cache&from={}&to={}&q=request&payload={}",
                at(10),
                at(390),
                enc(r#"{"user":{"tier":"free"}}"#)
            ),
            Box::new(|i| i % 4 == 2 && (i / 2) % 3 == 2 && (10..390).contains(&i) && i % 5 != 0),
        ),
    ]
}

async fn publish_range(env: &TestEnv, range: std::ops::Range<usize>) {
    let events: Vec<Event> = range.map(event).collect();
    env.producer().publish(&events).await.expect("publish");
}

async fn wait_rows(env: &TestEnv, rows: i64) {
    wait_for(TIMEOUT, &format!("{rows} rows"), || async {
        (env.rows().await >= rows).then_some(())
    })
    .await;
}

fn ids(rows: &[Value]) -> Vec<String> {
    rows.iter().map(|r| key(r).1).collect()
}

async fn check_case(api: &Service, case: &Case, universe: usize) {
    let expected: BTreeSet<String> = (0..universe)
        .filter(|&i| (case.keep)(i))
        .map(|i| format!("ev-{i:04}"))
        .collect();
    assert!(!expected.is_empty(), "{}", case.query);
    for order in ["desc", "asc"] {
        let (rows, pages) = follow(
            api,
            &format!("/events?{}&limit=7&order={order}", case.query),
        )
        .await;
        let got = ids(&rows);
        let set: BTreeSet<String> = got.iter().cloned().collect();
        assert_eq!(set.len(), got.len(), "{} {order}: a row twice", case.query);
        assert_eq!(set, expected, "{} {order}", case.query);
        assert_eq!(
            pages,
            expected.len().div_ceil(7).max(1),
            "{} {order}",
            case.query
        );
        let row_ids: Vec<i64> = rows.iter().map(|r| r["id"].as_i64().unwrap()).collect();
        match order {
            "desc" => assert!(row_ids.windows(2).all(|w| w[0] > w[1]), "{}", case.query),
            // One consumer writing one transaction at a time: commit order is publish order.
            // (Parallel writers commit shares of other topics in any order, like several
            // consumers do; the follower tests cover that.)
            _ => assert!(row_ids.windows(2).all(|w| w[0] < w[1]), "{}", case.query),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_filter_and_combination_pages_exactly() {
    let env = TestEnv::new("filters", 2).await;
    let api = env.spawn_api().await;
    let _consumer = env
        .spawn_consumer_with("c1", &[("LOGAGG_CONSUMER_WRITERS", "1".into())])
        .await;
    publish_range(&env, 0..EVENTS).await;
    wait_rows(&env, EVENTS as i64).await;
    for case in cases() {
        check_case(&api, &case, EVENTS).await;
    }
    // The seed contract is untouched: newest first, 100 rows, the same fields.
    let (status, rows) = api.get("/events?topic=app.1").await;
    assert_eq!(status, 200);
    let rows = rows.as_array().unwrap().clone();
    assert_eq!(rows.len(), 100);
    assert_eq!(rows[0]["event_id"], "ev-0397");
    let fields: BTreeSet<&str> = rows[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        fields,
        [
            "event_id",
            "id",
            "offset",
            "partition",
            "payload",
            "processed_at",
            "source",
            "timestamp",
            "topic"
        ]
        .into()
    );
    // A LIKE wildcard is a literal character, not "anything".
    assert_eq!(api.get("/events?q=%25%25%25").await.1, json!([]));
}

#[tokio::test(flavor = "multi_thread")]
async fn paging_while_events_arrive_has_no_gap_and_no_duplicate() {
    let env = TestEnv::new("filterlive", 3).await;
    let api = env.spawn_api().await;
    let _c1 = env.spawn_consumer("c1").await;
    let _c2 = env.spawn_consumer("c2").await;
    publish_range(&env, 0..EVENTS).await;
    wait_rows(&env, EVENTS as i64).await;
    // New events keep arriving while both readers page.
    let late_env_producer = env.producer();
    let arriving = tokio::spawn(async move {
        for chunk in (EVENTS..EVENTS * 3).collect::<Vec<_>>().chunks(20) {
            let events: Vec<Event> = chunk.iter().copied().map(event).collect();
            late_env_producer.publish(&events).await.expect("publish");
            tokio::time::sleep(Duration::from_millis(40)).await;
        }
    });
    // Newest first: starting from the top, every event present at the start comes exactly
    // once (newer arrivals sort above the cursor and never shift a page).
    let query = format!("payload={}", enc(r#"{"level":"error"}"#));
    let (rows, _) = follow(&api, &format!("/events?{query}&limit=5")).await;
    let got = ids(&rows);
    let set: BTreeSet<&String> = got.iter().collect();
    assert_eq!(set.len(), got.len(), "a row twice");
    for i in (0..EVENTS).filter(|i| i % 3 == 2) {
        assert!(set.contains(&format!("ev-{i:04}")), "ev-{i:04} missing");
    }
    // Oldest first, then keep following with the last Link/cursor: everything, once.
    let expected: BTreeSet<String> = (0..EVENTS * 3)
        .filter(|i| i % 3 == 2)
        .map(|i| format!("ev-{i:04}"))
        .collect();
    let mut seen: Vec<String> = Vec::new();
    let mut next = format!("/events?{query}&limit=9&order=asc");
    let deadline = std::time::Instant::now() + TIMEOUT;
    while seen.len() < expected.len() {
        assert!(
            std::time::Instant::now() < deadline,
            "saw {} of {}",
            seen.len(),
            expected.len()
        );
        let reply = http("GET", &api.url(&next), &[], None).await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        let rows = reply.json().as_array().unwrap().clone();
        seen.extend(ids(&rows));
        match (reply.header("link"), rows.last()) {
            (Some(link), _) => {
                next = link
                    .split_once(';')
                    .unwrap()
                    .0
                    .trim()
                    .trim_matches(['<', '>'])
                    .to_owned();
            }
            (None, Some(last)) => {
                // The last page: continue after its last row, as a follower does.
                next = format!("/events?{query}&limit=9&after={}", last["id"]);
            }
            (None, None) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    arriving.await.expect("arriving");
    let set: BTreeSet<String> = seen.iter().cloned().collect();
    assert_eq!(set.len(), seen.len(), "a row twice");
    assert_eq!(set, expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_filters_are_400s_naming_the_parameter() {
    let env = TestEnv::new("filterbad", 1).await;
    let api = env.spawn_api().await;
    for (query, name) in [
        ("from=yesterday", "from"),
        ("to=2026-11-25T12:00:00", "to"),
        ("from=2026-11-26T00:00:00Z&to=2026-11-25T00:00:00Z", "from"),
        ("q=ab", "q"),
        ("payload=%5B1%5D", "payload"),
        ("payload=%7B%7D", "payload"),
        ("payload=%7Bnope", "payload"),
        ("source=", "source"),
        ("after=1.x", "after"),
    ] {
        for path in ["/events", "/events/export", "/events/stream"] {
            if path == "/events/stream" && query == "after=1.x" {
                continue;
            }
            let reply = http("GET", &api.url(&format!("{path}?{query}")), &[], None).await;
            assert_eq!(reply.status, 400, "{path}?{query}: {}", reply.text());
            let error = reply.json()["error"].as_str().unwrap().to_owned();
            assert!(error.contains(name), "{path}?{query}: {error}");
        }
    }
    let reply = api
        .api()
        .get_with("/events/stream", &[("last-event-id", "nope")])
        .await;
    assert_eq!(reply.status, 400);
    assert!(reply.json()["error"]
        .as_str()
        .unwrap()
        .contains("Last-Event-ID"));
    let reply = http("GET", &api.url("/events/export?limit=5"), &[], None).await;
    assert_eq!(reply.status, 400);
    assert!(reply.json()["error"].as_str().unwrap().contains("limit"));
}
