//! (4) HTTP publish through the release `logagg-api`: events/s in batches of 500, then
//! single-event requests/s at 64 concurrent connections with ack latency percentiles. Bodies
//! are serialized before the clock starts, so the client spends as little of the two cores as
//! it can (it still shares them with the API and the broker).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::ensure;
use bytes::Bytes;

use crate::dataset::Dataset;
use crate::wire_client::WireClient;

/// Latency samples in microseconds.
#[derive(Debug, Clone, Default)]
pub struct Latencies(pub Vec<u64>);

impl Latencies {
    pub fn quantile_ms(&self, q: f64) -> f64 {
        if self.0.is_empty() {
            return 0.0;
        }
        let mut sorted = self.0.clone();
        sorted.sort_unstable();
        let rank = ((q.clamp(0.0, 1.0) * sorted.len() as f64).ceil() as usize).max(1);
        sorted[rank - 1] as f64 / 1000.0
    }

    /// "p50 / p99 ms" with `decimals` decimals.
    pub fn p50_p99(&self, decimals: usize) -> String {
        let (p50, p99) = (self.quantile_ms(0.5), self.quantile_ms(0.99));
        format!("{p50:.decimals$} / {p99:.decimals$} ms")
    }
}

#[derive(Debug, Clone)]
pub struct Publish {
    /// Events acknowledged (200).
    pub events: usize,
    pub requests: usize,
    pub failed: usize,
    pub elapsed: Duration,
    pub latencies: Latencies,
}

impl Publish {
    pub fn events_per_sec(&self) -> f64 {
        self.events as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn requests_per_sec(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

pub fn client(connections: usize) -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("static client config")
}

/// POSTs a JSON body; Ok(true) on 200.
pub async fn post(client: &reqwest::Client, url: &str, body: Bytes) -> bool {
    match client
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
    {
        Ok(response) => {
            let ok = response.status().is_success();
            // Read the body so the connection goes back to the pool.
            let _ = response.bytes().await;
            ok
        }
        Err(_) => false,
    }
}

/// Every send of `data[..events]` in batches of `batch`, `concurrency` requests in flight.
pub async fn batches(
    url: &str,
    data: &Dataset,
    events: usize,
    batch: usize,
    concurrency: usize,
) -> anyhow::Result<Publish> {
    let events = events.min(data.len());
    let bodies: Arc<Vec<(Bytes, usize)>> = Arc::new(
        (0..events)
            .step_by(batch)
            .map(|start| {
                let end = (start + batch).min(events);
                (data.batch_body(start..end), end - start)
            })
            .collect(),
    );
    let client = client(concurrency);
    // Open the connections before the clock starts.
    warm_up(&client, url, concurrency).await;
    let next = Arc::new(AtomicUsize::new(0));
    let results = Arc::new(Mutex::new((0usize, 0usize, 0usize, Latencies::default())));
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (bodies, next, results, client) = (
                bodies.clone(),
                next.clone(),
                results.clone(),
                client.clone(),
            );
            let url = format!("{url}/publish");
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((body, n)) = bodies.get(i).cloned() else {
                        return;
                    };
                    let sent = Instant::now();
                    let ok = post(&client, &url, body).await;
                    let latency = sent.elapsed().as_micros() as u64;
                    let mut r = results.lock().expect("results");
                    if ok {
                        r.0 += n;
                        r.1 += 1;
                        r.3 .0.push(latency);
                    } else {
                        r.2 += 1;
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await?;
    }
    let elapsed = started.elapsed();
    let (acked, requests, failed, latencies) =
        std::mem::take(&mut *results.lock().expect("results"));
    ensure!(
        failed == 0,
        "{failed} batch publishes failed (see the API log)"
    );
    Ok(Publish {
        events: acked,
        requests,
        failed,
        elapsed,
        latencies,
    })
}

/// Single-event requests for `duration` from `connections` concurrent clients, each a
/// [`WireClient`] (the lightest client, so the cores go to the API and the broker).
pub async fn singles(
    url: &str,
    data: &Dataset,
    duration: Duration,
    connections: usize,
) -> anyhow::Result<Publish> {
    let url = format!("{url}/publish");
    let mut clients = Vec::with_capacity(connections);
    for _ in 0..connections {
        let mut client = WireClient::new(&url)?;
        client.connect().await?;
        clients.push(client);
    }
    let next = Arc::new(AtomicUsize::new(0));
    // Zero-copy slices of the dataset's buffer, handed out round-robin.
    let values: Arc<Vec<Bytes>> = Arc::new((0..data.len()).map(|k| data.value(k)).collect());
    let started = Instant::now();
    let stop_at = started + duration;
    let workers: Vec<_> = clients
        .into_iter()
        .map(|mut client| {
            let (next, values) = (next.clone(), values.clone());
            tokio::spawn(async move {
                let (mut ok, mut failed, mut latencies) = (0usize, 0usize, Latencies::default());
                while Instant::now() < stop_at {
                    let k = next.fetch_add(1, Ordering::Relaxed) % values.len();
                    let sent = Instant::now();
                    if matches!(client.post(&values[k]).await, Ok(200)) {
                        ok += 1;
                        latencies.0.push(sent.elapsed().as_micros() as u64);
                    } else {
                        failed += 1;
                    }
                }
                (ok, failed, latencies)
            })
        })
        .collect();
    let (mut ok, mut failed, mut latencies) = (0, 0, Latencies::default());
    for worker in workers {
        let (o, f, l) = worker.await?;
        ok += o;
        failed += f;
        latencies.0.extend(l.0);
    }
    let elapsed = started.elapsed();
    Ok(Publish {
        events: ok,
        requests: ok,
        failed,
        elapsed,
        latencies,
    })
}

/// Opens `connections` connections with cheap GETs.
async fn warm_up(client: &reqwest::Client, url: &str, connections: usize) {
    let requests = (0..connections).map(|_| async {
        if let Ok(response) = client.get(format!("{url}/healthz")).send().await {
            let _ = response.bytes().await;
        }
    });
    futures::future::join_all(requests).await;
}
