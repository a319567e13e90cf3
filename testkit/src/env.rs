//! [`TestEnv`]: a [`Sandbox`] for tests. The same database, topic and group, with helpers that
//! panic with a useful message instead of returning errors, the test-friendly service
//! settings (short database retry cap, info logs) and waits on the counters.

use std::ops::Deref;
use std::time::Duration;

use logagg_core::config::ProducerConfig;
use logagg_core::db::progress::Counts;
use logagg_producer::generator::LoadPlan;
use logagg_producer::EventProducer;

use crate::process::{run, Ran, Service, START_TIMEOUT};
use crate::sandbox::Sandbox;
use crate::services::Services;
use crate::truth::Expected;
use crate::wait::wait_for;

/// One test's isolated database, Kafka topic and consumer group, removed when dropped.
pub struct TestEnv {
    sandbox: Sandbox,
}

impl Deref for TestEnv {
    type Target = Sandbox;
    fn deref(&self) -> &Sandbox {
        &self.sandbox
    }
}

/// Settings every service of a test gets: a short backoff cap so a test does not wait long
/// after an outage, and logs at info for the log files under target/e2e-logs.
fn test_settings() -> Vec<(String, String)> {
    vec![
        ("LOGAGG_DB_RETRY_MAX_MS".into(), "1000".into()),
        ("RUST_LOG".into(), "info".into()),
    ]
}

fn owned(extra: &[(&str, String)]) -> Vec<(String, String)> {
    let mut vars = test_settings();
    vars.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
    vars
}

impl TestEnv {
    /// A database cloned from the migrated template and a topic with `partitions` partitions.
    pub async fn new(prefix: &str, partitions: i32) -> Self {
        Self::on_brokers(prefix, partitions, &Services::from_env().brokers).await
    }

    /// The same on the broker(s) `brokers` (a test's own cluster) instead of the local one.
    pub async fn on_brokers(prefix: &str, partitions: i32, brokers: &str) -> Self {
        let mut services = Services::from_env();
        services.brokers = brokers.to_owned();
        let sandbox = Sandbox::create(&services, "e2e", prefix, partitions)
            .await
            .unwrap_or_else(|e| panic!("test environment {prefix} on {brokers}: {e:#}"));
        Self { sandbox }
    }

    /// A test environment and its `logagg-api` (with `extra` settings), healthy.
    pub async fn with_api(
        prefix: &str,
        partitions: i32,
        extra: &[(&str, String)],
    ) -> (Self, Service) {
        let env = Self::new(prefix, partitions).await;
        let api = env.spawn_api_with(extra).await;
        (env, api)
    }

    /// The environment the binaries get (the sandbox's plus the test settings).
    pub fn vars(&self) -> Vec<(String, String)> {
        let mut vars = self.sandbox.vars();
        vars.extend(test_settings());
        vars
    }

    /// A command running `binary` of the workspace with this test's environment.
    pub fn command(&self, binary: &str) -> std::process::Command {
        let path = self
            .services
            .binary(binary)
            .unwrap_or_else(|e| panic!("{e:#}"));
        let mut command = std::process::Command::new(path);
        command.envs(self.vars());
        command
    }

    /// Runs `binary ARGS` to its end with this test's environment.
    pub fn run(&self, binary: &str, args: &[&str]) -> Ran {
        run(self.command(binary).args(args))
    }

    /// Runs `binary ARGS` to its end with this test's environment and `input` on its stdin.
    pub fn run_with_input(&self, binary: &str, args: &[&str], input: &[u8]) -> Ran {
        let output = crate::process::run_with_stdin(self.command(binary).args(args), input)
            .unwrap_or_else(|e| panic!("running {binary}: {e}"));
        crate::process::Ran::of(output)
    }

    /// The idempotent producer, bound to this test's topic.
    pub fn producer(&self) -> EventProducer {
        let mut tuning = ProducerConfig::from_env().expect("producer config");
        tuning.delivery_timeout = Duration::from_secs(30);
        EventProducer::new(&self.kafka(), &tuning).expect("producer")
    }

    /// Starts `logagg-consumer`, waits until its /health answers 200.
    pub async fn spawn_consumer(&self, label: &str) -> Service {
        self.spawn_consumer_with(label, &[]).await
    }

    pub async fn spawn_consumer_with(&self, label: &str, extra: &[(&str, String)]) -> Service {
        let consumer = self
            .sandbox
            .spawn_consumer(label, &owned(extra))
            .expect("spawn logagg-consumer");
        consumer.wait_health_status(200, START_TIMEOUT).await;
        consumer
    }

    /// Starts `logagg-api`, waits until its /health answers 200.
    pub async fn spawn_api(&self) -> Service {
        self.spawn_api_with(&[]).await
    }

    pub async fn spawn_api_with(&self, extra: &[(&str, String)]) -> Service {
        self.sandbox
            .spawn_api(&owned(extra))
            .await
            .unwrap_or_else(|e| panic!("logagg-api: {e:#}"))
    }

    /// Summed counters of this test's group.
    pub async fn counts(&self) -> Counts {
        self.sandbox.counts().await.expect("counters")
    }

    /// The retention ledger, asserting `unique_processed = rows + expired + deleted`.
    pub async fn assert_ledger(&self, when: &str) -> logagg_core::db::retention::Ledger {
        let ledger = self.sandbox.ledger().await.expect("ledger");
        assert!(ledger.holds(), "{when}: invariant broken: {ledger:?}");
        ledger
    }

