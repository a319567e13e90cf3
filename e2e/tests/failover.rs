//! Broker failover (issue 15, item 2) on the test's own three-node cluster (replication 3,
//! `min.insync.replicas=2`): three logagg-api and three logagg-consumer processes, load through
//! the APIs (with client retries: duplicates) and through kcat, while the node leading the most
//! partitions is SIGKILLed and restarted five times. Two brokers stay up throughout, so every
//! publish must succeed (never 500, never 503, never past its timeout); afterwards every
//! acknowledged event is stored exactly once and the counters equal what the log holds. Then
//! with two nodes down (below `min.insync.replicas`) the API answers 503 with `Retry-After`
//! within its timeout, and publishes again once they are back.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::sql_types::Text;
use logagg_testkit::cluster::KafkaCluster;
use logagg_testkit::process::run_with_stdin;
use logagg_testkit::tools::kcat_read_all;
use logagg_testkit::{event_json, http, wait_for, Service, TestEnv};
use serde_json::{json, Value};

const KILLS: usize = 5;
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(15);
const EVENTS_PER_REQUEST: usize = 20;
const PARTITIONS: i32 = 6;

type Key = (String, String);

/// What the load saw: acknowledged keys, statuses, the slowest answer, anything unexpected.
#[derive(Default)]
struct Seen {
    acked: HashSet<Key>,
    statuses: BTreeMap<u16, u64>,
    slowest: Duration,
    unexpected: Vec<String>,
    kcat_runs: (u64, u64),
}

fn batch(tag: &str, seq: usize) -> Vec<Value> {
    (0..EVENTS_PER_REQUEST)
        .map(|k| {
            json!({"topic": format!("fo.{}", k % 8), "event_id": format!("{tag}-{seq}-{k}"),
                   "timestamp": "2026-11-26T00:00:00Z", "source": tag, "payload": {"k": k}})
        })
        .collect()
}

fn keys(events: &[Value]) -> impl Iterator<Item = Key> + '_ {
    events.iter().map(|e| {
        (
            e["topic"].as_str().unwrap().to_owned(),
            e["event_id"].as_str().unwrap().to_owned(),
        )
    })
}

