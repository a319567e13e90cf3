//! The load run: send a [`LoadPlan`] through Kafka or the HTTP API at a rate, with retries, a
//! progress bar and ack latencies (`verify` then checks the outcome).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::stream::{FuturesOrdered, StreamExt};
use indicatif::{ProgressBar, ProgressStyle};
use logagg_core::Event;
use logagg_producer::generator::LoadPlan;
use logagg_producer::{Ack, EventProducer, PublishError};

use crate::http::{backoff, ApiClient, HttpOutcome};
use crate::stats::Latencies;

const RETRY_BASE: Duration = Duration::from_millis(100);
const RETRY_CAP: Duration = Duration::from_secs(5);
/// Attempts per record or request before the run gives up.
const MAX_ATTEMPTS: u32 = 30;

/// How to send.
pub enum Via {
    Kafka(EventProducer),
    Http(ApiClient),
}

/// Knobs of a run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Events per second, or unlimited.
    pub rate: Option<f64>,
    pub concurrency: usize,
    pub batch_size: usize,
}

/// How far a run got: a progress bar (possibly hidden) and the count of acked sends, readable
/// while the run goes on (an interrupted run reports it).
#[derive(Clone)]
pub struct Progress {
    bar: ProgressBar,
    acked: Arc<AtomicUsize>,
}

impl Progress {
    pub fn new(total: usize, visible: bool) -> Self {
        Self {
            bar: progress_bar(total, visible),
            acked: Arc::default(),
        }
    }

    fn inc(&self, sends: usize) {
        self.acked.fetch_add(sends, Ordering::Relaxed);
        self.bar.inc(sends as u64);
    }

    /// Sends acked so far.
    pub fn acked(&self) -> usize {
        self.acked.load(Ordering::Relaxed)
    }

    /// Removes the bar from the terminal.
    pub fn clear(&self) {
        self.bar.finish_and_clear();
    }
}

/// What a run did.
#[derive(Debug)]
pub struct RunReport {
    pub sent: usize,
    pub distinct: usize,
    pub duplicates: usize,
    /// Records re-sent after an ambiguous failure: each may or may not be in the log twice.
    pub retried: u64,
    pub elapsed: Duration,
    pub latencies: Latencies,
}

impl RunReport {
    /// The lines printed after a run.
    pub fn summary(&self) -> String {
        use std::fmt::Write;
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        let mut latencies = self.latencies.clone();
        let mut out = String::new();
        let _ = writeln!(out, "sent        {}", self.sent);
        let _ = writeln!(out, "distinct    {}", self.distinct);
        let _ = writeln!(out, "duplicates  {}", self.duplicates);
        // Only retries that happened are worth a line (each may have landed twice).
        if self.retried > 0 {
            let _ = writeln!(
                out,
                "retried     {} (re-sent after an ambiguous failure)",
                self.retried
            );
        }
        let _ = writeln!(out, "elapsed     {secs:.2} s");
        let _ = writeln!(out, "throughput  {:.0} events/s", self.sent as f64 / secs);
        let _ = write!(
            out,
            "ack latency p50 {:.1} ms, p99 {:.1} ms ({} samples)",
            latencies.quantile(0.5).as_secs_f64() * 1000.0,
            latencies.quantile(0.99).as_secs_f64() * 1000.0,
            latencies.len()
        );
        out
    }
}

/// Paces sends to `rate` events per second (no-op without a rate).
struct Pacer {
    rate: Option<f64>,
    started: Instant,
}

impl Pacer {
    async fn wait_for(&self, sent_before: usize) {
        if let Some(rate) = self.rate.filter(|r| *r > 0.0) {
            let due = self.started + Duration::from_secs_f64(sent_before as f64 / rate);
            tokio::time::sleep_until(due.into()).await;
        }
    }
}

fn progress_bar(total: usize, visible: bool) -> ProgressBar {
    if !visible {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} sent, {per_sec}, eta {eta}")
            .expect("static template"),
    );
    bar
}

/// Sends every event of `plan` and waits for every ack.
pub async fn run(
    plan: &LoadPlan,
    via: &Via,
    options: &RunOptions,
    progress: &Progress,
) -> anyhow::Result<RunReport> {
    let started = Instant::now();
    let (retried, latencies) = match via {
        Via::Kafka(producer) => run_kafka(plan, producer, options, progress).await?,
        Via::Http(client) => run_http(plan, client, options, progress).await?,
    };
    progress.clear();
    Ok(RunReport {
        sent: plan.sends.len(),
        distinct: plan.distinct,
        duplicates: plan.duplicates,
        retried,
        elapsed: started.elapsed(),
        latencies,
    })
}

async fn run_kafka(
    plan: &LoadPlan,
    producer: &EventProducer,
    options: &RunOptions,
    progress: &Progress,
) -> anyhow::Result<(u64, Latencies)> {
    let pacer = Pacer {
        rate: options.rate,
        started: Instant::now(),
    };
    let window = (options.concurrency.max(1) * options.batch_size.max(1)).max(1);
    let mut latencies = Latencies::default();
    let mut retried = 0u64;
    let mut in_flight = FuturesOrdered::new();
    for k in 0..plan.sends.len() {
        pacer.wait_for(k).await;
        let event = plan.send(k);
        let enqueued = Instant::now();
        let delivery = producer
            .enqueue(&event.topic, &event.to_json_bytes())
            .await?;
        in_flight.push_back(async move { (k, enqueued, EventProducer::await_ack(delivery).await) });
        while in_flight.len() >= window {
            let done = in_flight.next().await.expect("non-empty");
            retried += settle_kafka(plan, producer, done, &mut latencies).await?;
            progress.inc(1);
        }
    }
    while let Some(done) = in_flight.next().await {
        retried += settle_kafka(plan, producer, done, &mut latencies).await?;
        progress.inc(1);
    }
    Ok((retried, latencies))
}

