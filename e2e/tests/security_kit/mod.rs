//! Shared by the security_*.rs tests: where the secured Kafka listeners and the TLS-only
//! PostgreSQL role of `make up` are (scripts/kafka.sh, scripts/pg.sh; certificates and
//! passwords generated at run time in .local/certs by scripts/certs.sh), and the environment
//! that points logagg's binaries at them.

#![allow(dead_code)] // each test file uses part of the kit

use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use logagg_testkit::{root, Service, TestEnv};

/// The run-time TLS material and passwords.
pub fn certs() -> PathBuf {
    root().join(".local").join("certs")
}

pub fn cert(name: &str) -> String {
    let path = certs().join(name);
    assert!(
        path.exists(),
        "{} is missing: `make up` (scripts/certs.sh) creates it",
        path.display()
    );
    path.display().to_string()
}

/// A password file of .local/certs, without its newline.
pub fn password(name: &str) -> String {
    std::fs::read_to_string(cert(name))
        .expect("password file")
        .trim_end()
        .to_owned()
}

fn port(variable: &str, default: u16) -> u16 {
    std::env::var(variable)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The SASL_SSL listener, by the name its certificate carries.
pub fn sasl_ssl_brokers() -> String {
    format!("localhost:{}", port("LOGAGG_KAFKA_SASL_SSL_PORT", 9094))
}

/// The SSL listener that requires a client certificate.
pub fn mtls_brokers() -> String {
    format!("localhost:{}", port("LOGAGG_KAFKA_MTLS_PORT", 9095))
}

pub fn pg_port() -> u16 {
    port("LOGAGG_PG_PORT", 5432)
}

pub type Vars = Vec<(&'static str, String)>;

/// Kafka through SASL_SSL with SCRAM-SHA-512, the password from a file.
pub fn sasl_ssl_vars() -> Vars {
    vec![
        ("LOGAGG_KAFKA_BROKERS", sasl_ssl_brokers()),
        ("LOGAGG_KAFKA_SECURITY_PROTOCOL", "SASL_SSL".into()),
        ("LOGAGG_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512".into()),
        ("LOGAGG_KAFKA_SASL_USERNAME", "logagg".into()),
        (
            "LOGAGG_KAFKA_SASL_PASSWORD_FILE",
            cert("kafka-scram-password"),
        ),
        ("LOGAGG_KAFKA_SSL_CA_FILE", cert("ca.pem")),
    ]
}

/// Kafka through SSL with a client certificate (mutual TLS).
pub fn mtls_vars() -> Vars {
    vec![
        ("LOGAGG_KAFKA_BROKERS", mtls_brokers()),
        ("LOGAGG_KAFKA_SECURITY_PROTOCOL", "SSL".into()),
        ("LOGAGG_KAFKA_SSL_CA_FILE", cert("ca.pem")),
        ("LOGAGG_KAFKA_SSL_CERT_FILE", cert("client.pem")),
        ("LOGAGG_KAFKA_SSL_KEY_FILE", cert("client.key")),
    ]
}

/// The TLS-only role's URL for `database`, verify-full against the local CA, by the host
/// name `host` (the certificate names only localhost).
pub fn tls_database_url(database: &str, host: &str, sslmode: &str, root_cert: &str) -> String {
    format!(
        "postgres://logagg_tls:{}@{host}:{}/{database}?sslmode={sslmode}&sslrootcert={}",
        password("pg-tls-password"),
        pg_port(),
        cert(root_cert)
    )
}

/// The test database's name (the last path segment of its URL).
pub fn database_name(env: &TestEnv) -> String {
    env.database.clone()
}

/// Lets the TLS-only role use `env`'s database (created and migrated by the plain role),
/// and returns the URL the services get: TLS, verify-full.
pub async fn grant_tls_role(env: &TestEnv) -> String {
    for grant in [
        "GRANT ALL ON SCHEMA public TO logagg_tls",
        "GRANT ALL ON ALL TABLES IN SCHEMA public TO logagg_tls",
        "GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO logagg_tls",
    ] {
        env.execute(grant).await;
    }
    tls_database_url(&database_name(env), "localhost", "verify-full", "ca.pem")
}

/// Connections of the TLS-only role to `env`'s database, and how many of them use TLS (asked
/// as that role: PostgreSQL shows a session's TLS state only to its own role).
pub async fn tls_role_connections(env: &TestEnv) -> (i64, i64) {
    use diesel::sql_types::BigInt;
    use diesel_async::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = BigInt)]
        total: i64,
        #[diesel(sql_type = BigInt)]
        encrypted: i64,
    }
    let url = tls_database_url(&database_name(env), "localhost", "verify-full", "ca.pem");
    let mut conn = logagg_core::db::establish(&url)
        .await
        .expect("a TLS connection as logagg_tls");
    let row: Row = diesel::sql_query(format!(
        "SELECT count(*) AS total, count(*) FILTER (WHERE s.ssl) AS encrypted \
         FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) \
         WHERE a.usename = 'logagg_tls' AND a.datname = '{}'",
        database_name(env)
    ))
    .get_result(&mut conn)
    .await
    .expect("pg_stat_ssl");
    (row.total, row.encrypted)
}

