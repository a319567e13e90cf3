//! The report of a run: [`Results`] (everything measured) and what makes a run fail
//! ([`Results::problems`]); the table rows (`table`), the details and CPU accounting
//! (`details`), and the text and Markdown renderings (`render`, the section of
//! docs/PERFORMANCE.md).

mod details;
mod render;
mod table;

use std::time::Duration;

use crate::freshness::Freshness;
use crate::http::Publish;
use crate::ingest::Ingest;
use crate::kafka_ceiling::Throughput;
use crate::pg_ceiling::PgCeiling;
use crate::procfs::{self, CpuUse};
use crate::queries::{QueryResults, ReadSchema};
use crate::settings::Settings;

/// Sizes and knobs of a run.
#[derive(Debug, Clone)]
pub struct Scale {
    pub smoke: bool,
    pub events: usize,
    pub http_events: usize,
    pub single_secs: f64,
    pub fresh_secs: f64,
    pub fresh_rate: f64,
    pub query_rows: i64,
    pub query_runs: usize,
    pub batch: usize,
    pub batch_concurrency: usize,
    pub single_connections: usize,
    pub duplicate_ratio: f64,
    pub topics: usize,
    pub payload_bytes: usize,
    pub partitions: i32,
    pub consumer_batch: usize,
    /// Build profile of the measured binaries ("release" or "debug").
    pub profile: String,
}

/// Everything a run measured.
pub struct Results {
    pub scale: Scale,
    pub command: String,
    pub run_id: String,
    pub started_at: chrono::DateTime<chrono::Local>,
    pub load_start: Option<f64>,
    pub load_end: Option<f64>,
    pub postgres: Vec<(String, String)>,
    pub mean_event_bytes: f64,
    pub pg: Option<PgCeiling>,
    pub produce: Vec<Throughput>,
    pub consume: Vec<Throughput>,
    pub ingest: Vec<Ingest>,
    pub batch: Option<Publish>,
    pub single: Option<Publish>,
    pub api_rss: Option<u64>,
    /// (records in the topic, events acknowledged) after (4).
    pub http_in_topic: Option<(i64, i64)>,
    pub cpu_batch: Option<CpuUse>,
    pub cpu_single: Option<CpuUse>,
    /// `--profile`: the API's profiles of (4); the consumers' are in `ingest`.
    pub api_profiles: Vec<crate::profile::Profile>,
    pub fresh: Option<Freshness>,
    /// (9) query forms and (10) ingest by read-side schema.
    pub queries: QueryResults,
    /// (11) ingest with and without retention running, removal rows/s.
    pub retention: crate::retention::RetentionResults,
    pub errors: Vec<String>,
    /// Measurements during which Kafka or PostgreSQL restarted even on the second attempt.
    pub disturbed: Vec<String>,
    pub elapsed: Duration,
    /// `--only` phases (empty: all ran).
    pub only: Vec<String>,
}

/// One line of the table.
pub struct Row {
    pub id: String,
    pub what: String,
    pub value: String,
    pub baseline: String,
    pub ratio: String,
    pub target: String,
}

pub(super) fn row(
    id: &str,
    what: impl Into<String>,
    value: impl Into<String>,
    baseline: impl Into<String>,
    ratio: impl Into<String>,
    target: impl Into<String>,
) -> Row {
    Row {
        id: id.into(),
        what: what.into(),
        value: value.into(),
        baseline: baseline.into(),
        ratio: ratio.into(),
        target: target.into(),
    }
}

/// A row with a figure only: no baseline, ratio or target.
pub(super) fn figure(id: &str, what: impl Into<String>, value: impl Into<String>) -> Row {
    row(id, what, value, NONE, NONE, NONE)
}

/// 1234567.8 -> "1,234,568".
pub fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub(super) fn mb(bytes: u64) -> String {
    format!("{:.0} MB", bytes as f64 / 1_000_000.0)
}

