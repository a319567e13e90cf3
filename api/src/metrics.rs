//! The API's Prometheus metrics: requests by route and status, latency, events accepted. Route
//! labels come from the route table (`route_table::metric_label`).

use std::time::Duration;

use std::collections::BTreeMap;

use logagg_core::metrics::registered;
use prometheus::{HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry};

#[derive(Clone)]
pub struct ApiMetrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    pub events_accepted: IntCounter,
    /// Records per ingest protocol (`publish`, `otlp`, `loki`, `elasticsearch`, `syslog`) and
    /// outcome (`accepted`, `rejected`, `dropped`): one series set for every door.
    ingest_records: IntCounterVec,
}

impl Default for ApiMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl ApiMetrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let requests = registered(
            &registry,
            IntCounterVec::new(
                Opts::new(
                    "logagg_api_requests_total",
                    "HTTP requests by route and status.",
                ),
                &["route", "status"],
            ),
        );
        let latency = registered(
            &registry,
            HistogramVec::new(
                HistogramOpts::new(
                    "logagg_api_request_seconds",
                    "HTTP request latency by route.",
                )
                .buckets(vec![
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                ]),
                &["route"],
            ),
        );
        let events_accepted = registered(
            &registry,
            IntCounter::new(
                "logagg_api_events_accepted_total",
                "Events acked by the broker through POST /publish.",
            ),
        );
        let ingest_records = registered(
            &registry,
            IntCounterVec::new(
                Opts::new(
                    "logagg_ingest_records_total",
                    "Records received per ingest protocol and outcome (accepted = acked by the broker, rejected = refused as invalid, dropped = lost before validation, e.g. a full UDP buffer).",
                ),
                &["protocol", "outcome"],
            ),
        );
        Self {
            registry,
            requests,
            latency,
            events_accepted,
            ingest_records,
        }
    }

    /// Adds a metric owned elsewhere (the access decisions of `auth`).
    pub fn register(&self, collector: Box<dyn prometheus::core::Collector>) {
        self.registry.register(collector).expect("unique metric");
    }

    /// Counts `n` records of `protocol` with `outcome`.
    pub fn ingest(&self, protocol: IngestProtocol, outcome: IngestOutcome, n: u64) {
        self.ingest_records
            .with_label_values(&[protocol.label(), outcome.label()])
            .inc_by(n);
    }

    pub fn observe(&self, route: &str, status: u16, elapsed: Duration) {
        self.requests
            .with_label_values(&[route, &status.to_string()])
            .inc();
        self.latency
            .with_label_values(&[route])
            .observe(elapsed.as_secs_f64());
    }

    /// Requests served by this instance, per route (all statuses).
    pub fn requests_by_route(&self) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        for family in self.registry.gather() {
            if family.name() != "logagg_api_requests_total" {
                continue;
            }
            for metric in family.get_metric() {
                let route = metric
                    .get_label()
                    .iter()
                    .find(|l| l.name() == "route")
                    .map(|l| l.value().to_owned())
                    .unwrap_or_default();
                *out.entry(route).or_default() += metric.get_counter().get_value() as u64;
            }
        }
        out
    }

    pub fn render(&self) -> String {
        logagg_core::metrics::render(&self.registry)
    }
}

/// The dead-letter gauges appended to `/metrics`: read from PostgreSQL per scrape, so they are
/// not registered collectors.
pub fn dead_letter_gauges(pending: &logagg_core::db::dead_letters::Pending) -> String {
    format!(
        "# HELP logagg_dead_letters Dead letters not retried yet.\n\
         # TYPE logagg_dead_letters gauge\n\
         logagg_dead_letters {}\n\
         # HELP logagg_dead_letter_oldest_age_seconds Age of the oldest dead letter not retried yet (0 when none).\n\
         # TYPE logagg_dead_letter_oldest_age_seconds gauge\n\
         logagg_dead_letter_oldest_age_seconds {}\n",
        pending.count,
        pending.oldest_age_seconds.unwrap_or(0.0)
    )
}

/// The retention enforcer's last run (from its status row in PostgreSQL, so every API instance
/// shows the same), appended to `/metrics` once a consumer has run it.
pub fn retention_gauges(status: &logagg_core::contract::RetentionStatus) -> String {
    format!(
        "# HELP logagg_retention_last_run_age_seconds Seconds since the retention enforcer's last run ended.\n\
         # TYPE logagg_retention_last_run_age_seconds gauge\n\
         logagg_retention_last_run_age_seconds {}\n\
         # HELP logagg_retention_last_run_removed Rows the last retention run removed.\n\
         # TYPE logagg_retention_last_run_removed gauge\n\
         logagg_retention_last_run_removed {}\n\
         # HELP logagg_retention_removed Rows removed by retention since the status row was created.\n\
         # TYPE logagg_retention_removed gauge\n\
         logagg_retention_removed {}\n\
         # HELP logagg_retention_policy_lag_seconds How far the oldest row due for removal was past its policy after the last run.\n\
         # TYPE logagg_retention_policy_lag_seconds gauge\n\
         logagg_retention_policy_lag_seconds {}\n",
        status.last_run_age_seconds,
        status.last_run_removed,
        status.removed_total,
        status.lag_seconds
    )
}

/// Offsets lost per partition (a gap in the log: deleted by the broker before they were
/// stored), from the progress rows; exact across restarts, unlike the consumer's counter.
pub fn lost_gauges(rows: &[logagg_core::db::progress::Progress]) -> String {
    let mut text = String::from(
        "# HELP logagg_lost_records Offsets deleted by the broker before the group stored them, per partition.\n\
         # TYPE logagg_lost_records gauge\n",
    );
    for row in rows {
        text += &format!(
            "logagg_lost_records{{partition=\"{}\"}} {}\n",
            row.kafka_partition, row.counts.lost
        );
    }
    text
}

/// How far the read replica's replay is behind (omitted when unknown or when there is none).
pub fn replica_lag_gauge(lag_ms: i64) -> String {
    format!(
        "# HELP logagg_read_replica_lag_seconds How far the read replica (LOGAGG_DATABASE_READ_URL) replays behind the primary: the staleness of event reads.\n\
         # TYPE logagg_read_replica_lag_seconds gauge\n\
         logagg_read_replica_lag_seconds {}\n",
        lag_ms as f64 / 1000.0
    )
}

/// The doors records come in by, as the `protocol` label of `logagg_ingest_records_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IngestProtocol {
    Publish,
    Otlp,
    Loki,
    Elasticsearch,
    Syslog,
}

impl IngestProtocol {
    pub fn label(self) -> &'static str {
        match self {
            Self::Publish => "publish",
            Self::Otlp => "otlp",
            Self::Loki => "loki",
            Self::Elasticsearch => "elasticsearch",
            Self::Syslog => "syslog",
        }
    }
}

/// What became of a record, as the `outcome` label of `logagg_ingest_records_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IngestOutcome {
    /// Acked by the broker.
    Accepted,
    /// Refused as invalid (answered in the protocol's error shape).
    Rejected,
    /// Lost before it could be validated (a full UDP receive buffer).
    Dropped,
}

impl IngestOutcome {
    pub fn label(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Rejected => "rejected",
            Self::Dropped => "dropped",
        }
    }
}
