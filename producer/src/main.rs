//! `logagg-producer`: publish NDJSON events, or generate a load with known ground truth and
//! verify the aggregator's counters against it.

use std::io::BufRead;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand, ValueEnum};
use logagg_core::config::{KafkaConfig, ProducerConfig};
use logagg_core::{telemetry, Event};
use logagg_producer::generator::{LoadPlan, LoadSpec};
use logagg_producer::http::{ApiClient, HttpOutcome};
use logagg_producer::load::{self, Counters, RunOptions, Via};
use logagg_producer::EventProducer;

#[derive(Parser)]
#[command(
    name = "logagg-producer",
    version,
    about = "Publish events to logagg, or load-test it with a verifiable golden calculation"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum Route {
    /// Straight to the Kafka topic (key = topic), idempotent producer.
    Kafka,
    /// Through the HTTP API's POST /publish.
    Http,
}

#[derive(clap::Args)]
struct Target {
    /// Where to send.
    #[arg(long, value_enum, default_value = "kafka")]
    via: Route,
    /// Kafka bootstrap servers (default: LOGAGG_KAFKA_BROKERS).
    #[arg(long)]
    brokers: Option<String>,
    /// Kafka topic (default: LOGAGG_KAFKA_TOPIC).
    #[arg(long)]
    topic: Option<String>,
    /// Base URL of the HTTP API (for --via http and for --verify).
    #[arg(long, default_value = "http://127.0.0.1:8080", env = "LOGAGG_API_URL")]
    api_url: String,
    /// Bearer token for POST /publish.
    #[arg(long, env = "LOGAGG_API_TOKEN", hide_env_values = true)]
    token: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Publish NDJSON events (one event object per line) from a file or stdin.
    Publish {
        /// The file; `-` or nothing reads stdin.
        file: Option<PathBuf>,
        #[command(flatten)]
        target: Target,
        /// Events per HTTP request.
        #[arg(long, default_value_t = 500)]
        batch_size: usize,
    },
    /// Generate events with a known share of duplicates and send them.
    Load {
        #[arg(long, default_value_t = 20_000)]
        events: usize,
        /// Share of sends that re-send an earlier event (0.0..1.0).
        #[arg(long, default_value_t = 0.3)]
        duplicate_ratio: f64,
        /// Number of logical topics.
        #[arg(long, default_value_t = 8)]
        topics: usize,
        /// Prefix of generated topic names.
        #[arg(long, default_value = "load")]
        topic_prefix: String,
        /// Bytes of filler in each payload.
        #[arg(long, default_value_t = 200)]
        payload_bytes: usize,
        /// Events per second (unlimited when absent).
        #[arg(long)]
        rate: Option<f64>,
        /// Parallel HTTP requests (or ack windows for Kafka).
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        /// Events per HTTP request.
        #[arg(long, default_value_t = 500)]
        batch_size: usize,
        /// Seed of the generator (random when absent; printed).
        #[arg(long)]
        seed: Option<u64>,
        /// Wait for the consumer to catch up, then check the counters against the ground truth.
        #[arg(long)]
        verify: bool,
        /// How long --verify waits for the consumer.
        #[arg(long, default_value_t = 300)]
        verify_timeout_secs: u64,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
        #[command(flatten)]
        target: Target,
    },
}

fn kafka_producer(target: &Target) -> anyhow::Result<EventProducer> {
    let mut kafka = KafkaConfig::from_env()?;
    if let Some(brokers) = &target.brokers {
        kafka.brokers = brokers.clone();
    }
    if let Some(topic) = &target.topic {
        kafka.topic = topic.clone();
    }
    let mut tuning = ProducerConfig::from_env()?;
    // A CLI waits for the broker longer than an HTTP request would.
    tuning.delivery_timeout = tuning.delivery_timeout.max(Duration::from_secs(30));
    Ok(EventProducer::new(&kafka, &tuning)?)
}