pub(super) fn pct(part: f64, whole: f64) -> String {
    if whole > 0.0 {
        format!("{:.0}%", part / whole * 100.0)
    } else {
        "n/a".into()
    }
}

pub(super) fn verdict(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "missed"
    }
}

pub(super) const NONE: &str = "—";

impl Results {
    pub fn new(scale: Scale, command: String, settings: &Settings) -> Self {
        Self {
            scale,
            command,
            run_id: settings.run_id.clone(),
            started_at: chrono::Local::now(),
            load_start: procfs::load_average(),
            load_end: None,
            postgres: Vec::new(),
            mean_event_bytes: 0.0,
            pg: None,
            produce: Vec::new(),
            consume: Vec::new(),
            ingest: Vec::new(),
            batch: None,
            single: None,
            api_rss: None,
            http_in_topic: None,
            cpu_batch: None,
            cpu_single: None,
            api_profiles: Vec::new(),
            fresh: None,
            queries: QueryResults::default(),
            retention: Default::default(),
            errors: Vec::new(),
            disturbed: Vec::new(),
            elapsed: Duration::ZERO,
            only: Vec::new(),
        }
    }

    /// Every profile recorded, consumers first.
    pub(super) fn profiles(&self) -> Vec<crate::profile::Profile> {
        let consumers = self.ingest.iter().filter_map(|i| i.profile.clone());
        consumers.chain(self.api_profiles.iter().cloned()).collect()
    }

    pub fn fail(&mut self, what: &str, error: anyhow::Error) {
        let message = format!("{what}: {error:#}");
        eprintln!("ERROR {message}");
        self.errors.push(message);
    }

    pub fn note_disturbed(&mut self, id: &str, disturbed: bool) {
        if disturbed {
            eprintln!(
                "warning: {id} was disturbed by a Kafka or PostgreSQL restart on both attempts"
            );
            self.disturbed.push(id.to_owned());
        }
    }

    pub fn finish(&mut self) {
        self.load_end = procfs::load_average();
    }

    /// Best produce and consume rates of the run (a ceiling is the best the machine did).
    pub(super) fn best(samples: &[Throughput]) -> Option<&Throughput> {
        samples.iter().max_by(|a, b| a.rate().total_cmp(&b.rate()))
    }

    /// Whether the measurement a table id (1, 2a, 3, 4b, 6b, 7b, 8, …) or problem name belongs
    /// to was asked for (`--only`).
    pub(super) fn ran(&self, id: &str) -> bool {
        let id = id.trim_start_matches('(');
        // Two-digit ids first: "10" and "11" also start with '1'.
        let phases: &[&str] = if id.starts_with("11") {
            &["retention"]
        } else if id.starts_with("10") {
            &["schema"]
        } else if id.starts_with('1') {
            &["pg"]
        } else if id.starts_with('2') {
            &["ingest", "ingest1", "ingest2"]
        } else if id.starts_with('5') {
            &["fresh"]
        } else if id.starts_with('9') {
            &["queries"]
        } else if id.starts_with('4') || id.starts_with("6a") || id.contains("API") {
            &["http"]
        } else if id.starts_with("7b") || id.contains("2 consumers") {
            &["ingest", "ingest2"]
        } else {
            &["ingest", "ingest1"]
        };
        self.only.is_empty() || self.only.iter().any(|o| phases.contains(&o.as_str()))
    }

    /// The ingest run with this many consumers and the default writers.
    pub(super) fn ingest_with(&self, consumers: usize) -> Option<&Ingest> {
        self.ingest
            .iter()
            .find(|i| i.consumers == consumers && i.writers.is_none())
    }

    /// The one-consumer run writing one transaction at a time (3b).
    pub(super) fn ingest_serial(&self) -> Option<&Ingest> {
        self.ingest.iter().find(|i| i.writers == Some(1))
    }

