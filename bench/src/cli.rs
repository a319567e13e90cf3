//! The command line of `logagg-bench` and the run's sizes it implies ([`Scale`]): full by
//! default, a few seconds per measurement with `--smoke`.

use std::path::PathBuf;

use clap::Parser;

use crate::report::Scale;

#[derive(Parser, Debug)]
#[command(
    name = "logagg-bench",
    version,
    about = "logagg benchmarks against the PostgreSQL and Kafka ceilings of this machine, in one run"
)]
pub struct Cli {
    /// Small sizes and a few seconds per measurement (for `make test`); never writes the doc.
    #[arg(long)]
    pub smoke: bool,
    /// Events of the ingest dataset (30% duplicates, 16 topics, ~200-byte payloads) [500000; smoke 4000].
    #[arg(long)]
    pub events: Option<usize>,
    /// Events sent through POST /publish in batches of 500 [500000; smoke 4000].
    #[arg(long)]
    pub http_events: Option<usize>,
    /// Seconds of single-event publishing at 64 connections [20; smoke 2].
    #[arg(long)]
    pub single_secs: Option<f64>,
    /// Seconds of the steady freshness load [30; smoke 2].
    #[arg(long)]
    pub fresh_secs: Option<f64>,
    /// Events per second of the freshness load [5000; smoke 2000].
    #[arg(long)]
    pub fresh_rate: Option<f64>,
    /// Batch publishes in flight at once.
    #[arg(long, default_value_t = 8)]
    pub batch_concurrency: usize,
    /// Partitions of every bench topic (the local `events` topic has 6).
    #[arg(long, default_value_t = 6)]
    pub partitions: i32,
    /// Seed of the dataset generator.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Skip the client-side insert diagnostics of (1).
    #[arg(long)]
    pub no_diagnostics: bool,
    /// Write the report into this Markdown file (between its logagg-bench markers).
    #[arg(long)]
    pub write: Option<PathBuf>,
    /// The command line recorded in the report.
    #[arg(long, default_value = "make bench")]
    pub command: String,
    /// Directory of logagg-api and logagg-consumer (default: this binary's own directory).
    #[arg(long)]
    pub bin_dir: Option<PathBuf>,
    /// Where the services' logs go (default: <bin dir>/../bench-logs).
    #[arg(long)]
    pub log_dir: Option<PathBuf>,
    /// Keep the bench databases and topics afterwards.
    #[arg(long)]
    pub keep: bool,
    /// Rows bulk-generated for the query-form latencies of (9) [5000000; smoke 20000].
    #[arg(long)]
    pub query_rows: Option<i64>,
    /// Timed runs of each query form in (9) [30; smoke 3].
    #[arg(long)]
    pub query_runs: Option<usize>,
    /// Record perf profiles: the whole machine during (3) and (3b), the API during (4a)
    /// and (4b); the hottest symbols are printed and written with the report.
    #[arg(long)]
    pub profile: bool,
    /// Run only these measurements (comma-separated: pg, ingest, ingest1, ingest1serial, ingest2, http, fresh,
    /// queries, schema, retention).
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
}

impl Cli {
    /// Sizes and knobs of this run; `bin_dir` names the build profile measured.
    pub fn scale(&self, bin_dir: &std::path::Path) -> anyhow::Result<Scale> {
        let cli = self;
        Ok(Scale {
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
            query_rows: cli
                .query_rows
                .unwrap_or(if cli.smoke { 20_000 } else { 5_000_000 }),
            query_runs: cli.query_runs.unwrap_or(if cli.smoke { 3 } else { 30 }),
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
        })
    }
}
