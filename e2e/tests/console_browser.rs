//! The web console in a real browser (headless Chromium through chromedriver, both from
//! Debian's packages): events are published, the overview's counters equal `/stats`, a search
//! finds a topic's events and shows one in detail, a newly published event appears in the live
//! tail within 2 s (and pause/resume loses none), and a dead letter made from an invalid
//! record is retried. Screenshots of each page land in target/e2e-screenshots/.

use crate::console_kit;

use std::time::{Duration, Instant};

use console_kit::{is_png, Browser, SHOWN_COUNTERS};
use logagg_testkit::{event_json, wait_for, Service, TestEnv};
use serde_json::{json, Value};

const STORED: Duration = Duration::from_secs(60);
/// The issue's promise: a new event is in the tail within 2 s of its publish being acked.
const TAIL_LATENCY: Duration = Duration::from_secs(2);

/// An event with a payload worth looking at.
fn order(topic: &str, id: &str, amount: u32) -> Value {
    let mut event = event_json(topic, id);
    event["source"] = json!(format!("{topic}-service"));
    event["payload"] = json!({"order": id, "amount": amount, "level": if amount % 7 == 0 { "error" } else { "info" }});
    event
}

/// 40 distinct events on three topics, 8 of them published twice (duplicates), and one
/// record that is not JSON (a dead letter); waits until all of it is stored.
async fn publish_history(env: &TestEnv, api: &Service) -> i64 {
    let topics = ["checkout", "payments", "web/frontend"];
    let events: Vec<Value> = (0..40)
        .map(|i| order(topics[i % 3], &format!("ord-{i:03}"), 10 + i as u32))
        .collect();
    api.api().publish_ok(&json!({ "events": events })).await;
    api.api()
        .publish_ok(&json!({ "events": events[..8] }))
        .await;
    env.produce_raw(Some(0), Some(b"checkout"), b"{not json")
        .await;
    wait_for(STORED, "history stored", || async {
        let stats = api.api().stats().await;
        (stats.received == 49 && stats.dead_letters == 1).then_some(())
    })
    .await;
    let letters = api.api().get_json("/dead-letters").await;
    letters[0]["id"].as_i64().expect("the dead letter's id")
}

/// Waits until everything published is stored (`received` reached, no lag).
async fn wait_idle(api: &Service, received: i64) {
    wait_for(STORED, "the stack to be idle", || async {
        let stats = api.api().stats().await;
        (stats.received == received && stats.consumer_lag == Some(0)).then_some(())
    })
    .await;
}

/// The counters the overview shows equal those of `/stats` (the stack being idle).
async fn counters_equal_stats(browser: &Browser, api: &Service) -> Value {
    let stats = api.api().get_json("/stats").await;
    let fields = [
        "received",
        "unique_processed",
        "duplicate_dropped",
        "invalid",
        "replayed",
        "stored_events",
        "dead_letters",
        "consumer_lag",
    ];
    let shown = browser
        .wait_js(
            "the overview's counters to equal /stats",
            &format!(
                "const shown = (() => {{ {SHOWN_COUNTERS} }})();
                 const want = arguments[0];
                 return Object.keys(want).every(k => shown[k] === String(want[k])) ? shown : null;"
            ),
            vec![json!(fields
                .iter()
                .map(|f| (f.to_string(), stats[f].clone()))
                .collect::<serde_json::Map<_, _>>())],
        )
        .await;
    for field in fields {
        assert_eq!(shown[field], json!(stats[field].to_string()), "{field}");
    }
    shown
}

