//! The consumer's Prometheus metrics. The `ready` gauge is also the one readiness source:
//! `/health` reports what it says.

use std::time::Duration;

use prometheus::{
    HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
};

use logagg_core::db::progress::Counts;

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
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let records = IntCounterVec::new(
            Opts::new(
                "logagg_consumer_records_total",
                "Records processed, by outcome (unique, duplicate, invalid, replayed).",
            ),
            &["outcome"],
        )
        .expect("valid metric");
        let batches = IntCounter::new(
            "logagg_consumer_batches_total",
            "Batches committed to PostgreSQL.",
        )
        .expect("valid metric");
        let db_retries = IntCounter::new(
            "logagg_consumer_db_retries_total",
            "Batch attempts that failed and were retried.",
        )
        .expect("valid metric");
        let lost = IntCounterVec::new(
            Opts::new(
                "logagg_consumer_lost_records_total",
                "Offsets deleted by the broker before this consumer stored them (a gap in the log), per partition.",
            ),
            &["partition"],
        )
        .expect("valid metric");
        let stage_seconds = HistogramVec::new(
            HistogramOpts::new(
                "logagg_consumer_stage_seconds",
                "Time per batch stage: decode, lock, insert, counters, commit (DB), kafka_commit, batch.",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
            &["stage"],
        )
        .expect("valid metric");
        let lag = IntGaugeVec::new(
            Opts::new(
                "logagg_consumer_lag",
                "Records behind the high watermark, per assigned partition (from the committed offset, i.e. not yet stored in PostgreSQL).",
            ),
            &["partition"],
        )
        .expect("valid metric");
        let ready = IntGauge::new(
            "logagg_consumer_ready",
            "1 when the last batch reached PostgreSQL, 0 while it is retrying.",
        )
        .expect("valid metric");
        logagg_core::metrics::register_all(
            &registry,
            [
                Box::new(records.clone()) as Box<dyn prometheus::core::Collector>,
                Box::new(batches.clone()),
                Box::new(db_retries.clone()),
                Box::new(lost.clone()),
                Box::new(stage_seconds.clone()),
                Box::new(lag.clone()),
                Box::new(ready.clone()),
            ],
        );
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
        }
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
