//! The load run: send a [`LoadPlan`] through Kafka or the HTTP API at a rate, with retries, a
//! progress bar and ack latencies; then optionally verify the golden calculation in `/stats`.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::stream::{FuturesOrdered, StreamExt};
use indicatif::{ProgressBar, ProgressStyle};
use logagg_core::contract::StatsResponse;
use logagg_core::Event;

use crate::generator::LoadPlan;
use crate::http::{backoff, ApiClient, HttpOutcome};
use crate::kafka::EventProducer;
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
    pub progress: bool,
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
    pub fn print(&mut self) {
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        println!("sent        {}", self.sent);
        println!("distinct    {}", self.distinct);
        println!("duplicates  {}", self.duplicates);
        println!(
            "retried     {} (re-sent after an ambiguous failure)",
            self.retried
        );
        println!("elapsed     {:.2} s", secs);
        println!("throughput  {:.0} events/s", self.sent as f64 / secs);
        println!(
            "ack latency p50 {:.1} ms, p99 {:.1} ms ({} samples)",
            self.latencies.quantile(0.5).as_secs_f64() * 1000.0,
            self.latencies.quantile(0.99).as_secs_f64() * 1000.0,
            self.latencies.len()
        );
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
pub async fn run(plan: &LoadPlan, via: &Via, options: &RunOptions) -> anyhow::Result<RunReport> {
    let bar = progress_bar(plan.sends.len(), options.progress);
    let started = Instant::now();
    let (retried, latencies) = match via {
        Via::Kafka(producer) => run_kafka(plan, producer, options, &bar).await?,
        Via::Http(client) => run_http(plan, client, options, &bar).await?,
    };
    bar.finish_and_clear();
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
    bar: &ProgressBar,
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
            bar.inc(1);
        }
    }
    while let Some(done) = in_flight.next().await {
        retried += settle_kafka(plan, producer, done, &mut latencies).await?;
        bar.inc(1);
    }
    Ok((retried, latencies))
}

/// Records the ack, or re-sends (with backoff) until acked; returns how many re-sends it took.
async fn settle_kafka(
    plan: &LoadPlan,
    producer: &EventProducer,
    (k, enqueued, result): (usize, Instant, Result<crate::Ack, crate::PublishError>),
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
    bar: &ProgressBar,
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
        let (client, bar) = (client.clone(), bar.clone());
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
                        HttpOutcome::Accepted(_) => {
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
                bar.inc(events.len() as u64);
            }
        }));
    }
    for worker in workers {
        worker.await??;
    }
    let latencies = std::mem::take(&mut *latencies.lock().expect("latencies"));
    Ok((retried.load(Ordering::Relaxed), latencies))
}

/// Counters read from `/stats`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counters {
    pub received: i64,
    pub unique_processed: i64,
    pub duplicate_dropped: i64,
    pub invalid: i64,
    pub stored_events: i64,
}

impl Counters {
    pub fn from_stats(stats: &StatsResponse) -> Self {
        Self {
            received: stats.received,
            unique_processed: stats.unique_processed,
            duplicate_dropped: stats.duplicate_dropped,
            invalid: stats.invalid,
            stored_events: stats.stored_events,
        }
    }
}

/// Compares the counters' growth with the ground truth; returns every figure that is off.
pub fn golden_check(before: &Counters, after: &Counters, report: &RunReport) -> Vec<String> {
    let received = after.received - before.received;
    let unique = after.unique_processed - before.unique_processed;
    let duplicates = after.duplicate_dropped - before.duplicate_dropped;
    let invalid = after.invalid - before.invalid;
    let rows = after.stored_events - before.stored_events;
    let sent = report.sent as i64;
    let extra = report.retried as i64;
    let mut off = Vec::new();
    if unique != report.distinct as i64 {
        off.push(format!(
            "unique_processed grew by {unique}, expected {} (distinct events sent)",
            report.distinct
        ));
    }
    if rows != report.distinct as i64 {
        off.push(format!(
            "stored events grew by {rows}, expected {}",
            report.distinct
        ));
    }
    if received < sent || received > sent + extra {
        off.push(format!(
            "received grew by {received}, expected {sent} (+ at most {extra} re-sent)"
        ));
    }
    let wire_extra = received - sent;
    if duplicates != report.duplicates as i64 + wire_extra {
        off.push(format!(
            "duplicate_dropped grew by {duplicates}, expected {} (+ {wire_extra} duplicated on the wire by retries)",
            report.duplicates
        ));
    }
    if invalid != 0 {
        off.push(format!("invalid grew by {invalid}, expected 0"));
    }
    off
}

/// Waits until `/stats` shows the consumer caught up (lag 0) with at least `sent` more
/// records received than `before`.
pub async fn wait_caught_up(
    client: &ApiClient,
    before: &Counters,
    sent: usize,
    timeout: Duration,
) -> anyhow::Result<Counters> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(stats) = client.stats().await {
            let now = Counters::from_stats(&stats);
            let lag = stats.consumer_lag;
            if lag == Some(0) && now.received - before.received >= sent as i64 {
                return Ok(now);
            }
        }
        if Instant::now() >= deadline {
            anyhow::bail!(
                "the consumer did not catch up within {timeout:?} (is logagg-consumer running?)"
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(sent: usize, distinct: usize, retried: u64) -> RunReport {
        RunReport {
            sent,
            distinct,
            duplicates: sent - distinct,
            retried,
            elapsed: Duration::from_secs(1),
            latencies: Latencies::default(),
        }
    }

    fn counters(received: i64, unique: i64, dup: i64, rows: i64) -> Counters {
        Counters {
            received,
            unique_processed: unique,
            duplicate_dropped: dup,
            invalid: 0,
            stored_events: rows,
        }
    }

    #[test]
    fn exact_run_passes() {
        let before = counters(10, 5, 5, 5);
        let after = counters(110, 75, 35, 75);
        assert!(golden_check(&before, &after, &report(100, 70, 0)).is_empty());
    }

    #[test]
    fn wire_duplicates_from_retries_are_accounted_for() {
        let after = counters(102, 70, 32, 70);
        assert!(golden_check(&Counters::default(), &after, &report(100, 70, 5)).is_empty());
        // ...but not more than were re-sent.
        let after = counters(106, 70, 36, 70);
        assert_eq!(
            golden_check(&Counters::default(), &after, &report(100, 70, 5)).len(),
            1
        );
    }

    #[test]
    fn names_the_figure_that_is_off() {
        let after = counters(100, 69, 31, 69);
        let off = golden_check(&Counters::default(), &after, &report(100, 70, 0));
        assert!(
            off.iter().any(|m| m.starts_with("unique_processed")),
            "{off:?}"
        );
        assert!(
            off.iter().any(|m| m.starts_with("stored events")),
            "{off:?}"
        );
    }
}