/// The overview: counters equal to `/stats`, before and after a paced load whose rates the
/// chart draws, topics, lag per partition and health.
async fn overview_matches_stats(browser: &Browser, api: &Service) {
    browser.client.goto(&api.url("/")).await.expect("open /");
    let url = browser.client.current_url().await.expect("url");
    assert_eq!(url.path(), "/console", "/ redirects to the console");
    let shown = counters_equal_stats(browser, api).await;
    assert_eq!(shown["received"], json!("49"));
    assert_eq!(shown["duplicate_dropped"], json!("8"));
    assert_eq!(shown["invalid"], json!("1"));
    // Per-topic table, lag per partition, health badges and the rate chart (two polls).
    browser
        .wait_js(
            "topics, lag, health and chart",
            "return document.querySelectorAll('#topics-table tbody tr[data-topic]').length === 3
                 && document.querySelectorAll('#lag-table tbody tr[data-partition]').length === 3
                 && document.getElementById('health-database').dataset.state === 'up'
                 && document.getElementById('health-broker').dataset.state === 'up'
                 && document.querySelector('#rate-chart canvas') !== null;",
            vec![],
        )
        .await;
    let stored = browser
        .eval(
            "return document.querySelector('#topics-table tr[data-topic=\"payments\"] td:nth-child(2)').textContent;",
            vec![],
        )
        .await;
    assert_eq!(stored, json!("13"), "payments: 13 of the 40 events");

    // Ten rounds of 10 new events and 3 of them again, 0.8 s apart: a load shape to chart
    // (the pause paces the load; nothing waits on it).
    for round in 0..10 {
        let batch: Vec<Value> = (0..10)
            .map(|i| order("checkout", &format!("paced-{round}-{i}"), 50 + i))
            .collect();
        api.api().publish_ok(&json!({ "events": batch })).await;
        api.api().publish_ok(&json!({ "events": batch[..3] })).await;
        tokio::time::sleep(Duration::from_millis(800)).await;
    }
    browser
        .wait_js(
            "the chart to draw non-zero ingest and duplicate rates",
            "const c = document.getElementById('rate-chart').dataset;
             return Number(c.peakIngest) > 0 && Number(c.peakDuplicates) > 0;",
            vec![],
        )
        .await;
    wait_idle(api, 49 + 100 + 30).await;
    let shown = counters_equal_stats(browser, api).await;
    assert_eq!(shown["duplicate_dropped"], json!("38"));
    assert!(is_png(&browser.screenshot("overview").await));
}