/// Spawns `binary` with `env`'s variables plus `extra`, without waiting for health.
pub fn spawn(
    env: &TestEnv,
    binary: &str,
    label: &str,
    extra: &[(&'static str, String)],
) -> Service {
    let addr = if binary == "logagg-api" {
        "LOGAGG_API_ADDR"
    } else {
        "LOGAGG_CONSUMER_ADDR"
    };
    let extra: Vec<(String, String)> = extra
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    env.spawn(binary, addr, label, &extra)
        .unwrap_or_else(|e| panic!("spawn {binary}: {e:#}"))
}

/// Waits (bounded) for the process to exit by itself; its exit status and log.
pub async fn wait_exit(service: &mut Service, within: Duration) -> (ExitStatus, String) {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = service.child.try_wait().expect("try_wait") {
            let log = std::fs::read_to_string(&service.log).unwrap_or_default();
            return (status, log);
        }
        assert!(
            Instant::now() < deadline,
            "{} still running after {within:?}: it should have stopped (log {})",
            service.url(""),
            service.log.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Events published by [`publish_and_store`]: distinct ones, then some of them again.
const DISTINCT: usize = 30;
const REPEATED: usize = 10;

/// The API publishes and a consumer stores with the Kafka settings `kafka` and PostgreSQL
/// reached as the TLS-only role in verify-full: every event stored once, counters exact,
/// every connection of the services to PostgreSQL encrypted.
pub async fn publish_and_store(prefix: &str, kafka: Vars) {
    let env = TestEnv::new(prefix, 3).await;
    let mut extra = kafka;
    extra.push(("DATABASE_URL", grant_tls_role(&env).await));
    let api = env.spawn_api_with(&extra).await;
    let _consumer = env.spawn_consumer_with("c1", &extra).await;

    let events: Vec<_> = (0..DISTINCT)
        .map(|i| logagg_testkit::event_json("secured", &format!("e-{i}")))
        .collect();
    for chunk in events.chunks(10).chain([&events[..REPEATED]]) {
        let reply = api.publish(&serde_json::json!({ "events": chunk })).await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        assert_eq!(reply.json()["accepted"], chunk.len());
    }
    let sent = (DISTINCT + REPEATED) as i64;
    let counts = env
        .wait_counts(Duration::from_secs(60), "every record stored", |c| {
            c.received >= sent
        })
        .await;
    assert_eq!(counts.received, sent, "{counts:?}");
    assert_eq!(counts.unique_processed, DISTINCT as i64, "{counts:?}");
    assert_eq!(counts.duplicate_dropped, REPEATED as i64, "{counts:?}");
    assert_eq!(counts.invalid, 0, "{counts:?}");
    assert_eq!(env.rows().await, DISTINCT as i64);

    let (status, stats) = api.get("/stats").await;
    assert_eq!(status, 200, "{stats}");
    assert_eq!(stats["unique_processed"], DISTINCT, "{stats}");
    let (total, encrypted) = tls_role_connections(&env).await;
    // This check's own connection and at least one of each service.
    assert!(
        total >= 3,
        "the services hold connections as logagg_tls: {total}"
    );
    assert_eq!(encrypted, total, "every connection of logagg_tls is TLS");
}

/// A PLAINTEXT client gets no metadata from a secured listener: the check names the
/// protocol mismatch.
pub fn assert_plaintext_refused(brokers: String) {
    let config = logagg_core::config::KafkaConfig {
        brokers: brokers.clone(),
        topic: "events".into(),
        group: "none".into(),
        security: Default::default(),
    };
    let outcome = logagg_core::broker_access::check(&config, Duration::from_secs(10));
    let error =
        outcome.expect_err("a PLAINTEXT client must not get metadata from a secured listener");
    assert!(error.contains("security.protocol"), "{brokers}: {error}");
}
