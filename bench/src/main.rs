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
    };
    let bin_dir = match cli.bin_dir {
        Some(dir) => dir,
        None => env::default_bin_dir()?,
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

    say("(1) PostgreSQL ceiling");
    match pg_ceiling::run(&settings, &data, scale.consumer_batch, !cli.no_diagnostics).await {
        Ok(pg) => {
            say(format!("    {:.0} rows/s", pg.rate()));
            results.pg = Some(pg);
        }
        Err(e) => results.fail("(1) PostgreSQL ceiling", e),
    }

    for consumers in [1usize, 2] {
        let label = format!("ingest{consumers}");
        say(format!(
            "(2) Kafka ceiling: raw produce and consume, topic {label}"
        ));
        let scope = match Scope::new(&settings, &label).await {
            Ok(scope) => scope,
            Err(e) => {
                results.fail(&format!("({label}) setup"), e);
                continue;
            }
        };
        let kafka = scope.kafka();
        match kafka_round(&kafka, &data).await {
            Ok((produced, consumed)) => {
                say(format!(
                    "    produce {:.0} records/s, consume {:.0} records/s",
                    produced.rate(),
                    consumed.rate()
                ));
                results.produce.push(produced);
                results.consume.push(consumed);
            }
            Err(e) => {
                results.fail("(2) Kafka ceiling", e);
                let _ = scope.cleanup().await;
                continue;
            }
        }
        say(format!(
            "({}) ingest with {consumers} consumer process(es)",
            if consumers == 1 { 3 } else { 7 }
        ));
        let timeout = Duration::from_secs((scale.events as u64 / 500).max(120));
        match ingest::run(&scope, &data, consumers, timeout).await {
            Ok(run) => {
                say(format!(
                    "    {:.0} events/s (golden counts {})",
                    run.rate(),
                    if run.golden_errors.is_empty() {
                        "exact".to_owned()
                    } else {
                        run.golden_errors.join("; ")
                    }
                ));
                results.ingest.push(run);
            }
            Err(e) => results.fail(&format!("ingest with {consumers} consumer(s)"), e),
        }
        if let Err(e) = scope.cleanup().await {
            results.fail("cleanup", e);
        }
    }

    say("(4) HTTP publish through logagg-api");
    if let Err(e) = http_round(&settings, &data, &scale, &mut results).await {
        results.fail("(4) HTTP publish", e);
    }

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
    match Scope::new(&settings, "fresh").await {
        Ok(scope) => {
            match freshness::run(&scope, &fresh_data, scale.fresh_rate).await {
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
            if let Err(e) = scope.cleanup().await {
                results.fail("cleanup", e);
            }
        }
        Err(e) => results.fail("(5) setup", e),
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

/// Raw produce into the scope's topic, then raw consume of it.
async fn kafka_round(
    kafka: &logagg_core::config::KafkaConfig,
    data: &Dataset,
) -> anyhow::Result<(kafka_ceiling::Throughput, kafka_ceiling::Throughput)> {
    // The dataset is borrowed by a blocking thread: scoped, so no copy of 150 MB is needed.
    let produced = tokio::task::block_in_place(|| kafka_ceiling::produce(kafka, data))?;
    let consumed = tokio::task::block_in_place(|| kafka_ceiling::consume(kafka, data.len()))?;
    Ok((produced, consumed))
}

/// (4): batches of 500, then single events at 64 connections, on one API process; its peak RSS.
async fn http_round(
    settings: &Settings,
    data: &Dataset,
    scale: &Scale,
    results: &mut Results,
) -> anyhow::Result<()> {
    let scope = Scope::new(settings, "http").await?;
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
        results.cpu_batch = Some(watch.between(&before, &middle));
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
        results.cpu_single = Some(watch.between(&middle, &watch.snapshot()));
        say(format!(
            "    single events: {:.0} requests/s, ack p50 {:.1} ms, p99 {:.1} ms",
            single.requests_per_sec(),
            single.latencies.quantile_ms(0.5),
            single.latencies.quantile_ms(0.99)
        ));
        results.api_rss = Some(api.peak_rss());
        // No loss: the topic holds exactly what was acknowledged (no retries were made).
        let kafka = scope.kafka();
        let in_topic: i64 =
            tokio::task::block_in_place(|| kafka_ceiling::partition_counts(&kafka))?
                .iter()
                .sum();
        results.http_in_topic = Some((in_topic, (batch.events + single.events) as i64));
        results.batch = Some(batch);
        results.single = Some(single);
        api.stop().await
    }
    .await;
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
