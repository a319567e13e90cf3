//! `logagg-bench`: measures, in one run and each against a fresh database and topic, logagg's
//! throughput, freshness and memory beside the physical limits of the same machine (PostgreSQL
//! bulk insert, raw Kafka produce and consume), prints one table and, with `--write`, records it
//! in docs/PERFORMANCE.md. Nothing is asserted about timings: a run fails only when a
//! measurement produced no number or the ingest golden counts are not exact.

mod dataset;
mod env;
mod freshness;
mod http;
mod ingest;
mod kafka_ceiling;
mod pg_ceiling;
mod procfs;
mod report;
mod stages;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::dataset::Dataset;
use crate::env::{Scope, Settings};
use crate::report::{Results, Scale};

#[derive(Parser, Debug)]
#[command(
    name = "logagg-bench",
    version,
    about = "logagg benchmarks against the PostgreSQL and Kafka ceilings of this machine, in one run"
)]
struct Cli {
    /// Small sizes and a few seconds per measurement (for `make test`); never writes the doc.
    #[arg(long)]
    smoke: bool,
    /// Events of the ingest dataset (30% duplicates, 16 topics, ~200-byte payloads) [500000; smoke 4000].
    #[arg(long)]
    events: Option<usize>,
    /// Events sent through POST /publish in batches of 500 [500000; smoke 4000].
    #[arg(long)]
    http_events: Option<usize>,
    /// Seconds of single-event publishing at 64 connections [20; smoke 2].
    #[arg(long)]
    single_secs: Option<f64>,
    /// Seconds of the steady freshness load [30; smoke 2].
    #[arg(long)]
    fresh_secs: Option<f64>,
    /// Events per second of the freshness load [5000; smoke 2000].
    #[arg(long)]
    fresh_rate: Option<f64>,
    /// Batch publishes in flight at once.
    #[arg(long, default_value_t = 8)]
    batch_concurrency: usize,
    /// Partitions of every bench topic (the local `events` topic has 6).
    #[arg(long, default_value_t = 6)]
    partitions: i32,
    /// Seed of the dataset generator.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Skip the client-side insert diagnostics of (1).
    #[arg(long)]
    no_diagnostics: bool,
    /// Write the report into this Markdown file (between its logagg-bench markers).
    #[arg(long)]
    write: Option<PathBuf>,
    /// The command line recorded in the report.
    #[arg(long, default_value = "make bench")]
    command: String,
    /// Directory of logagg-api and logagg-consumer (default: this binary's own directory).
    #[arg(long)]
    bin_dir: Option<PathBuf>,
    /// Where the services' logs go (default: <bin dir>/../bench-logs).
    #[arg(long)]
    log_dir: Option<PathBuf>,
    /// Keep the bench databases and topics afterwards.
    #[arg(long)]
    keep: bool,
    /// Run only these measurements (comma-separated: pg, ingest, ingest1, ingest2, http, fresh).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
}

