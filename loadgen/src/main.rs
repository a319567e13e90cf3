//! `logagg-producer`: publish NDJSON events, or generate a load with known ground truth and
//! verify the aggregator's counters against it. Ctrl-C or SIGTERM stops either at once, saying
//! how far it got.

mod http;
mod load;
mod stats;
mod verify;

use std::io::BufRead;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand, ValueEnum};
use logagg_core::config::{KafkaConfig, ProducerConfig};
use logagg_core::{shutdown, telemetry, Event};
use logagg_producer::generator::{LoadPlan, LoadSpec};
use logagg_producer::EventProducer;

use crate::http::{ApiClient, HttpOutcome};
use crate::load::{Progress, RunOptions, Via};

/// The exit status of a command stopped by Ctrl-C or SIGTERM (128 + SIGINT, as shells report).
const INTERRUPTED: i32 = 130;
/// How long a record (or an HTTP request) may wait for its ack when LOGAGG_PUBLISH_TIMEOUT_MS is
/// not set: a CLI waits for the broker longer than an HTTP request would.
const CLI_PUBLISH_TIMEOUT: Duration = Duration::from_secs(30);

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
        /// Prefix of generated topic names (`<prefix>.<n>`); default `load-<run id>`, new for
        /// every run, so --verify counts only this run's records.
        #[arg(long)]
        topic_prefix: Option<String>,
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

/// The producer, once the broker answered for the topic: an unreachable broker is one clear
/// error naming it, not a stream of retries.
async fn kafka_producer(target: &Target) -> anyhow::Result<EventProducer> {
    let mut kafka = KafkaConfig::from_env()?;
    if let Some(brokers) = &target.brokers {
        kafka.brokers = brokers.clone();
    }
    if let Some(topic) = &target.topic {
        kafka.topic = topic.clone();
    }
    let mut tuning = ProducerConfig::from_env()?;
    tuning.delivery_timeout = publish_timeout(&tuning);
    let producer = EventProducer::new(&kafka, &tuning)?;
    let (probe, timeout) = (producer.clone(), tuning.delivery_timeout);
    tokio::task::spawn_blocking(move || probe.broker_reachable(timeout))
        .await?
        .with_context(|| {
            format!(
                "cannot reach Kafka at {} for topic {}",
                kafka.brokers, kafka.topic
            )
        })?;
    Ok(producer)
}

/// LOGAGG_PUBLISH_TIMEOUT_MS when set, else [`CLI_PUBLISH_TIMEOUT`].
fn publish_timeout(tuning: &ProducerConfig) -> Duration {
    let set = std::env::var("LOGAGG_PUBLISH_TIMEOUT_MS").is_ok_and(|v| !v.trim().is_empty());
    if set {
        tuning.delivery_timeout
    } else {
        CLI_PUBLISH_TIMEOUT
    }
}

fn api_client(target: &Target) -> anyhow::Result<ApiClient> {
    let timeout = publish_timeout(&ProducerConfig::from_env()?);
    Ok(ApiClient::new(
        &target.api_url,
        target.token.clone(),
        timeout,
    ))
}

async fn via(target: &Target) -> anyhow::Result<Via> {
    Ok(match target.via {
        Route::Kafka => Via::Kafka(kafka_producer(target).await?),
        Route::Http => Via::Http(api_client(target)?),
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init();
    let command = Cli::parse().command;
    let (what, progress) = match &command {
        Command::Publish { .. } => ("publish", None),
        Command::Load { events, quiet, .. } => ("load", Some(Progress::new(*events, !quiet))),
    };
    let work = async {
        match command {
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
                quiet: _,
                target,
            } => {
                let spec = LoadSpec {
                    events,
                    duplicate_ratio,
                    topics,
                    payload_bytes,
                    seed: seed.unwrap_or_else(rand::random),
                    topic_prefix: topic_prefix
                        .unwrap_or_else(|| format!("load-{:08x}", rand::random::<u32>())),
                };
                let options = RunOptions {
                    rate,
                    concurrency,
                    batch_size,
                };
                let verify_timeout = verify.then(|| Duration::from_secs(verify_timeout_secs));
                let progress = progress.clone().expect("load has a progress");
                load(spec, &target, &options, verify_timeout, &progress).await
            }
        }
    };
    tokio::select! {
        result = work => result,
        _ = shutdown::on_signal() => {
            if let Some(progress) = &progress {
                progress.clear();
                println!("interrupted: {} send(s) acked before the stop; not verified", progress.acked());
            } else {
                println!("interrupted: {what} stopped before it finished");
            }
            std::process::exit(INTERRUPTED);
        }
    }
}

/// `load`: sends the plan, then (with a verify timeout) checks the ground truth.
async fn load(
    spec: LoadSpec,
    target: &Target,
    options: &RunOptions,
    verify_timeout: Option<Duration>,
    progress: &Progress,
) -> anyhow::Result<()> {
    if !(0.0..1.0).contains(&spec.duplicate_ratio) {
        bail!("--duplicate-ratio must be in [0, 1)");
    }
    println!("seed        {}", spec.seed);
    println!(
        "topics      {}.0 .. {}.{}",
        spec.topic_prefix,
        spec.topic_prefix,
        spec.topics.max(1) - 1
    );
    let plan = LoadPlan::new(spec);
    let expected = plan.expected();
    let api = api_client(target)?;
    let before = match verify_timeout {
        Some(_) => verify::per_topic(
            &api.stats()
                .await
                .map_err(anyhow::Error::msg)
                .context("reading /stats before the run")?,
        ),
        None => Default::default(),
    };
    let report = load::run(&plan, &via(target).await?, options, progress).await?;
    println!("{}", report.summary());
    let Some(timeout) = verify_timeout else {
        return Ok(());
    };
    let grown = verify::wait_received(&api, &expected, &before, report.retried, timeout).await?;
    let off = expected.mismatches(&grown, report.retried);
    if !off.is_empty() {
        for line in &off {
            eprintln!("VERIFY FAILED: {line}");
        }
        bail!(
            "golden calculation does not hold ({} figure(s) off)",
            off.len()
        );
    }
    println!("{}", verify::ok_line(&grown, report.retried));
    Ok(())
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
    match via(target).await? {
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
