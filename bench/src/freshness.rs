//! (5) Freshness: the release API and consumer, a steady open-loop load of `rate` events/s
//! (batches of 50 every 10 ms at 5,000/s, 30% duplicates), and a poller following
//! `GET /events?after=<last id>&order=asc` as fast as it answers. For each distinct event:
//! time from the ack of the `POST /publish` that carried its first occurrence to the first
//! poll response that contained it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure};
use serde::Deserialize;

use crate::dataset::Dataset;
use logagg_core::db::progress::Counts;
use logagg_testkit::{Expected, Sandbox};

use crate::http::{client, post, Latencies};
use crate::procfs::{peak_rss, CpuUse, CpuWatch};

/// Events per request of the steady load.
pub const BATCH: usize = 50;
/// Rows per poll.
const POLL_LIMIT: usize = 1000;

#[derive(Debug, Clone)]
pub struct Freshness {
    pub rate: f64,
    pub sent: usize,
    pub elapsed: Duration,
    /// Ack -> visible, per distinct event (microseconds).
    pub visible: Latencies,
    /// Events seen before their publish ack came back (counted as 0).
    pub early: usize,
    /// Worst ack -> visible of each second of the load (microseconds).
    pub per_second: Vec<u64>,
    pub publish: Latencies,
    pub polls: usize,
    pub api_rss: u64,
    pub consumer_rss: u64,
    pub counters: Counts,
    pub golden_errors: Vec<String>,
    pub cpu: CpuUse,
}

#[derive(Deserialize)]
struct Row {
    id: i64,
    event_id: String,
}

struct Tracker {
    index_of: HashMap<String, u32>,
    acked: Vec<Option<Instant>>,
    seen: Vec<Option<Instant>>,
    seen_count: usize,
}