fn say(message: impl AsRef<str>) {
    eprintln!(
        "[{}] {}",
        chrono::Local::now().format("%H:%M:%S"),
        message.as_ref()
    );
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if cli.smoke && cli.write.is_some() {
        anyhow::bail!("--smoke never writes the report (it would replace a real run)");
    }
    let bin_dir = match cli.bin_dir {
        Some(dir) => dir,
        None => env::default_bin_dir()?,
    };
    let scale = Scale {
        smoke: cli.smoke,
        events: cli
            .events
            .unwrap_or(if cli.smoke { 4_000 } else { 500_000 }),
        http_events: cli
            .http_events
            .unwrap_or(if cli.smoke { 4_000 } else { 500_000 }),
        single_secs: cli
            .single_secs
            .unwrap_or(if cli.smoke { 2.0 } else { 20.0 }),
        fresh_secs: cli.fresh_secs.unwrap_or(if cli.smoke { 2.0 } else { 30.0 }),
        fresh_rate: cli
            .fresh_rate
            .unwrap_or(if cli.smoke { 2_000.0 } else { 5_000.0 }),
        batch: 500,
        batch_concurrency: cli.batch_concurrency,
        single_connections: 64,
        duplicate_ratio: 0.3,
        topics: 16,
        payload_bytes: 200,
        partitions: cli.partitions,
        consumer_batch: logagg_core::config::ConsumerConfig::from_env()?.batch_records,
        profile: bin_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };

    let run_id = format!(
        "{}{}",
        chrono::Utc::now().format("%m%d%H%M%S"),
        &uuid::Uuid::new_v4().simple().to_string()[..4]
    );
    let settings = Settings {
        brokers: std::env::var("LOGAGG_KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into()),
        admin_url: std::env::var("DATABASE_URL")
            .unwrap_or_else(|_| "postgres://logagg:logagg@127.0.0.1:5432/logagg".into()),
        log_dir: cli
            .log_dir
            .unwrap_or_else(|| bin_dir.join("..").join("bench-logs")),
        bin_dir,
        run_id,
        partitions: cli.partitions,
        keep: cli.keep,
    };
    let mut results = Results::new(scale.clone(), cli.command.clone(), &settings);
    results.only = cli.only.clone();
    results.postgres = postgres_settings(&settings.admin_url)
        .await
        .unwrap_or_default();
    let started = Instant::now();
    say(format!(
        "logagg-bench ({}): run {}, binaries from {}, logs in {}",
        if scale.smoke { "smoke" } else { "full" },
        settings.run_id,
        settings.bin_dir.display(),
        settings.log_dir.display()
    ));

    say(format!(
        "generating {} events ({:.0}% duplicates, {} topics, {}-byte payloads)",
        scale.events,
        scale.duplicate_ratio * 100.0,
        scale.topics,
        scale.payload_bytes
    ));
    let data = Dataset::generate(
        scale.events,
        scale.duplicate_ratio,
        scale.topics,
        scale.payload_bytes,
        cli.seed,
        "bench",
    );
    results.mean_event_bytes = data.mean_value_bytes();

    let only = |phase: &str| cli.only.is_empty() || cli.only.iter().any(|o| o == phase);

    if only("pg") {
        say("(1) PostgreSQL ceiling");
        let diagnostics = !cli.no_diagnostics;
        let rounds = if scale.smoke { 1 } else { 2 };
        let (outcome, disturbed) = measure("(1) PostgreSQL ceiling", |attempt| {
            pg_ceiling::run(
                &settings,
                &data,
                scale.consumer_batch,
                diagnostics,
                rounds,
                label("pg", attempt),
            )
        })
        .await;
        results.note_disturbed("(1)", disturbed);
        match outcome {
            Ok(pg) => {
                say(format!("    {:.0} rows/s", pg.rate()));
                results.pg = Some(pg);
            }
            Err(e) => results.fail("(1) PostgreSQL ceiling", e),
        }
    }

    for consumers in [1usize, 2] {
        let phase = format!("ingest{consumers}");
        if !only(&phase) && !only("ingest") {
            continue;
        }
        let id = if consumers == 1 { "(2)+(3)" } else { "(2)+(7)" };
        say(format!(
            "{id} raw produce and consume, then ingest with {consumers} consumer process(es)"
        ));
        let timeout = Duration::from_secs((scale.events as u64 / 500).max(120));
        let (outcome, disturbed) = measure(id, |attempt| {
            ingest_round(&settings, &data, consumers, label(&phase, attempt), timeout)
        })
        .await;
        results.note_disturbed(id, disturbed);
        match outcome {
            Ok((produced, consumed, run)) => {
                say(format!(
                    "    produce {:.0} records/s, consume {:.0} records/s; ingest {:.0} events/s (golden counts {})",
                    produced.rate(),
                    consumed.rate(),
                    run.rate(),
                    if run.golden_errors.is_empty() {
                        "exact".to_owned()
                    } else {
                        run.golden_errors.join("; ")
                    }
                ));
                results.produce.push(produced);
                results.consume.push(consumed);
                results.ingest.push(run);
            }
            Err(e) => results.fail(id, e),
        }
    }

    if only("http") {
        say("(4) HTTP publish through logagg-api");
        let (outcome, disturbed) = measure("(4) HTTP publish", |attempt| {
            http_round(&settings, &data, &scale, label("http", attempt))
        })
        .await;
        results.note_disturbed("(4)", disturbed);
        match outcome {
            Ok(round) => {
                results.batch = Some(round.batch);
                results.single = Some(round.single);
                results.api_rss = Some(round.api_rss);
                results.http_in_topic = Some(round.in_topic);
                results.cpu_batch = Some(round.cpu_batch);
                results.cpu_single = Some(round.cpu_single);
            }
            Err(e) => results.fail("(4) HTTP publish", e),
        }
    }

    if only("fresh") {
        say(format!(
            "(5) freshness at {:.0} events/s for {:.0} s",
            scale.fresh_rate, scale.fresh_secs
        ));
        let fresh_events = (scale.fresh_rate * scale.fresh_secs).round().max(1.0) as usize;
        let fresh_data = Dataset::generate(
            fresh_events,
            scale.duplicate_ratio,
            scale.topics,
            scale.payload_bytes,
            cli.seed + 1,
            "fresh",
        );
        let (outcome, disturbed) = measure("(5) freshness", |attempt| {
            fresh_round(
                &settings,
                &fresh_data,
                scale.fresh_rate,
                label("fresh", attempt),
            )
        })
        .await;
        results.note_disturbed("(5)", disturbed);
        match outcome {
            Ok(f) => {
                say(format!(
                    "    ack -> visible p50 {:.1} ms, p99 {:.1} ms",
                    f.visible.quantile_ms(0.5),
                    f.visible.quantile_ms(0.99)
                ));
                results.fresh = Some(f);
            }
            Err(e) => results.fail("(5) freshness", e),
        }
    }

    results.elapsed = started.elapsed();
    results.finish();
    println!("{}", results.render_text());
    if let Some(path) = &cli.write {
        results
            .write_markdown(path)
            .with_context(|| format!("writing {}", path.display()))?;
        say(format!("wrote {}", path.display()));
    }
    let problems = results.problems();
    if problems.is_empty() {
        say(format!(
            "done in {:.0} s: every measurement produced a number, golden counts exact",
            results.elapsed.as_secs_f64()
        ));
        Ok(())
    } else {
        for problem in &problems {
            eprintln!("BENCH FAILED: {problem}");
        }
        anyhow::bail!("{} problem(s); see above", problems.len())
    }
}

/// A scope label, suffixed on a repeated attempt (databases and topics must be new).
fn label(phase: &str, attempt: u32) -> String {
    if attempt == 0 {
        phase.to_owned()
    } else {
        format!("{phase}_r{attempt}")
    }
}

/// Runs a measurement; when Kafka or PostgreSQL restarted while it ran (other engineers' tests
/// stop and start the shared local services), waits for them and measures once more. Returns
/// the outcome and whether it was still disturbed.
async fn measure<T, F, Fut>(what: &str, mut run: F) -> (anyhow::Result<T>, bool)
where
    F: FnMut(u32) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let mut attempt = 0;
    loop {
        if let Err(e) = wait_services().await {
            return (Err(e), false);
        }
        let before = procfs::service_pids();
        let outcome = run(attempt).await;
        let disturbed = procfs::service_pids() != before;
        if !disturbed || attempt >= 1 {
            return (outcome, disturbed);
        }
        say(format!(
            "{what}: Kafka or PostgreSQL was restarted while it ran (someone else's test?); measuring again"
        ));
        attempt += 1;
    }
}