    /// Everything that makes the run fail: errors, a figure that is not > 0, inexact golden counts.
    pub fn problems(&self) -> Vec<String> {
        let mut out = self.errors.clone();
        let mut positive = |name: &str, value: Option<f64>| match value {
            _ if !self.ran(name) => {}
            Some(v) if v > 0.0 && v.is_finite() => {}
            Some(v) => out.push(format!("{name} produced {v}, not a number > 0")),
            None => out.push(format!("{name} produced no number")),
        };
        positive(
            "(1) PostgreSQL ceiling",
            self.pg.as_ref().map(PgCeiling::rate),
        );
        if let Some(pg) = &self.pg {
            if let Some(d) = &pg.client {
                positive("(1b) the consumer's insert", Some(d.rate()));
            }
            if let Some(c) = &pg.copy {
                positive("(1c) the COPY insert", Some(c.rate()));
            }
        }
        positive(
            "(2) raw produce",
            Self::best(&self.produce).map(Throughput::rate),
        );
        positive(
            "(2) raw consume",
            Self::best(&self.consume).map(Throughput::rate),
        );
        positive(
            "(3) ingest, 1 consumer",
            self.ingest_with(1).map(Ingest::rate),
        );
        positive(
            "(7) ingest, 2 consumers",
            self.ingest_with(2).map(Ingest::rate),
        );
        positive(
            "(4) batch publish",
            self.batch.as_ref().map(Publish::events_per_sec),
        );
        positive(
            "(4) single publish",
            self.single.as_ref().map(Publish::requests_per_sec),
        );
        positive(
            "(4) single ack p50",
            self.single.as_ref().map(|s| s.latencies.quantile_ms(0.5)),
        );
        positive(
            "(5) freshness p99",
            self.fresh.as_ref().map(|f| f.visible.quantile_ms(0.99)),
        );
        positive("(6) API peak RSS", self.api_rss.map(|b| b as f64));
        positive(
            "(6) consumer peak RSS",
            self.ingest_with(1)
                .and_then(|i| i.peak_rss.first())
                .map(|b| *b as f64),
        );
        positive(
            "(8) insert stage",
            self.ingest_with(1)
                .and_then(|i| i.stages.first())
                .map(|s| s.sum("insert")),
        );
        positive(
            "(9) query forms, slowest p50",
            self.queries.forms.iter().map(|f| f.p50_ms).reduce(f64::max),
        );
        for schema in [ReadSchema::Without, ReadSchema::CursorOnly, ReadSchema::All] {
            positive(
                &format!("(10) ingest {}", schema.name()),
                self.queries
                    .ingest
                    .iter()
                    .find(|(s, _)| *s == schema)
                    .map(|(_, rate)| *rate),
            );
        }
        let retention = &self.retention;
        for (name, value) in [
            (
                "(11) insert, no retention running",
                retention.ingest_without,
            ),
            ("(11) insert, retention removing", retention.ingest_with),
            ("(11) removal rows/s", retention.removal_rows_per_s),
        ] {
            positive(name, Some(value));
        }
        if self.ran("(11)") && retention.removed != retention.rows {
            out.push(format!(
                "(11): retention removed {} rows, {} were due",
                retention.removed, retention.rows
            ));
        }
        for run in &self.ingest {
            for e in &run.golden_errors {
                out.push(format!(
                    "ingest with {} consumer(s): golden count off: {e}",
                    run.consumers
                ));
            }
        }
        if let Some(f) = &self.fresh {
            for e in &f.golden_errors {
                out.push(format!("freshness run: golden count off: {e}"));
            }
        }
        if let Some((in_topic, acked)) = self.http_in_topic {
            if in_topic != acked {
                out.push(format!(
                    "(4): the topic holds {in_topic} records, {acked} were acknowledged"
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0.0), "0");
        assert_eq!(thousands(999.4), "999");
        assert_eq!(thousands(1000.0), "1,000");
        assert_eq!(thousands(1234567.8), "1,234,568");
    }
}
