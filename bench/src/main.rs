//! `logagg-bench`: measures, in one run and each against a fresh database and topic, logagg's
//! throughput, freshness and memory beside the physical limits of the same machine (PostgreSQL
//! bulk insert, raw Kafka produce and consume), prints one table and, with `--write`, records it
//! in docs/PERFORMANCE.md. Nothing is asserted about timings: a run fails only when a
//! measurement produced no number or the ingest golden counts are not exact.

mod cli;
mod copy_insert;
mod dataset;
mod freshness;
mod http;
mod ingest;
mod kafka_ceiling;
mod pg_ceiling;
mod procfs;
mod profile;
mod queries;
mod report;
mod retention;
mod rounds;
mod settings;
mod stages;
mod wire_client;

use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use logagg_testkit::Services;

use crate::cli::Cli;
use crate::dataset::Dataset;
use crate::report::Results;
use crate::rounds::{http_round, ingest_round, measure, postgres_settings};
use crate::settings::Settings;

pub fn say(message: impl AsRef<str>) {
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
    let bin_dir = match cli.bin_dir.clone() {
        Some(dir) => dir,
        None => settings::default_bin_dir()?,
    };
    let scale = cli.scale(&bin_dir)?;

    let run_id = format!(
        "{}{}",
        chrono::Utc::now().format("%m%d%H%M%S"),
        &uuid::Uuid::new_v4().simple().to_string()[..4]
    );
    let services = Services {
        log_dir: cli
            .log_dir
            .clone()
            .unwrap_or_else(|| bin_dir.join("..").join("bench-logs")),
        bin_dir,
        ..Services::from_env()
    };
    let profile_dir = cli.profile.then(|| services.log_dir.join("profiles"));
    let settings = Settings {
        services,
        run_id,
        partitions: cli.partitions,
        keep: cli.keep,
        profile_dir,
    };
    let mut results = Results::new(scale.clone(), cli.command.clone(), &settings);
    results.only = cli.only.clone();
    results.postgres = postgres_settings(&settings.services.admin_url)
        .await
        .unwrap_or_default();
    let started = Instant::now();
    say(format!(
        "logagg-bench ({}): run {}, binaries from {}, logs in {}",
        if scale.smoke { "smoke" } else { "full" },
        settings.run_id,
        settings.services.bin_dir.display(),
        settings.services.log_dir.display()
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
        let (outcome, disturbed) =
            measure("(1) PostgreSQL ceiling", &settings, "pg", async |scope| {
                pg_ceiling::run(scope, &data, scale.consumer_batch, diagnostics, rounds).await
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

    // (3b): one consumer writing one transaction at a time, the same-run baseline of the
    // parallel shares (3) writes by default.
    for (consumers, writers, phase, id) in [
        (1usize, None, "ingest1", "(2)+(3)"),
        (1, Some(1), "ingest1serial", "(2)+(3b)"),
        (2, None, "ingest2", "(2)+(7)"),
    ] {
        if !only(phase) && !only("ingest") {
            continue;
        }
        let how = writers.map_or(String::new(), |w| format!(", LOGAGG_CONSUMER_WRITERS={w}"));
        say(format!(
            "{id} raw produce and consume, then ingest with {consumers} consumer process(es){how}"
        ));
        let timeout = Duration::from_secs((scale.events as u64 / 500).max(120));
        let writing = rounds::Writing {
            consumers,
            writers,
            settings: &settings,
        };
        let (outcome, disturbed) = measure(id, &settings, phase, async |scope| {
            ingest_round(scope, &data, &writing, timeout).await
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
        let (outcome, disturbed) = measure("(4) HTTP publish", &settings, "http", async |scope| {
            http_round(scope, &data, &scale, &settings).await
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
                results.api_profiles = round.profiles;
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
        let (outcome, disturbed) = measure("(5) freshness", &settings, "fresh", async |scope| {
            freshness::run(scope, &fresh_data, scale.fresh_rate).await
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

    if only("queries") {
        say(format!(
            "(9) query forms on {} bulk-generated events",
            scale.query_rows
        ));
        let (outcome, disturbed) =
            measure("(9) query forms", &settings, "queries", async |scope| {
                queries::latencies(scope, scale.query_rows, scale.query_runs).await
            })
            .await;
        results.note_disturbed("(9)", disturbed);
        results.queries.rows = scale.query_rows;
        results.queries.runs = scale.query_runs;
        match outcome {
            Ok(forms) => results.queries.forms = forms,
            Err(e) => results.fail("(9) query forms", e),
        }
    }

    if only("retention") {
        let rows = (scale.query_rows / 5).max(1_000);
        say(format!(
            "(11) retention: ingest with and without the enforcer, {rows} rows to remove"
        ));
        let (outcome, disturbed) =
            measure("(11) retention", &settings, "retention", async |scope| {
                retention::measure(scope, rows).await
            })
            .await;
        results.note_disturbed("(11)", disturbed);
        match outcome {
            Ok(r) => results.retention = r,
            Err(e) => results.fail("(11) retention", e),
        }
    }

    if only("schema") {
        use queries::ReadSchema;
        let timeout = Duration::from_secs((scale.events as u64 / 500).max(120));
        for (n, schema) in [ReadSchema::Without, ReadSchema::CursorOnly, ReadSchema::All]
            .into_iter()
            .enumerate()
        {
            say(format!("(10) ingest, 1 consumer, {}", schema.name()));
            let phase = format!("schema{n}");
            let (outcome, disturbed) =
                measure("(10) ingest by schema", &settings, &phase, async |scope| {
                    queries::ingest_rate(scope, &data, schema, timeout).await
                })
                .await;
            results.note_disturbed("(10)", disturbed);
            match outcome {
                Ok(rate) => {
                    say(format!("    {rate:.0} events/s"));
                    results.queries.ingest.push((schema, rate));
                }
                Err(e) => results.fail("(10) ingest by schema", e),
            }
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