/// Waits (up to 3 minutes) until PostgreSQL and Kafka both answer.
async fn wait_services() -> anyhow::Result<()> {
    let brokers = std::env::var("LOGAGG_KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into());
    let url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://logagg:logagg@127.0.0.1:5432/logagg".into());
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let pg = AsyncPgConnection::establish(&url).await.is_ok();
        let kafka = tokio::task::block_in_place(|| {
            rdkafka::ClientConfig::new()
                .set("bootstrap.servers", &brokers)
                .create::<rdkafka::consumer::BaseConsumer>()
                .ok()
                .map(|c| {
                    rdkafka::consumer::Consumer::fetch_metadata(&c, None, Duration::from_secs(3))
                        .is_ok()
                })
                .unwrap_or(false)
        });
        if pg && kafka {
            return Ok(());
        }
        if Instant::now() > deadline {
            anyhow::bail!("PostgreSQL ({pg}) or Kafka ({kafka}) not answering for 3 minutes");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// (2) and (3)/(7) on one fresh topic and database.
///
/// One consumer (3): raw produce pre-fills the topic, raw consume reads it, then the consumer
/// process starts and ingests it. Two consumers (7): the processes start first and the bench
/// waits until the group has given each of them partitions, then raw produce fills the topic
/// (about 7× faster than it is ingested) and raw consume reads it after the ingest; so (7)
/// measures two consumers working, not the ~4 s cooperative rebalance that hands partitions
/// to a consumer joining a busy one.
async fn ingest_round(
    settings: &Settings,
    data: &Dataset,
    consumers: usize,
    label: String,
    timeout: Duration,
) -> anyhow::Result<(
    kafka_ceiling::Throughput,
    kafka_ceiling::Throughput,
    ingest::Ingest,
)> {
    let scope = Scope::new(settings, &label).await?;
    let outcome = async {
        let kafka = scope.kafka();
        let mut early = None;
        if consumers > 1 {
            let mut running = ingest::spawn(&scope, consumers)?;
            ingest::wait_group_ready(&scope, &mut running, Duration::from_secs(60)).await?;
            early = Some(running);
        }
        let warmup = format!("{}.warmup", scope.topic);
        env::create_topic(&settings.brokers, &warmup, 1).await?;
        if let Some(running) = &mut early {
            running.data_from = Some(Instant::now());
        }
        // Blocking rdkafka loops, borrowing the dataset in place (no copy of ~185 MB).
        let produced =
            tokio::task::block_in_place(|| kafka_ceiling::produce(&kafka, data, &warmup));
        env::delete_topic(&settings.brokers, &warmup).await?;
        let mut produced = produced?;
        if early.is_some() {
            produced.note = format!("while the {consumers} consumers were already ingesting it");
        }
        let raw_consume =
            || tokio::task::block_in_place(|| kafka_ceiling::consume(&kafka, data.len()));
        let (consumed, run) = match early {
            Some(running) => {
                let run = ingest::measure(&scope, data, running, timeout).await?;
                (raw_consume()?, run)
            }
            None => {
                let consumed = raw_consume()?;
                let running = ingest::spawn(&scope, consumers)?;
                (
                    consumed,
                    ingest::measure(&scope, data, running, timeout).await?,
                )
            }
        };
        Ok((produced, consumed, run))
    }
    .await;
    scope.cleanup().await?;
    outcome
}

/// What (4) measured on one API process.
struct HttpRound {
    batch: http::Publish,
    single: http::Publish,
    api_rss: u64,
    in_topic: (i64, i64),
    cpu_batch: procfs::CpuUse,
    cpu_single: procfs::CpuUse,
}

/// (4): batches of 500, then single events at 64 connections, on one API process; its peak RSS.
async fn http_round(
    settings: &Settings,
    data: &Dataset,
    scale: &Scale,
    label: String,
) -> anyhow::Result<HttpRound> {
    let scope = Scope::new(settings, &label).await?;
    let outcome = async {
        let api = scope.spawn_api().await?;
        let watch = procfs::CpuWatch::new(vec![(api.pid(), "api".into())]);
        let before = watch.snapshot();
        let batch = http::batches(
            &api.url(""),
            data,
            scale.http_events,
            scale.batch,
            scale.batch_concurrency,
        )
        .await?;
        let middle = watch.snapshot();
        say(format!(
            "    batches of {}: {:.0} events/s",
            scale.batch,
            batch.events_per_sec()
        ));
        let single = http::singles(
            &api.url(""),
            data,
            Duration::from_secs_f64(scale.single_secs),
            scale.single_connections,
        )
        .await?;
        let end = watch.snapshot();
        say(format!(
            "    single events: {:.0} requests/s, ack p50 {:.1} ms, p99 {:.1} ms",
            single.requests_per_sec(),
            single.latencies.quantile_ms(0.5),
            single.latencies.quantile_ms(0.99)
        ));
        let api_rss = api.peak_rss();
        // No loss: the topic holds exactly what was acknowledged (no retries were made).
        let kafka = scope.kafka();
        let in_topic: i64 =
            tokio::task::block_in_place(|| kafka_ceiling::partition_counts(&kafka))?
                .iter()
                .sum();
        api.stop().await?;
        Ok(HttpRound {
            in_topic: (in_topic, (batch.events + single.events) as i64),
            batch,
            single,
            api_rss,
            cpu_batch: watch.between(&before, &middle),
            cpu_single: watch.between(&middle, &end),
        })
    }
    .await;
    scope.cleanup().await?;
    outcome
}

/// (5) in a fresh database and topic.
async fn fresh_round(
    settings: &Settings,
    data: &Dataset,
    rate: f64,
    label: String,
) -> anyhow::Result<freshness::Freshness> {
    let scope = Scope::new(settings, &label).await?;
    let outcome = freshness::run(&scope, data, rate).await;
    scope.cleanup().await?;
    outcome
}

/// A few PostgreSQL settings that bound (1) and (3), for the report.
async fn postgres_settings(url: &str) -> anyhow::Result<Vec<(String, String)>> {
    let mut conn = AsyncPgConnection::establish(url).await?;
    let mut out = Vec::new();
    #[derive(diesel::QueryableByName)]
    struct Setting {
        #[diesel(sql_type = diesel::sql_types::Text)]
        value: String,
    }
    for name in [
        "server_version",
        "shared_buffers",
        "synchronous_commit",
        "fsync",
        "wal_level",
        "max_wal_size",
    ] {
        let setting: Setting =
            diesel::sql_query(format!("SELECT current_setting('{name}') AS value"))
                .get_result(&mut conn)
                .await?;
        out.push((name.to_owned(), setting.value));
    }
    Ok(out)
}
