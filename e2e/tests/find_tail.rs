//! The live tail under concurrent commits: two consumer processes store 50,000 records (30%
//! duplicates) while three SSE clients follow (all events; two topics; one that disconnects
//! midway and resumes with Last-Event-ID) and one HTTP client pages forward with
//! `after=<last id>&order=asc`. Each must receive exactly the distinct events it selects:
//! nothing twice, nothing missing, in commit order.

use crate::find_support;

use std::collections::{BTreeSet, HashSet};
use std::time::Duration;

use find_support::{key, SseClient, SseEvent};
use logagg_producer::generator::{LoadPlan, LoadSpec};
use logagg_testkit::{http, TestEnv};

const TIMEOUT: Duration = Duration::from_secs(240);

/// Every key once, cursors strictly increasing; returns the keys.
fn distinct_in_order(events: &[SseEvent], who: &str) -> BTreeSet<(String, String)> {
    assert!(
        events.windows(2).all(|w| w[0].cursor() < w[1].cursor()),
        "{who}: cursors not strictly increasing"
    );
    let keys: BTreeSet<_> = events.iter().map(SseEvent::key).collect();
    assert_eq!(keys.len(), events.len(), "{who}: an event came twice");
    keys
}

#[tokio::test(flavor = "multi_thread")]
async fn tails_receive_every_event_once_while_two_consumers_commit() {
    let env = TestEnv::new("tail", 4).await;
    let api = env
        .spawn_api_with(&[("LOGAGG_STREAM_HEARTBEAT_MS", "500".into())])
        .await;
    let plan = LoadPlan::new(LoadSpec {
        events: 50_000,
        duplicate_ratio: 0.3,
        topics: 8,
        payload_bytes: 32,
        seed: 1212,
        topic_prefix: "tail".into(),
    });
    let expected: BTreeSet<(String, String)> = (0..plan.distinct as u32)
        .map(|i| {
            let e = plan.event(i);
            (e.topic, e.event_id)
        })
        .collect();
    let wanted_topics: HashSet<&str> = ["tail.3", "tail.5"].into();
    let expected_filtered: BTreeSet<_> = expected
        .iter()
        .filter(|(t, _)| wanted_topics.contains(t.as_str()))
        .cloned()
        .collect();
    assert!(expected_filtered.len() > 5_000);

    // The streams start at "now": before anything is stored.
    let mut all = SseClient::open(&api, "/events/stream", None).await;
    let mut filtered = SseClient::open(&api, "/events/stream?topic=tail.3,tail.5", None).await;
    let mut leaver = SseClient::open(&api, "/events/stream", None).await;

    let _c1 = env.spawn_consumer("c1").await;
    let _c2 = env.spawn_consumer("c2").await;
    let sender = env.spawn_paced_sender(&plan, 1_000, Duration::from_millis(30));

    let total = expected.len();
    let filtered_total = expected_filtered.len();
    let all_task = tokio::spawn(async move {
        all.read_until(TIMEOUT, |c| c.events.len() >= total).await;
        all
    });
    let filtered_task = tokio::spawn(async move {
        filtered
            .read_until(TIMEOUT, |c| c.events.len() >= filtered_total)
            .await;
        filtered
    });
    // A follower paging with plain ids, as a new user would.
    let pager_api = api.url("");
    let pager = tokio::spawn(async move {
        let mut seen: Vec<(String, String)> = Vec::new();
        let mut last: Option<i64> = None;
        let deadline = std::time::Instant::now() + TIMEOUT;
        while seen.len() < total {
            assert!(
                std::time::Instant::now() < deadline,
                "pager saw {}",
                seen.len()
            );
            let path = match last {
                Some(id) => format!("{pager_api}/events?after={id}&order=asc&limit=1000"),
                None => format!("{pager_api}/events?order=asc&limit=1000"),
            };
            let reply = http("GET", &path, &[], None).await;
            assert_eq!(reply.status, 200, "{}", reply.text());
            let rows = reply.json();
            let rows = rows.as_array().unwrap();
            if rows.is_empty() {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            for row in rows {
                seen.push(key(row));
                last = row["id"].as_i64();
            }
        }
        seen
    });

    // The leaver reads a third, goes away while events keep arriving, and comes back.
    leaver
        .read_until(TIMEOUT, |c| c.events.len() >= total / 3)
        .await;
    let first_part = std::mem::take(&mut leaver.events);
    let resume_from = first_part.last().unwrap().id.clone();
    drop(leaver);
    let rows_then = env.rows().await;
    logagg_testkit::wait_for(
        TIMEOUT,
        "5,000 more rows while the leaver is away",
        || async { (env.rows().await >= rows_then + 5_000).then_some(()) },
    )
    .await;
    let mut back = SseClient::open(&api, "/events/stream", Some(&resume_from)).await;
    let rest = total - first_part.len();
    back.read_until(TIMEOUT, |c| c.events.len() >= rest).await;

    sender.await.expect("sender");
    env.assert_golden(&plan, TIMEOUT).await;

    let all = all_task.await.expect("all");
    assert_eq!(distinct_in_order(&all.events, "all"), expected);
    let filtered = filtered_task.await.expect("filtered");
    assert_eq!(
        distinct_in_order(&filtered.events, "filtered"),
        expected_filtered
    );
    let mut resumed = first_part;
    resumed.extend(back.events);
    assert_eq!(distinct_in_order(&resumed, "resumed"), expected);
    let paged = pager.await.expect("pager");
    let paged_set: BTreeSet<_> = paged.iter().cloned().collect();
    assert_eq!(paged_set.len(), paged.len(), "pager: an event came twice");
    assert_eq!(paged_set, expected, "pager");

    // Nothing more arrives afterwards (no late duplicate): one more read finds only heartbeats.
    let mut quiet = SseClient::open(
        &api,
        &format!("/events/stream?after={}", all.events.last().unwrap().id),
        None,
    )
    .await;
    quiet
        .read_until(Duration::from_secs(10), |c| c.comments >= 3)
        .await;
    assert!(quiet.events.is_empty(), "{:?}", quiet.events.first());
}
