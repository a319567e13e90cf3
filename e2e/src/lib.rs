//! Helpers for logagg's end-to-end tests. Every test gets its own PostgreSQL database, its own
//! Kafka topic and consumer group, and runs the real binaries (built by `cargo build --bins`,
//! which `make test` does first) as child processes on free loopback ports.

pub mod group;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use logagg_core::config::{DatabaseConfig, KafkaConfig, ProducerConfig};
use logagg_core::db::{self, progress::Counts};
use logagg_core::Event;
use logagg_producer::EventProducer;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::ClientConfig;
use serde_json::{json, Value};

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("e2e/ has a parent")
        .to_path_buf()
}

/// A binary of the workspace, built in the debug profile.
pub fn bin(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"));
    let path = target.join("debug").join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --bins` first (make test does)",
        path.display()
    );
    path
}

pub fn brokers() -> String {
    std::env::var("LOGAGG_KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into())
}

/// The settings every Kafka client of the tests starts from: the product's own builder, so the
/// tests connect the way the binaries do.
pub fn kafka_client_config() -> ClientConfig {
    let kafka = KafkaConfig::from_env().expect("LOGAGG_KAFKA_* variables parse");
    logagg_core::kafka::client_config(&kafka)
}

pub fn admin_database_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://logagg:logagg@127.0.0.1:5432/logagg".into())
}

/// A free TCP port on 127.0.0.1 (bound then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Polls `check` every 100 ms until it returns `Some`, or panics with `what` at the deadline.
pub async fn wait_for<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A valid event.
pub fn event(topic: &str, event_id: &str) -> Event {
    Event::from_value(&json!({
        "topic": topic, "event_id": event_id, "timestamp": "2026-11-25T12:00:00Z",
        "source": "e2e", "payload": {"id": event_id}
    }))
    .expect("valid test event")
}

/// One test's isolated database, Kafka topic and consumer group.
pub struct TestEnv {
    pub name: String,
    pub database_url: String,
    pub topic: String,
    pub group: String,
    pub partitions: i32,
    pub pool: db::Pool,
}

impl TestEnv {
    /// Creates the database (migrated) and the topic with `partitions` partitions.
    pub async fn new(prefix: &str, partitions: i32) -> Self {
        let name = format!(
            "{prefix}_{}",
            uuid::Uuid::new_v4().simple().to_string().split_at(10).0
        );
        let admin = admin_database_url();
        let mut conn = AsyncPgConnection::establish(&admin)
            .await
            .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at {admin} (make up?): {e}"));
        diesel::sql_query(format!("CREATE DATABASE logagg_t_{name}"))
            .execute(&mut conn)
            .await
            .expect("create test database");
        let database_url = replace_database(&admin, &format!("logagg_t_{name}"));
        db::run_migrations(&database_url).await.expect("migrations");
        let topic = format!("e2e.{name}");
        create_topic(&topic, partitions).await;
        let pool = db::connect(&DatabaseConfig {
            url: database_url.clone(),
            pool_size: 4,
        })
        .expect("pool");
        Self {
            group: format!("g.{name}"),
            name,
            database_url,
            topic,
            partitions,
            pool,
        }
    }

    /// The environment the binaries get.
    pub fn vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("LOGAGG_KAFKA_BROKERS", brokers()),
            ("LOGAGG_KAFKA_TOPIC", self.topic.clone()),
            ("LOGAGG_KAFKA_GROUP", self.group.clone()),
            ("DATABASE_URL", self.database_url.clone()),
            ("LOGAGG_DB_RETRY_MAX_MS", "1000".into()),
            ("RUST_LOG", "info".into()),
        ]
    }

    pub fn kafka_config(&self) -> KafkaConfig {
        KafkaConfig {
            brokers: brokers(),
            topic: self.topic.clone(),
            group: self.group.clone(),
        }
    }

    /// The idempotent producer, bound to this test's topic.
    pub fn producer(&self) -> EventProducer {
        let mut tuning = ProducerConfig::from_env().expect("producer config");
        tuning.delivery_timeout = Duration::from_secs(30);
        EventProducer::new(&self.kafka_config(), &tuning).expect("producer")
    }

    /// Starts `logagg-consumer`, waits until its /health answers 200.
    pub async fn spawn_consumer(&self, label: &str) -> Service {
        self.spawn_consumer_with(label, &[]).await
    }

    pub async fn spawn_consumer_with(
        &self,
        label: &str,
        extra: &[(&'static str, String)],
    ) -> Service {
        let port = free_port();
        let mut vars = self.vars();
        vars.push(("LOGAGG_CONSUMER_ADDR", format!("127.0.0.1:{port}")));
        vars.extend(extra.iter().cloned());
        let service = Service::spawn(
            "logagg-consumer",
            &format!("{}-{label}", self.name),
            port,
            &vars,
        );
        service.wait_healthy().await;
        service
    }

    /// Starts `logagg-api`, waits until its /health answers 200.
    pub async fn spawn_api(&self) -> Service {
        self.spawn_api_with(&[]).await
    }

    pub async fn spawn_api_with(&self, extra: &[(&'static str, String)]) -> Service {
        let port = free_port();
        let mut vars = self.vars();
        vars.push(("LOGAGG_API_ADDR", format!("127.0.0.1:{port}")));
        vars.extend(extra.iter().cloned());
        let service = Service::spawn("logagg-api", &format!("{}-api", self.name), port, &vars);
        service.wait_healthy().await;
        service
    }

    /// Summed counters of this test's group.
    pub async fn counts(&self) -> Counts {
        let mut conn = self.pool.get().await.expect("db connection");
        let rows = db::progress::all(&mut conn, &self.group, &self.topic)
            .await
            .expect("progress");
        let mut total = Counts::default();
        for row in rows {
            total.add(&row.counts());
        }
        total
    }

    /// Rows in `events`.
    pub async fn rows(&self) -> i64 {
        let mut conn = self.pool.get().await.expect("db connection");
        db::events::count(&mut conn).await.expect("count")
    }

    /// Runs SQL on this test's database.
    pub async fn execute(&self, sql: &str) -> usize {
        let mut conn = self.pool.get().await.expect("db connection");
        diesel::sql_query(sql)
            .execute(&mut conn)
            .await
            .expect("sql")
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

    /// Sum of the topic's high watermarks (records ever written).
    pub fn high_watermarks(&self) -> i64 {
        self.producer()
            .watermarks(Duration::from_secs(10))
            .expect("watermarks")
            .iter()
            .map(|(_, _, high)| high)
            .sum()
    }
}

fn replace_database(url: &str, database: &str) -> String {
    let (base, _) = url.rsplit_once('/').expect("database URL has a path");
    format!("{base}/{database}")
}

async fn create_topic(topic: &str, partitions: i32) {
    let admin: AdminClient<DefaultClientContext> =
        kafka_client_config().create().expect("admin client");
    let new_topic = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
    let results = admin
        .create_topics(
            [&new_topic],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(30))),
        )
        .await
        .unwrap_or_else(|e| panic!("cannot reach Kafka at {} (make up?): {e}", brokers()));
    for result in results {
        result.unwrap_or_else(|(t, e)| panic!("create topic {t}: {e}"));
    }
}

/// A running binary, killed when dropped.
pub struct Service {
    pub child: Child,
    pub port: u16,
    pub log: PathBuf,
}

impl Service {
    pub fn spawn(binary: &str, label: &str, port: u16, vars: &[(&'static str, String)]) -> Self {
        let logs = root().join("target").join("e2e-logs");
        std::fs::create_dir_all(&logs).expect("log dir");
        let log = logs.join(format!("{label}.log"));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("log file");
        let child = Command::new(bin(binary))
            .envs(vars.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log"))
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {binary}: {e}"));
        Self { child, port, log }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// GET `path` and return (status, JSON body or Null).
    pub async fn get(&self, path: &str) -> (u16, Value) {
        match reqwest::get(self.url(path)).await {
            Ok(response) => {
                let status = response.status().as_u16();
                (status, response.json().await.unwrap_or(Value::Null))
            }
            Err(_) => (0, Value::Null),
        }
    }

    /// POST JSON to `path` and return (status, JSON body).
    pub async fn post_json(&self, path: &str, body: &Value) -> (u16, Value) {
        let response = reqwest::Client::new()
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn wait_healthy(&self) {
        self.wait_health_status(200, Duration::from_secs(60)).await;
    }

    /// Waits until `/health` answers `status`.
    pub async fn wait_health_status(&self, status: u16, timeout: Duration) {
        let what = format!(
            "{} /health to answer {status} (log: {})",
            self.url(""),
            self.log.display()
        );
        wait_for(timeout, &what, || async {
            (self.get("/health").await.0 == status).then_some(())
        })
        .await;
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Sends a signal (SIGKILL, SIGTERM, SIGSTOP, SIGCONT) through `kill`.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .expect("kill");
        assert!(status.success(), "kill -{signal} {}", self.pid());
    }

    /// SIGTERM, then waits for the exit status.
    pub async fn terminate(mut self) -> std::process::ExitStatus {
        self.signal("TERM");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "process did not exit after SIGTERM"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILL and reap.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a project script (e.g. `scripts/pg.sh stop`) and asserts it succeeded.
pub fn script(path: &str, args: &[&str]) -> String {
    let output = Command::new("bash")
        .arg(root().join(path))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{path} {args:?} failed:\n{text}");
    text
}

/// Produces one raw record (any bytes, optional key, optional explicit partition) and waits
/// for its ack; returns (partition, offset).
pub async fn produce_raw(
    topic: &str,
    partition: Option<i32>,
    key: Option<&[u8]>,
    value: &[u8],
) -> (i32, i64) {
    use rdkafka::producer::{FutureProducer, FutureRecord};
    let producer: FutureProducer = kafka_client_config()
        .set("enable.idempotence", "true")
        .create()
        .expect("raw producer");
    let mut record = FutureRecord::<[u8], [u8]>::to(topic).payload(value);
    if let Some(key) = key {
        record = record.key(key);
    }
    if let Some(partition) = partition {
        record = record.partition(partition);
    }
    let delivery = producer
        .send(record, Duration::from_secs(10))
        .await
        .map_err(|(e, _)| e)
        .expect("raw produce");
    (delivery.partition, delivery.offset)
}

/// Runs `scripts/kafka-tool.sh` with `args` and returns its output (asserting success).
pub fn kafka_tool(args: &[&str]) -> String {
    script("scripts/kafka-tool.sh", args)
}

/// An HTTP answer as the API tests inspect it: status, headers and the raw body.
#[derive(Debug)]
pub struct HttpReply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl HttpReply {
    /// The body as JSON; panics (showing the body) when it is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "status {} body is not JSON ({e}): {:?}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// A header as text, if present and visible ASCII.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends any request (any method, headers, raw body) and returns the whole answer. A transport
/// failure (connection refused or reset) is status 0 with the error text as body.
pub async fn http(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<Vec<u8>>,
) -> HttpReply {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    let client = CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("http client")
    });
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a valid method token");
    let mut request = client.request(method, url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request.body(body);
    }
    match request.send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let body = response
                .bytes()
                .await
                .map(|b| b.to_vec())
                .unwrap_or_default();
            HttpReply {
                status,
                headers,
                body,
            }
        }
        Err(error) => HttpReply {
            status: 0,
            headers: reqwest::header::HeaderMap::new(),
            body: format!("{error:?}").into_bytes(),
        },
    }
}

/// POSTs `body` as `application/json` to the API's `/publish`.
pub async fn publish(api: &Service, body: &Value) -> HttpReply {
    http(
        "POST",
        &api.url("/publish"),
        &[("content-type", "application/json")],
        Some(serde_json::to_vec(body).expect("serializable")),
    )
    .await
}

/// A valid event as JSON, with a fixed timestamp and a small payload.
pub fn event_json(topic: &str, event_id: &str) -> Value {
    json!({"topic": topic, "event_id": event_id, "timestamp": "2026-11-25T12:00:00Z",
           "source": "e2e", "payload": {"id": event_id}})
}

/// Publishes every send of `plan` through the test's idempotent producer in the background,
/// `chunk` events at a time with `pause` between chunks: a paced load for tests that disturb
/// the consumers while it flows.
pub fn spawn_paced_sender(
    env: &TestEnv,
    plan: &logagg_producer::generator::LoadPlan,
    chunk: usize,
    pause: Duration,
) -> tokio::task::JoinHandle<()> {
    let (plan, producer) = (plan.clone(), env.producer());
    tokio::spawn(async move {
        let events: Vec<_> = (0..plan.sends.len()).map(|k| plan.send(k)).collect();
        for chunk in events.chunks(chunk.max(1)) {
            producer.publish(chunk).await.expect("publish");
            tokio::time::sleep(pause).await;
        }
    })
}

/// Waits until every send of `plan` was received, then checks the golden calculation exactly:
/// received = sent, unique = distinct = rows, duplicates = duplicate sends, invalid = 0.
pub async fn assert_golden(
    env: &TestEnv,
    plan: &logagg_producer::generator::LoadPlan,
    timeout: Duration,
) {
    let sent = plan.sends.len() as i64;
    let counts = env
        .wait_counts(timeout, &format!("{sent} records received"), |c| {
            c.received >= sent
        })
        .await;
    assert_eq!(counts.received, sent, "{counts:?}");
    assert_eq!(counts.unique_processed, plan.distinct as i64, "{counts:?}");
    assert_eq!(
        counts.duplicate_dropped, plan.duplicates as i64,
        "{counts:?}"
    );
    assert_eq!(counts.invalid, 0, "{counts:?}");
    assert_eq!(env.rows().await, plan.distinct as i64);
}