/// A search by topic and text lists exactly the matching events; a row opens its detail.
async fn search_finds_and_details(browser: &Browser, api: &Service) {
    browser.click("a[data-page=search]").await;
    browser
        .type_into("#search-form input[name=topic]", "payments")
        .await;
    browser
        .type_into("#search-form input[name=payload]", r#"{"level":"error"}"#)
        .await;
    browser.click("#search-run").await;
    let expected: Vec<String> = api
        .api()
        .events("topic=payments&payload=%7B%22level%22%3A%22error%22%7D&limit=50")
        .await
        .into_iter()
        .map(|e| e.event_id)
        .collect();
    assert!(!expected.is_empty(), "some payments are errors");
    let shown = browser
        .wait_js(
            "the search results",
            "const rows = [...document.querySelectorAll('#search-results tbody tr[data-event-id]')];
             const ids = rows.map(r => r.dataset.eventId);
             return ids.length === arguments[0].length ? ids : null;",
            vec![json!(expected)],
        )
        .await;
    assert_eq!(
        shown,
        json!(expected),
        "the console lists what GET /events answers"
    );
    let curl = browser
        .eval(
            "return document.getElementById('search-curl').textContent;",
            vec![],
        )
        .await;
    let curl = curl.as_str().unwrap();
    assert!(
        curl.starts_with("curl -s '") && curl.contains("topic=payments"),
        "{curl}"
    );
    // Keyboard: focus the first row and open it with Enter.
    browser
        .eval(
            "document.querySelector('#search-results tbody tr').focus();",
            vec![],
        )
        .await;
    browser
        .client
        .active_element()
        .await
        .expect("focused row")
        .send_keys("\u{E007}")
        .await
        .expect("Enter");
    let detail = browser
        .shown_text("the event's detail", "search-detail", "search-detail-json")
        .await;
    let detail: Value = serde_json::from_str(&detail).expect("pretty JSON");
    assert_eq!(detail["event_id"], json!(expected[0]));
    assert_eq!(detail["payload"]["level"], json!("error"));
    assert!(is_png(&browser.screenshot("search").await));
}

/// A new event is in the tail within 2 s; while paused nothing arrives, and resuming
/// delivers what was published meanwhile.
async fn tail_follows_and_resumes(browser: &Browser, api: &Service) {
    browser.click("a[data-page=tail]").await;
    browser
        .wait_js(
            "the tail to connect",
            "return document.getElementById('tail-status').textContent.startsWith('Live');",
            vec![],
        )
        .await;
    let row = "return document.querySelector(`#tail-table tr[data-event-id=\"${arguments[0]}\"]`) !== null;";
    for i in 0..3 {
        let id = format!("live-{i}");
        api.api().publish_ok(&order("checkout", &id, 100 + i)).await;
        let acked = Instant::now();
        browser
            .wait_js_within(
                TAIL_LATENCY,
                &format!("{id} in the live tail within 2 s"),
                row,
                vec![json!(id)],
            )
            .await;
        eprintln!(
            "{id}: in the tail {:?} after its publish was acked",
            acked.elapsed()
        );
    }
    assert!(is_png(&browser.screenshot("tail").await));

    browser.click("#tail-toggle").await;
    api.api()
        .publish_ok(&order("payments", "while-paused", 1))
        .await;
    wait_for(STORED, "the paused-for event stored", || async {
        api.api().event("payments", "while-paused").await
    })
    .await;
    let present = browser.eval(row, vec![json!("while-paused")]).await;
    assert_eq!(present, json!(false), "a paused tail shows nothing new");
    browser.click("#tail-toggle").await;
    browser
        .wait_js(
            "the missed event after resume",
            row,
            vec![json!("while-paused")],
        )
        .await;
}

/// The dead letter is listed with its raw record and retried through the console.
async fn dead_letter_retried(browser: &Browser, api: &Service, id: i64) {
    browser.click("a[data-page=letters]").await;
    let row = format!("#letters-table tr[data-id=\"{id}\"]");
    browser
        .wait_js(
            "the dead letter listed",
            "return document.querySelector(arguments[0]) !== null;",
            vec![json!(row)],
        )
        .await;
    browser.click(&row).await;
    let raw = browser
        .shown_text("the raw record", "letters-detail", "letters-detail-raw")
        .await;
    assert!(raw.contains("{not json"), "{raw}");
    assert!(is_png(&browser.screenshot("dead-letters").await));
    browser.click(&format!("{row} button.retry")).await;
    browser
        .wait_js(
            "the retry to be reported",
            "return document.querySelector(arguments[0])?.dataset.retried === 'true';",
            vec![json!(row)],
        )
        .await;
    let retried = api.api().get_json("/dead-letters?status=retried").await;
    assert_eq!(retried[0]["id"], json!(id), "the API marked it retried");
    // The record went back to Kafka: the consumer reads it again (and refuses it again).
    wait_for(STORED, "the retried record re-read", || async {
        (api.api().stats().await.invalid == 2).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn console_shows_searches_tails_and_retries() {
    let env = TestEnv::new("console", 3).await;
    let _consumer = env.spawn_consumer("console").await;
    let api = env.spawn_api().await;
    let dead_letter = publish_history(&env, &api).await;
    let browser = Browser::start(1280, 1000, false).await;
    overview_matches_stats(&browser, &api).await;
    search_finds_and_details(&browser, &api).await;
    tail_follows_and_resumes(&browser, &api).await;
    dead_letter_retried(&browser, &api, dead_letter).await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn console_asks_for_a_token_and_fits_a_dark_phone() {
    let token = "console-test-token";
    let (_env, api) = TestEnv::with_api(
        "console_token",
        1,
        &[("LOGAGG_API_TOKEN", token.to_owned())],
    )
    .await;
    let browser = Browser::start(390, 844, true).await;
    browser
        .client
        .goto(&api.url("/console"))
        .await
        .expect("open");
    browser
        .wait_js(
            "the token dialog",
            "return document.getElementById('token-dialog').open;",
            vec![],
        )
        .await;
    browser.type_into("#token-input", token).await;
    browser.click("#token-save").await;
    let shown = browser
        .wait_js(
            "the counters with the token",
            &format!(
                "const s = (() => {{ {SHOWN_COUNTERS} }})(); return s.received === '0' ? s : null;"
            ),
            vec![],
        )
        .await;
    assert_eq!(shown["invalid"], json!("0"));
    let kept = browser
        .eval("return sessionStorage.getItem('logagg.token');", vec![])
        .await;
    assert_eq!(kept, json!(token), "kept for the browser session");
    // At phone width nothing is wider than the screen.
    let overflow = browser
        .eval(
            "return document.documentElement.scrollWidth - window.innerWidth;",
            vec![],
        )
        .await;
    assert!(
        overflow.as_i64().unwrap() <= 0,
        "horizontal overflow of {overflow}px"
    );
    let dark = browser
        .eval(
            "return matchMedia('(prefers-color-scheme: dark)').matches;",
            vec![],
        )
        .await;
    assert_eq!(dark, json!(true), "the dark colour scheme is in effect");
    assert!(is_png(&browser.screenshot("overview-phone-dark").await));
    browser.close().await;
}
