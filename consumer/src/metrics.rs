//! The consumer's Prometheus metrics. The `ready` gauge is also the one readiness source:
//! `/health` reports what it says.

use std::time::Duration;

use prometheus::{
    Gauge, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry,
};

use logagg_core::db::progress::Counts;
use logagg_core::metrics::registered;

/// Every metric the consumer exports, registered in its own registry.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    records: IntCounterVec,
    batches: IntCounter,
    db_retries: IntCounter,
    lost: IntCounterVec,
    stage_seconds: HistogramVec,
    /// Set from librdkafka's statistics (see `group::GroupContext`).
    pub lag: IntGaugeVec,
    ready: IntGauge,
    retention: RetentionMetrics,
}

/// The retention enforcer's metrics (docs/RETENTION.md).
#[derive(Clone)]
struct RetentionMetrics {
    enforcer: IntGauge,
    removed: IntCounter,
    last_run: Gauge,
    lag_seconds: Gauge,
    step_seconds: Histogram,
}

impl RetentionMetrics {
    fn new(registry: &Registry) -> Self {
        Self {
            enforcer: registered(
                registry,
                IntGauge::new(
                    "logagg_retention_enforcer",
                    "1 while this consumer holds the retention advisory lock (exactly one of the fleet).",
                ),
            ),
            removed: registered(
                registry,
                IntCounter::new(
                    "logagg_retention_removed_total",
                    "Rows this consumer removed by retention.",
                ),
            ),
            last_run: registered(
                registry,
                Gauge::new(
                    "logagg_retention_last_run_timestamp_seconds",
                    "Unix time of this consumer's last retention run (0 before any).",
                ),
            ),
            lag_seconds: registered(
                registry,
                Gauge::new(
                    "logagg_retention_lag_seconds",
                    "How far the oldest row due for removal was past its policy after the last run.",
                ),
            ),
            step_seconds: registered(
                registry,
                Histogram::with_opts(
                    HistogramOpts::new(
                        "logagg_retention_step_seconds",
                        "Time of one retention DELETE transaction (at most LOGAGG_RETENTION_STEP_ROWS rows).",
                    )
                    .buckets(vec![0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5]),
                ),
            ),
        }
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let records = registered(
            &registry,
            IntCounterVec::new(
                Opts::new(
                    "logagg_consumer_records_total",
                    "Records processed, by outcome (unique, duplicate, invalid, replayed).",
                ),
                &["outcome"],
            ),
        );
        let batches = registered(
            &registry,
            IntCounter::new(
                "logagg_consumer_batches_total",
                "Batches committed to PostgreSQL.",
            ),
        );
        let db_retries = registered(
            &registry,
            IntCounter::new(
                "logagg_consumer_db_retries_total",
                "Batch attempts that failed and were retried.",
            ),
        );
        let lost = registered(
            &registry,
            IntCounterVec::new(
                Opts::new(
                    "logagg_consumer_lost_records_total",
                    "Offsets deleted by the broker before this consumer stored them (a gap in the log), per partition.",
                ),
                &["partition"],
            ),
        );
        let stage_seconds = registered(
            &registry,
            HistogramVec::new(
                HistogramOpts::new(
                    "logagg_consumer_stage_seconds",
                    "Time per batch stage: decode, lock, insert, counters, commit (DB), kafka_commit, batch.",
                )
                .buckets(vec![
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                ]),
                &["stage"],
            ),
        );
        let lag = registered(
            &registry,
            IntGaugeVec::new(
                Opts::new(
                    "logagg_consumer_lag",
                    "Records behind the high watermark, per assigned partition (from the committed offset, i.e. not yet stored in PostgreSQL).",
                ),
                &["partition"],
            ),
        );
        let ready = registered(
            &registry,
            IntGauge::new(
                "logagg_consumer_ready",
                "1 when the last batch reached PostgreSQL, 0 while it is retrying.",
            ),
        );
        let retention = RetentionMetrics::new(&registry);
        // Ready until a batch fails: no batch has been refused yet.
        ready.set(1);
        Self {
            registry,
            records,
            batches,
            db_retries,
            lost,
            stage_seconds,
            lag,
            ready,
            retention,
        }
    }

    /// Whether this consumer holds the retention lock.
    pub fn set_enforcer(&self, holds: bool) {
        self.retention.enforcer.set(i64::from(holds));
    }

    pub fn is_enforcer(&self) -> bool {
        self.retention.enforcer.get() == 1
    }

    pub fn record_run(&self, report: &logagg_core::db::retention::RunReport) {
        let r = &self.retention;
        r.removed.inc_by(report.removed.max(0) as u64);
        r.lag_seconds.set(report.lag_ms as f64 / 1000.0);
        r.last_run
            .set(chrono::Utc::now().timestamp_millis() as f64 / 1000.0);
    }

    pub fn observe_step(&self, elapsed: Duration) {
        self.retention.step_seconds.observe(elapsed.as_secs_f64());
    }

    pub fn observe_stage(&self, stage: &str, elapsed: Duration) {
        self.stage_seconds
            .with_label_values(&[stage])
            .observe(elapsed.as_secs_f64());
    }

    pub fn record_batch(&self, counts: &Counts) {
        self.batches.inc();
        for (outcome, n) in [
            ("unique", counts.unique_processed),
            ("duplicate", counts.duplicate_dropped),
            ("invalid", counts.invalid),
            ("replayed", counts.replayed),
        ] {
            self.records
                .with_label_values(&[outcome])
                .inc_by(n.max(0) as u64);
        }
    }

    /// Offsets of `partition` found deleted before they were read.
    pub fn record_lost(&self, partition: i32, offsets: i64) {
        self.lost
            .with_label_values(&[&partition.to_string()])
            .inc_by(offsets.max(0) as u64);
    }

    pub fn record_retry(&self) {
        self.db_retries.inc();
    }

    /// Whether the last batch reached PostgreSQL (set false while a batch is being retried).
    pub fn set_ready(&self, ready: bool) {
        self.ready.set(i64::from(ready));
    }

    pub fn is_ready(&self) -> bool {
        self.ready.get() == 1
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        logagg_core::metrics::render(&self.registry)
    }
}