/// Publishes through `api` until `stop`; every fourth request re-sends the previous batch, as a
/// client retrying after a lost answer would.
async fn http_load(api: String, tag: String, stop: Arc<AtomicBool>, seen: Arc<Mutex<Seen>>) {
    let mut previous: Option<Vec<Value>> = None;
    let mut seq = 0;
    while !stop.load(Ordering::Relaxed) {
        let events = match previous.take() {
            Some(events) if seq % 4 == 3 => events,
            _ => batch(&tag, seq),
        };
        seq += 1;
        let body = serde_json::to_vec(&json!({ "events": events })).unwrap();
        let started = Instant::now();
        let reply = http(
            "POST",
            &api,
            &[("content-type", "application/json")],
            Some(body),
        )
        .await;
        let took = started.elapsed();
        {
            let mut seen = seen.lock().unwrap();
            *seen.statuses.entry(reply.status).or_default() += 1;
            seen.slowest = seen.slowest.max(took);
            if reply.status == 200 {
                seen.acked.extend(keys(&events));
            } else {
                let what = format!(
                    "{api} answered {} after {took:?}: {}",
                    reply.status,
                    reply.text()
                );
                seen.unexpected.push(what);
            }
        }
        previous = Some(events);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Publishes with kcat (idempotent, acks=all) until `stop`; a run that exits 0 had every record
/// acknowledged.
async fn kcat_load(brokers: String, topic: String, stop: Arc<AtomicBool>, seen: Arc<Mutex<Seen>>) {
    let mut seq = 0;
    while !stop.load(Ordering::Relaxed) {
        let events = batch("kcat", seq);
        seq += 1;
        let input: String = events
            .iter()
            .map(|e| format!("{}\t{e}\n", e["topic"].as_str().unwrap()))
            .collect();
        let (brokers, topic) = (brokers.clone(), topic.clone());
        let ok = tokio::task::spawn_blocking(move || {
            let mut kcat = std::process::Command::new("kcat");
            kcat.args(["-P", "-b", &brokers, "-t", &topic, "-K", "\t", "-q"])
                .args([
                    "-X",
                    "enable.idempotence=true",
                    "-X",
                    "message.timeout.ms=30000",
                ]);
            run_with_stdin(&mut kcat, input.as_bytes())
                .expect("kcat")
                .status
                .success()
        })
        .await
        .unwrap();
        {
            let mut seen = seen.lock().unwrap();
            if ok {
                seen.acked.extend(keys(&events));
                seen.kcat_runs.0 += 1;
            } else {
                seen.kcat_runs.1 += 1;
            }
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Every record of the topic as (topic, event_id), read with kcat to the end of the log.
fn log_keys(brokers: &str, topic: &str) -> Vec<Key> {
    kcat_read_all(brokers, topic, "%s\n")
        .lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line).expect("a JSON record");
            (
                v["topic"].as_str().unwrap().into(),
                v["event_id"].as_str().unwrap().into(),
            )
        })
        .collect()
}

#[derive(diesel::QueryableByName)]
struct StoredKey {
    #[diesel(sql_type = Text)]
    topic: String,
    #[diesel(sql_type = Text)]
    event_id: String,
}

/// Every (topic, event_id) in the test's `events` table.
async fn stored_keys(env: &TestEnv) -> HashSet<Key> {
    use diesel_async::RunQueryDsl;
    let mut conn = env.pool.get().await.expect("db");
    let stored: Vec<StoredKey> = diesel::sql_query("SELECT topic, event_id FROM events")
        .load(&mut conn)
        .await
        .expect("stored keys");
    stored.into_iter().map(|k| (k.topic, k.event_id)).collect()
}

/// The node leading the most partitions of `topic`, once every partition has 3 in-sync replicas.
async fn busiest_leader_when_in_sync(cluster: &KafkaCluster, topic: &str) -> i32 {
    wait_for(
        Duration::from_secs(90),
        "every partition fully in sync",
        || async {
            let partitions = cluster.partitions(topic).ok()?;
            if partitions.len() != PARTITIONS as usize
                || partitions.values().any(|(_, isr)| *isr < 3)
            {
                return None;
            }
            let mut led: BTreeMap<i32, usize> = BTreeMap::new();
            for (leader, _) in partitions.values() {
                *led.entry(*leader).or_default() += 1;
            }
            led.into_iter()
                .max_by_key(|(_, n)| *n)
                .map(|(node, _)| node)
        },
    )
    .await
}

async fn spawn_api(env: &TestEnv, label: &str) -> Service {
    let vars = [
        (
            "LOGAGG_PUBLISH_TIMEOUT_MS",
            PUBLISH_TIMEOUT.as_millis().to_string(),
        ),
        ("LOGAGG_DB_RETRY_MAX_MS", "1000".into()),
    ]
    .map(|(k, v)| (k.to_owned(), v));
    let api = env
        .spawn("logagg-api", "LOGAGG_API_ADDR", label, &vars)
        .expect("spawn logagg-api");
    api.wait_health_status(200, Duration::from_secs(60)).await;
    api
}

#[tokio::test(flavor = "multi_thread")]
async fn leader_sigkills_lose_and_double_nothing_and_the_api_never_fails() {
    let started = Instant::now();
    // Declared first, dropped last: the cluster outlives every process that uses it.
    let cluster = tokio::task::spawn_blocking(|| KafkaCluster::start("failover"))
        .await
        .unwrap()
        .expect("three-node cluster");
    let brokers = cluster.brokers();
    let env = TestEnv::on_brokers("failover", PARTITIONS, &brokers).await;
    let mut apis = Vec::new();
    for i in 1..=3 {
        apis.push(spawn_api(&env, &format!("api{i}")).await);
    }
    let session = [("LOGAGG_CONSUMER_SESSION_TIMEOUT_MS", "6000".to_string())];
    let mut consumers = Vec::new();
    for i in 1..=3 {
        consumers.push(env.spawn_consumer_with(&format!("c{i}"), &session).await);
    }
    let ready = started.elapsed();

    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Mutex::new(Seen::default()));
    let mut load = Vec::new();
    for (i, api) in apis.iter().enumerate() {
        let task = http_load(
            api.url("/publish"),
            format!("api{i}"),
            stop.clone(),
            seen.clone(),
        );
        load.push(tokio::spawn(task));
    }
    load.push(tokio::spawn(kcat_load(
        brokers.clone(),
        env.topic.clone(),
        stop.clone(),
        seen.clone(),
    )));

    let mut killed = Vec::new();
    for _ in 0..KILLS {
        let node = busiest_leader_when_in_sync(&cluster, &env.topic).await;
        cluster.kill(node).expect("kill");
        killed.push(node);
        tokio::time::sleep(Duration::from_secs(3)).await;
        cluster.start_node(node).expect("restart");
    }
    busiest_leader_when_in_sync(&cluster, &env.topic).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    for task in load {
        task.await.expect("load task");
    }
    let loaded = started.elapsed();

    let records = env.high_watermarks().await;
    let counts = env
        .wait_counts(
            Duration::from_secs(120),
            "every record in the log received",
            |c| c.received >= records,
        )
        .await;
    let in_log = log_keys(&brokers, &env.topic);
    let distinct: HashSet<Key> = in_log.iter().cloned().collect();
    let stored = stored_keys(&env).await;
    let seen = std::mem::take(&mut *seen.lock().unwrap());

    eprintln!(
        "ready after {ready:?}; killed nodes {killed:?}; load ran until {loaded:?}; answers {:?}, slowest {:?}; kcat runs ok/failed {:?}; {} records in the log, {} distinct, {} acknowledged; counters {counts:?}; total {:?}",
        seen.statuses,
        seen.slowest,
        seen.kcat_runs,
        in_log.len(),
        distinct.len(),
        seen.acked.len(),
        started.elapsed()
    );
    assert!(
        seen.unexpected.is_empty(),
        "with two of three brokers up every publish succeeds: {:#?}",
        &seen.unexpected[..seen.unexpected.len().min(10)]
    );
    assert!(
        seen.slowest <= PUBLISH_TIMEOUT + Duration::from_secs(2),
        "a publish hung: {:?}",
        seen.slowest
    );
    assert_eq!(seen.kcat_runs.1, 0, "every kcat run was acknowledged");
    assert_eq!(in_log.len() as i64, records, "kcat read the whole log");
    let missing: Vec<_> = seen.acked.difference(&stored).take(10).collect();
    assert!(
        missing.is_empty(),
        "acknowledged but not stored: {missing:?}"
    );
    assert_eq!(stored, distinct, "stored = the distinct events of the log");
    assert_eq!(counts.received, records, "{counts:?}");
    assert_eq!(counts.unique_processed, distinct.len() as i64, "{counts:?}");
    assert_eq!(
        counts.duplicate_dropped,
        records - distinct.len() as i64,
        "{counts:?}"
    );
    assert_eq!((counts.invalid, counts.lost), (0, 0), "{counts:?}");
    assert_eq!(env.rows().await, distinct.len() as i64);

    // Below min.insync.replicas (one node of three up): a publish is answered 503 with
    // Retry-After once its timeout passes, never 500, never later; once the nodes are back a
    // publish succeeds again.
    let down = [1, 2];
    for node in down {
        cluster.kill(node).expect("kill");
    }
    let sent = Instant::now();
    let reply = apis[0].publish(&event_json("below", "1")).await;
    let took = sent.elapsed();
    assert_eq!(reply.status, 503, "one broker of three: {}", reply.text());
    assert!(
        reply.header("retry-after").is_some(),
        "503 without Retry-After"
    );
    assert!(
        took <= PUBLISH_TIMEOUT + Duration::from_secs(2),
        "answered after {took:?}"
    );
    for node in down {
        cluster.start_node(node).expect("restart");
    }
    let recovered = Instant::now();
    wait_for(
        Duration::from_secs(120),
        "a publish to succeed again",
        || async {
            let reply = apis[0].publish(&event_json("below", "2")).await;
            assert!(
                matches!(reply.status, 200 | 503),
                "while the nodes come back: {} {}",
                reply.status,
                reply.text()
            );
            (reply.status == 200).then_some(())
        },
    )
    .await;
    eprintln!(
        "one broker up: 503 after {took:?}; publishing again {:?} after the restart; test took {:?}",
        recovered.elapsed(),
        started.elapsed()
    );
    for service in consumers.into_iter().chain(apis) {
        service.terminate_cleanly().await;
    }
}