fn via(target: &Target) -> anyhow::Result<Via> {
    Ok(match target.via {
        Route::Kafka => Via::Kafka(kafka_producer(target)?),
        Route::Http => Via::Http(ApiClient::new(&target.api_url, target.token.clone())),
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init();
    match Cli::parse().command {
        Command::Publish {
            file,
            target,
            batch_size,
        } => publish(file, &target, batch_size).await,
        Command::Load {
            events,
            duplicate_ratio,
            topics,
            topic_prefix,
            payload_bytes,
            rate,
            concurrency,
            batch_size,
            seed,
            verify,
            verify_timeout_secs,
            quiet,
            target,
        } => {
            if !(0.0..1.0).contains(&duplicate_ratio) {
                bail!("--duplicate-ratio must be in [0, 1)");
            }
            let seed = seed.unwrap_or_else(rand::random);
            println!("seed        {seed}");
            let plan = LoadPlan::new(LoadSpec {
                events,
                duplicate_ratio,
                topics,
                payload_bytes,
                seed,
                topic_prefix,
            });
            let api = ApiClient::new(&target.api_url, target.token.clone());
            let before = if verify {
                Some(Counters::from_stats(
                    &api.stats()
                        .await
                        .map_err(anyhow::Error::msg)
                        .context("reading /stats before the run")?,
                ))
            } else {
                None
            };
            let options = RunOptions {
                rate,
                concurrency,
                batch_size,
                progress: !quiet,
            };
            let mut report = load::run(&plan, &via(&target)?, &options).await?;
            report.print();
            if let Some(before) = before {
                let after = load::wait_caught_up(
                    &api,
                    &before,
                    report.sent,
                    Duration::from_secs(verify_timeout_secs),
                )
                .await?;
                let off = load::golden_check(&before, &after, &report);
                if !off.is_empty() {
                    for line in &off {
                        eprintln!("VERIFY FAILED: {line}");
                    }
                    bail!(
                        "golden calculation does not hold ({} figure(s) off)",
                        off.len()
                    );
                }
                println!(
                    "verify      OK: received +{}, unique_processed +{}, duplicate_dropped +{}, stored events +{}",
                    after.received - before.received,
                    after.unique_processed - before.unique_processed,
                    after.duplicate_dropped - before.duplicate_dropped,
                    after.stored_events - before.stored_events,
                );
            }
            Ok(())
        }
    }
}

/// Reads and validates every line first (nothing is sent if one is invalid), then sends.
async fn publish(file: Option<PathBuf>, target: &Target, batch_size: usize) -> anyhow::Result<()> {
    let reader: Box<dyn BufRead> = match file.as_deref() {
        None => Box::new(std::io::stdin().lock()),
        Some(p) if p.as_os_str() == "-" => Box::new(std::io::stdin().lock()),
        Some(p) => Box::new(std::io::BufReader::new(
            std::fs::File::open(p).with_context(|| format!("opening {}", p.display()))?,
        )),
    };
    let mut events = Vec::new();
    let mut errors = Vec::new();
    for (n, line) in reader.lines().enumerate() {
        let line = line.context("reading input")?;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str(&line)
            .map_err(|e| e.to_string())
            .and_then(|v| {
                Event::from_value(&v).map_err(|e| {
                    e.iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("; ")
                })
            }) {
            Ok(event) => events.push(event),
            Err(error) => errors.push(format!("line {}: {error}", n + 1)),
        }
    }
    if !errors.is_empty() {
        for e in &errors {
            eprintln!("{e}");
        }
        bail!("{} invalid line(s); nothing was published", errors.len());
    }
    match via(target)? {
        Via::Kafka(producer) => {
            let acks = producer.publish(&events).await?;
            println!(
                "published {} event(s) to Kafka topic {}",
                acks.len(),
                producer.topic()
            );
        }
        Via::Http(client) => {
            for chunk in events.chunks(batch_size.max(1)) {
                match client.publish(chunk).await {
                    HttpOutcome::Accepted(_) => {}
                    HttpOutcome::Retry(reason) => bail!("API unavailable: {reason}"),
                    HttpOutcome::Rejected(status, body) => bail!("API refused ({status}): {body}"),
                }
            }
            println!(
                "published {} event(s) through {}",
                events.len(),
                target.api_url
            );
        }
    }
    Ok(())
}