pub async fn run(scope: &Sandbox, data: &Dataset, rate: f64) -> anyhow::Result<Freshness> {
    let api = scope.spawn_api(&[]).await?;
    let mut consumer = scope.spawn_consumer("consumer", &[])?;
    consumer.wait_health(200, Duration::from_secs(60)).await?;
    let http = client(64);
    let base = api.url("");

    // Warm-up: one event, visible once the consumer has joined the group and owns every
    // partition, so the measured load does not wait for the group join.
    let warm = Dataset::generate(1, 0.0, 1, 16, 1, "warmup");
    ensure!(
        post(&http, &format!("{base}/publish"), warm.value(0)).await,
        "warm-up publish failed"
    );
    let warm_deadline = Instant::now() + Duration::from_secs(60);
    while scope.counts().await?.received < 1 {
        if Instant::now() > warm_deadline {
            bail!(
                "the consumer did not store the warm-up event within 60 s (log: {})",
                consumer.log.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let last_id: i64 = {
        let rows: Vec<Row> = http
            .get(format!("{base}/events?order=desc&limit=1"))
            .send()
            .await?
            .json()
            .await?;
        rows.first().map_or(0, |r| r.id)
    };

    let distinct = data.distinct();
    let tracker = Arc::new(Mutex::new(Tracker {
        index_of: (0..distinct as u32)
            .map(|i| (data.plan.event(i).event_id, i))
            .collect(),
        acked: vec![None; distinct],
        seen: vec![None; distinct],
        seen_count: 0,
    }));
    let bodies: Vec<_> = (0..data.len())
        .step_by(BATCH)
        .map(|start| {
            let end = (start + BATCH).min(data.len());
            let firsts: Vec<u32> = (start..end)
                .filter(|&k| data.first[k])
                .map(|k| data.plan.sends[k])
                .collect();
            (data.batch_body(start..end), firsts)
        })
        .collect();
    let period = Duration::from_secs_f64(BATCH as f64 / rate);
    let load_secs = data.len() as f64 / rate;

    let watch = CpuWatch::new(vec![
        (api.pid(), "api".into()),
        (consumer.pid(), "consumer".into()),
    ]);
    let before = watch.snapshot();
    let started = Instant::now();
    let poller = {
        let (tracker, http, base) = (tracker.clone(), http.clone(), base.clone());
        let deadline = started + Duration::from_secs_f64(load_secs + 60.0);
        tokio::spawn(async move {
            let (mut after, mut polls) = (last_id, 0usize);
            loop {
                let url = format!("{base}/events?after={after}&order=asc&limit={POLL_LIMIT}");
                let body = http.get(url).send().await?.bytes().await?;
                let at = Instant::now();
                polls += 1;
                let rows: Vec<Row> = serde_json::from_slice(&body)?;
                let full = rows.len() == POLL_LIMIT;
                let all_seen = {
                    let mut t = tracker.lock().expect("tracker");
                    for row in rows {
                        after = after.max(row.id);
                        if let Some(&i) = t.index_of.get(&row.event_id) {
                            if t.seen[i as usize].is_none() {
                                t.seen[i as usize] = Some(at);
                                t.seen_count += 1;
                            }
                        }
                    }
                    t.seen_count == t.seen.len()
                };
                if all_seen {
                    return Ok::<_, anyhow::Error>(polls);
                }
                if Instant::now() > deadline {
                    bail!("not every event became visible within 60 s after the load");
                }
                if !full {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        })
    };
    let publish = Arc::new(Mutex::new((Latencies::default(), 0usize)));
    let mut requests = Vec::with_capacity(bodies.len());
    for (i, (body, firsts)) in bodies.into_iter().enumerate() {
        tokio::time::sleep_until((started + period * i as u32).into()).await;
        let (http, url, tracker, publish) = (
            http.clone(),
            format!("{base}/publish"),
            tracker.clone(),
            publish.clone(),
        );
        requests.push(tokio::spawn(async move {
            let sent = Instant::now();
            let ok = post(&http, &url, body).await;
            let acked = Instant::now();
            let mut p = publish.lock().expect("publish");
            if ok {
                p.0 .0.push((acked - sent).as_micros() as u64);
                let mut t = tracker.lock().expect("tracker");
                for i in firsts {
                    t.acked[i as usize] = Some(acked);
                }
            } else {
                p.1 += 1;
            }
        }));
    }
    for request in requests {
        request.await?;
    }
    let elapsed = started.elapsed();
    let polls = poller.await??;
    let cpu = watch.between(&before, &watch.snapshot());
    let (publish, failed) = std::mem::take(&mut *publish.lock().expect("publish"));
    ensure!(
        failed == 0,
        "{failed} publishes failed during the freshness load (log: {})",
        api.log.display()
    );

    let (visible, early, per_second) = {
        let tracker = tracker.lock().expect("tracker");
        let (mut visible, mut early) = (Latencies::default(), 0);
        // Worst ack -> visible per second of the load: shows whether slow events cluster (a
        // stall: checkpoint, rebalance, CPU taken by others) or spread evenly.
        let mut per_second = vec![0u64; load_secs.ceil() as usize + 1];
        for (acked, seen) in tracker.acked.iter().zip(&tracker.seen) {
            if let (Some(acked), Some(seen)) = (acked, seen) {
                if seen < acked {
                    early += 1;
                }
                let micros = seen.saturating_duration_since(*acked).as_micros() as u64;
                visible.0.push(micros);
                let second = (*acked - started).as_secs() as usize;
                if let Some(worst) = per_second.get_mut(second) {
                    *worst = (*worst).max(micros);
                }
            }
        }
        (visible, early, per_second)
    };

    let expected = data.len() as i64 + 1;
    let deadline = Instant::now() + Duration::from_secs(60);
    let counters = loop {
        let c = scope.counts().await?;
        if c.received >= expected || Instant::now() > deadline {
            break c;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let rows = scope.rows().await?;
    // Golden counts: the load plus the warm-up event.
    let golden_errors = Expected::of_plan(&data.plan)
        .plus_distinct(1)
        .mismatches(&counters, rows);
    let (api_rss, consumer_rss) = (peak_rss(&api), peak_rss(&consumer));
    if let Some(status) = consumer.child.try_wait()? {
        bail!("the consumer exited during the freshness run ({status})");
    }
    // Drop the client first: an open connection that never sent a request (hyper's pool opens
    // spare ones) holds the API's graceful shutdown.
    drop(http);
    consumer.stop().await?;
    api.stop().await?;
    Ok(Freshness {
        rate,
        sent: data.len(),
        elapsed,
        visible,
        early,
        per_second,
        publish,
        polls,
        api_rss,
        consumer_rss,
        counters,
        golden_errors,
        cpu,
    })
}