/// Records the ack, or re-sends (with backoff) until acked; returns how many re-sends it took.
async fn settle_kafka(
    plan: &LoadPlan,
    producer: &EventProducer,
    (k, enqueued, result): (usize, Instant, Result<Ack, PublishError>),
    latencies: &mut Latencies,
) -> anyhow::Result<u64> {
    let mut result = result;
    let mut attempt = 0;
    loop {
        match result {
            Ok(_) => {
                latencies.record(enqueued.elapsed());
                return Ok(u64::from(attempt));
            }
            Err(error) if error.is_retryable() && attempt < MAX_ATTEMPTS => {
                tracing::warn!(%error, attempt, "record not acked; re-sending");
                tokio::time::sleep(backoff(attempt, RETRY_BASE, RETRY_CAP)).await;
                attempt += 1;
                let event = plan.send(k);
                result = match producer.enqueue(&event.topic, &event.to_json_bytes()).await {
                    Ok(delivery) => EventProducer::await_ack(delivery).await,
                    Err(e) => Err(e),
                };
            }
            Err(error) => anyhow::bail!("record {k} failed: {error}"),
        }
    }
}

async fn run_http(
    plan: &LoadPlan,
    client: &ApiClient,
    options: &RunOptions,
    progress: &Progress,
) -> anyhow::Result<(u64, Latencies)> {
    let batch = options.batch_size.max(1);
    let chunks = plan.sends.len().div_ceil(batch);
    let next_chunk = Arc::new(AtomicUsize::new(0));
    let retried = Arc::new(AtomicU64::new(0));
    let latencies = Arc::new(Mutex::new(Latencies::default()));
    let pacer = Arc::new(Pacer {
        rate: options.rate,
        started: Instant::now(),
    });
    let mut workers = Vec::new();
    for _ in 0..options.concurrency.max(1) {
        let (next_chunk, retried, latencies, pacer) = (
            next_chunk.clone(),
            retried.clone(),
            latencies.clone(),
            pacer.clone(),
        );
        let (client, progress) = (client.clone(), progress.clone());
        let plan = plan.clone();
        workers.push(tokio::spawn(async move {
            loop {
                let c = next_chunk.fetch_add(1, Ordering::Relaxed);
                if c >= chunks {
                    return Ok::<_, anyhow::Error>(());
                }
                let range = c * batch..((c + 1) * batch).min(plan.sends.len());
                pacer.wait_for(range.start).await;
                let events: Vec<Event> = range.clone().map(|k| plan.send(k)).collect();
                let mut attempt = 0;
                loop {
                    let started = Instant::now();
                    match client.publish(&events).await {
                        HttpOutcome::Accepted(answer) => {
                            // A short count would be an API bug that --verify must not hide.
                            anyhow::ensure!(
                                answer.accepted == events.len(),
                                "API accepted {} of {} events",
                                answer.accepted,
                                events.len()
                            );
                            latencies
                                .lock()
                                .expect("latencies")
                                .record(started.elapsed());
                            break;
                        }
                        HttpOutcome::Retry(reason) if attempt < MAX_ATTEMPTS => {
                            // Ambiguous: some of the batch may be in the log already.
                            retried.fetch_add(events.len() as u64, Ordering::Relaxed);
                            tracing::warn!(%reason, attempt, "publish failed; retrying");
                            tokio::time::sleep(backoff(attempt, RETRY_BASE, RETRY_CAP)).await;
                            attempt += 1;
                        }
                        HttpOutcome::Retry(reason) => {
                            anyhow::bail!("giving up after {attempt} attempts: {reason}")
                        }
                        HttpOutcome::Rejected(status, body) => {
                            anyhow::bail!("API refused a batch ({status}): {body}")
                        }
                    }
                }
                progress.inc(events.len());
            }
        }));
    }
    for worker in workers {
        worker.await??;
    }
    let latencies = std::mem::take(&mut *latencies.lock().expect("latencies"));
    Ok((retried.load(Ordering::Relaxed), latencies))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(retried: u64) -> RunReport {
        RunReport {
            sent: 10,
            distinct: 8,
            duplicates: 2,
            retried,
            elapsed: Duration::from_secs(1),
            latencies: Latencies::default(),
        }
    }

    #[test]
    fn progress_counts_acked_sends_with_a_hidden_bar() {
        let progress = Progress::new(10, false);
        progress.inc(3);
        progress.clone().inc(4);
        assert_eq!(progress.acked(), 7);
    }

    #[test]
    fn summary_mentions_retries_only_when_some_happened() {
        assert!(!report(0).summary().contains("retried"));
        assert!(report(3).summary().contains("retried     3"));
    }
}