    /// Rows in `events`.
    pub async fn rows(&self) -> i64 {
        self.sandbox.rows().await.expect("count events")
    }

    /// Runs SQL on this test's database; the rows it affected.
    pub async fn execute(&self, sql: &str) -> usize {
        self.sandbox
            .execute(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e:#}"))
    }

    /// Waits until the counters satisfy `done`.
    pub async fn wait_counts(
        &self,
        timeout: Duration,
        what: &str,
        done: impl Fn(&Counts) -> bool,
    ) -> Counts {
        wait_for(timeout, what, || async {
            let counts = self.counts().await;
            done(&counts).then_some(counts)
        })
        .await
    }

    /// Waits until exactly `rows` events are stored.
    pub async fn wait_rows(&self, timeout: Duration, rows: i64) {
        wait_for(timeout, &format!("{rows} stored events"), || async {
            (self.rows().await == rows).then_some(())
        })
        .await;
    }

    /// `partition -> high watermark` of the topic.
    pub async fn end_offsets(&self) -> std::collections::BTreeMap<i32, i64> {
        self.sandbox.end_offsets().await.expect("end offsets")
    }

    /// Waits until the group has committed, on every partition, the end of the log: each record
    /// written so far is stored and its offset committed, so a rebalance now hands a joining
    /// member nothing to read again.
    pub async fn wait_committed_to_end(&self, timeout: Duration) {
        let (brokers, topic, group) = (
            self.sandbox.services.brokers.clone(),
            self.sandbox.topic.clone(),
            self.sandbox.group.clone(),
        );
        let partitions = self.sandbox.partitions;
        wait_for(timeout, "offsets committed to the end of the log", || {
            let (brokers, topic, group) = (brokers.clone(), topic.clone(), group.clone());
            async move {
                let ends = self.end_offsets().await;
                let committed = tokio::task::spawn_blocking(move || {
                    crate::kafka::committed_offsets(&brokers, &topic, &group, partitions)
                })
                .await
                .ok()?
                .ok()?;
                ends.iter()
                    .all(|(p, end)| *end == 0 || committed.get(p) == Some(end))
                    .then_some(())
            }
        })
        .await;
    }

    /// Sum of the topic's high watermarks (records ever written).
    pub async fn high_watermarks(&self) -> i64 {
        self.end_offsets().await.values().sum()
    }

    /// Asserts the topic holds exactly `records` records (`what` explains why).
    pub async fn assert_records(&self, records: i64, what: &str) {
        assert_eq!(self.high_watermarks().await, records, "{what}");
    }

    /// Deletes the records of `partition` below `offset` (see
    /// [`crate::kafka::delete_records_before`]); the new log start offset.
    pub async fn delete_records_before(&self, partition: i32, offset: i64) -> i64 {
        crate::kafka::delete_records_before(&self.services.brokers, &self.topic, partition, offset)
            .await
            .unwrap_or_else(|e| panic!("{e:#}"))
    }

    /// Produces one raw record (any bytes, optional key and partition); (partition, offset).
    pub async fn produce_raw(
        &self,
        partition: Option<i32>,
        key: Option<&[u8]>,
        value: &[u8],
    ) -> (i32, i64) {
        crate::kafka::produce_raw(&self.services.brokers, &self.topic, partition, key, value)
            .await
            .expect("raw produce")
    }

    /// Publishes every send of `plan` through the idempotent producer in the background,
    /// `chunk` events at a time with `pause` between chunks: a paced load for tests that
    /// disturb the consumers while it flows.
    pub fn spawn_paced_sender(
        &self,
        plan: &LoadPlan,
        chunk: usize,
        pause: Duration,
    ) -> tokio::task::JoinHandle<()> {
        let (plan, producer) = (plan.clone(), self.producer());
        tokio::spawn(async move {
            let events: Vec<_> = (0..plan.sends.len()).map(|k| plan.send(k)).collect();
            for chunk in events.chunks(chunk.max(1)) {
                producer.publish(chunk).await.expect("publish");
                tokio::time::sleep(pause).await;
            }
        })
    }

    /// Sends every event of `plan` through the idempotent producer, in order, and waits for
    /// every ack.
    pub async fn send_plan(&self, plan: &LoadPlan) {
        let producer = self.producer();
        let events: Vec<_> = (0..plan.sends.len()).map(|k| plan.send(k)).collect();
        for chunk in events.chunks(5_000) {
            producer.publish(chunk).await.expect("publish");
        }
    }

    /// Waits until `expected.received` records were received, then asserts the counters and
    /// the stored rows are exactly `expected`.
    pub async fn assert_counts(&self, expected: &Expected, timeout: Duration) -> Counts {
        let counts = self
            .wait_counts(
                timeout,
                &format!("{} records received", expected.received),
                |c| c.received >= expected.received,
            )
            .await;
        let rows = self.rows().await;
        let off = expected.mismatches(&counts, rows);
        assert!(
            off.is_empty(),
            "{}: {counts:?}, rows {rows}",
            off.join("; ")
        );
        counts
    }

    /// The golden calculation of `plan`: received = sent, unique = distinct = rows,
    /// duplicates = duplicate sends, invalid = 0.
    pub async fn assert_golden(&self, plan: &LoadPlan, timeout: Duration) -> Counts {
        self.assert_counts(&Expected::of_plan(plan), timeout).await
    }
}
