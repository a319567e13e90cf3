//! Typed configuration from the environment: every `LOGAGG_*` variable (and `DATABASE_URL`)
//! is declared once in [`VARIABLES`] with its default and meaning, and parsed into the structs
//! below. docs/CONFIGURATION.md is checked against [`VARIABLES`] by a test.
//!
//! A `.env` file (in the working directory or a parent) is read before the first variable:
//! what the real environment sets wins over it. Booleans accept `true/false/1/0/yes/no/on/off`;
//! enumerated values are checked against their list; anything else is refused at start with an
//! error naming the variable and what it accepts.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

pub use crate::kafka_security::KafkaSecurity;
use crate::secret::{read_secret_file, redact_url, Secret};

/// One documented environment variable.
#[derive(Debug, Clone, Copy)]
pub struct Variable {
    pub name: &'static str,
    pub default: &'static str,
    pub meaning: &'static str,
}

macro_rules! variables {
    ($($name:literal = $default:literal : $meaning:literal,)*) => {
        /// Every environment variable logagg reads, with its default and meaning.
        pub const VARIABLES: &[Variable] = &[
            $(Variable { name: $name, default: $default, meaning: $meaning },)*
        ];
    };
}

variables! {
    "LOGAGG_KAFKA_BROKERS" = "127.0.0.1:9092": "Kafka API bootstrap servers (Redpanda or Apache Kafka), comma-separated.",
    "LOGAGG_KAFKA_TOPIC" = "events": "Kafka topic holding the event records (key = event topic, value = event JSON).",
    "LOGAGG_KAFKA_GROUP" = "logagg": "Consumer group of the consumers; also the key of the progress rows in PostgreSQL.",
    "LOGAGG_KAFKA_SECURITY_PROTOCOL" = "PLAINTEXT": "How every Kafka client connects: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL.",
    "LOGAGG_KAFKA_SASL_MECHANISM" = "": "SASL mechanism (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512); required with SASL_*.",
    "LOGAGG_KAFKA_SASL_USERNAME" = "": "SASL user name; required with SASL_*.",
    "LOGAGG_KAFKA_SASL_PASSWORD" = "": "SASL password; required with SASL_* (or LOGAGG_KAFKA_SASL_PASSWORD_FILE).",
    "LOGAGG_KAFKA_SASL_PASSWORD_FILE" = "": "File holding the SASL password (Docker secrets).",
    "LOGAGG_KAFKA_SSL_CA_FILE" = "": "PEM file of the CA(s) that signed the brokers' certificates (SSL, SASL_SSL); unset = the system's trust store.",
    "LOGAGG_KAFKA_SSL_CERT_FILE" = "": "PEM client certificate for mutual TLS (with LOGAGG_KAFKA_SSL_KEY_FILE).",
    "LOGAGG_KAFKA_SSL_KEY_FILE" = "": "PEM private key of the client certificate.",
    "LOGAGG_KAFKA_SSL_KEY_PASSWORD" = "": "Passphrase of an encrypted client key.",
    "LOGAGG_KAFKA_SSL_KEY_PASSWORD_FILE" = "": "File holding the client key's passphrase.",
    "LOGAGG_KAFKA_SSL_VERIFY_HOSTNAME" = "true": "Check that each broker's certificate names the host connected to (librdkafka ssl.endpoint.identification.algorithm=https).",
    "DATABASE_URL" = "postgres://logagg:logagg@127.0.0.1:5432/logagg": "PostgreSQL connection URL; TLS per `sslmode` (disable, prefer, require, verify-ca, verify-full) with `sslrootcert`, `sslcert`, `sslkey`.",
    "DATABASE_URL_FILE" = "": "File holding DATABASE_URL (it carries the password).",
    "LOGAGG_DB_POOL_SIZE" = "8": "Connections in each process's PostgreSQL pool.",
    "LOGAGG_DATABASE_READ_URL" = "": "The API's event reads (list, search, tail, export, topics) go to this PostgreSQL (a streaming standby); unset = DATABASE_URL. /stats and writes always use DATABASE_URL.",
    "LOGAGG_DATABASE_READ_URL_FILE" = "": "File holding LOGAGG_DATABASE_READ_URL.",
    "LOGAGG_API_ADDR" = "127.0.0.1:8080": "Listen address of the HTTP API.",
    "LOGAGG_API_TOKEN" = "": "A bearer token with every scope (publish, read, admin); see LOGAGG_API_TOKENS_FILE for named, scoped tokens.",
    "LOGAGG_API_TOKEN_FILE" = "": "File holding LOGAGG_API_TOKEN.",
    "LOGAGG_API_TOKENS_FILE" = "": "File of named API tokens with scopes and publish rates (format in docs/SECURITY.md), re-read on SIGHUP.",
    "LOGAGG_PUBLISH_TIMEOUT_MS" = "5000": "How long POST /publish waits for the broker's acks before answering 503; for `logagg-producer`, how long each record or request waits for its ack (30000 when unset).",
    "LOGAGG_MAX_BATCH_EVENTS" = "1000": "Most events accepted by one POST /publish.",
    "LOGAGG_MAX_BODY_BYTES" = "4194304": "Largest POST /publish body, in bytes (413 above it).",
    "LOGAGG_API_MAX_INFLIGHT_PUBLISH_BYTES" = "33554432": "Body bytes of POST /publish requests one API process works on at once (503 with Retry-After beyond): bounds its memory under a flood.",
    "LOGAGG_STREAM_MAX" = "64": "Most concurrent GET /events/stream clients per API process (503 beyond).",
    "LOGAGG_STREAM_HEARTBEAT_MS" = "15000": "Interval of the comment lines that keep an idle GET /events/stream open through proxies.",
    "LOGAGG_PRODUCER_LINGER_MS" = "1": "librdkafka linger.ms of the producer: how long it waits to fill a batch (each single-event publish waits this long).",
    "LOGAGG_PRODUCER_COMPRESSION" = "lz4": "Producer compression codec: none, gzip, snappy, lz4 or zstd.",
    "LOGAGG_CONSUMER_ADDR" = "127.0.0.1:8081": "Listen address of the consumer's /healthz, /health and /metrics.",
    "LOGAGG_CONSUMER_BATCH_RECORDS" = "5000": "Most records the consumer writes in one PostgreSQL transaction.",
    "LOGAGG_CONSUMER_WRITERS" = "2": "PostgreSQL transactions one consumer writes at once, each with its own share of the batch's partitions (1: one at a time). Needs LOGAGG_DB_POOL_SIZE above it.",
    "LOGAGG_CONSUMER_BATCH_WAIT_MS" = "50": "Longest the consumer waits to fill a batch before writing it, counted from the batch's first record.",
    "LOGAGG_CONSUMER_SESSION_TIMEOUT_MS" = "10000": "Kafka session.timeout.ms of the consumer: how long a silent member keeps its partitions.",
    "LOGAGG_RETENTION_ENFORCE" = "true": "Whether this consumer takes part in retention: the one consumer holding the PostgreSQL advisory lock removes expired rows (true/false).",
    "LOGAGG_RETENTION_INTERVAL_MS" = "10000": "Pause between two retention runs of the enforcing consumer (and between its attempts to become the enforcer).",
    "LOGAGG_RETENTION_STEP_ROWS" = "5000": "Most rows one retention or admin-delete transaction removes (each step commits on its own, so no batch waits long).",
    "LOGAGG_RETENTION_RUN_STEPS" = "200": "Most steps of one retention run; what is left waits for the next run and shows as lag.",
    "LOGAGG_RETENTION_REINDEX_INTERVAL_MS" = "86400000": "How often the enforcing consumer rebuilds the payload index online (REINDEX CONCURRENTLY) while retention removes rows; GIN keeps the keys of removed rows (0: never).",
    "LOGAGG_DB_RETRY_MAX_MS" = "10000": "Cap of the consumer's exponential backoff while PostgreSQL fails.",
    "LOGAGG_LOG_JSON" = "false": "Log as JSON lines instead of human-readable text (true/false, 1/0, yes/no, on/off; RUST_LOG sets the filter).",
}

/// A variable was set to something that does not parse.
#[derive(Debug, thiserror::Error)]
#[error("environment variable {name}={value:?} is invalid: {reason}")]
pub struct ConfigError {
    pub name: &'static str,
    pub value: String,
    pub reason: String,
}

/// The accepted spellings of a boolean variable.
pub const BOOLEAN_VALUES: &[&str] = &["true", "false", "1", "0", "yes", "no", "on", "off"];
/// The producer compression codecs librdkafka offers.
pub const COMPRESSION_VALUES: &[&str] = &["none", "gzip", "snappy", "lz4", "zstd"];

/// Reads `.env` once (the real environment wins). A missing file is fine; an unreadable one
/// is reported on stderr, since logging is not set up yet when configuration is first read.
fn load_dotenv() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| match dotenvy::dotenv() {
        Ok(_) => {}
        Err(error) if error.not_found() => {}
        Err(error) => eprintln!("ignoring .env: {error}"),
    });
}

pub(crate) fn lookup(name: &'static str) -> (String, bool) {
    load_dotenv();
    let declared = VARIABLES
        .iter()
        .find(|v| v.name == name)
        .unwrap_or_else(|| panic!("{name} is not declared in VARIABLES"));
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => (value.trim().to_owned(), true),
        _ => (declared.default.to_owned(), false),
    }
}

pub(crate) fn parse<T: FromStr>(name: &'static str) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    let (value, _) = lookup(name);
    value.parse().map_err(|e: T::Err| ConfigError {
        name,
        reason: e.to_string(),
        value,
    })
}

/// A boolean in any of [`BOOLEAN_VALUES`] (case-insensitive).
pub fn parse_bool(name: &'static str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(not_one_of(name, value, BOOLEAN_VALUES)),
    }
}

/// `value` if it is one of `accepted` (case-insensitive), lowercased.
pub fn parse_one_of(
    name: &'static str,
    value: &str,
    accepted: &[&str],
) -> Result<String, ConfigError> {
    let lower = value.trim().to_ascii_lowercase();
    if accepted.contains(&lower.as_str()) {
        Ok(lower)
    } else {
        Err(not_one_of(name, value, accepted))
    }
}

fn not_one_of(name: &'static str, value: &str, accepted: &[&str]) -> ConfigError {
    ConfigError {
        name,
        value: value.to_owned(),
        reason: format!("expected one of {}", accepted.join(", ")),
    }
}

/// The boolean variable `name`.
pub fn flag(name: &'static str) -> Result<bool, ConfigError> {
    parse_bool(name, &lookup(name).0)
}

/// The enumerated variable `name`, checked against `accepted`.
pub fn one_of(name: &'static str, accepted: &[&str]) -> Result<String, ConfigError> {
    parse_one_of(name, &lookup(name).0, accepted)
}

fn millis(name: &'static str) -> Result<Duration, ConfigError> {
    parse::<u64>(name).map(Duration::from_millis)
}

pub(crate) fn optional(name: &'static str) -> Option<String> {
    let (value, _) = lookup(name);
    (!value.is_empty()).then_some(value)
}

/// A secret from `name`, or from the file named by `file_name` (the `*_FILE` convention);
/// setting both is an error. The error never carries the secret itself.
pub(crate) fn secret(
    name: &'static str,
    file_name: &'static str,
) -> Result<Option<Secret>, ConfigError> {
    let direct = optional(name);
    match (direct, optional(file_name)) {
        (Some(_), Some(path)) => Err(ConfigError {
            name: file_name,
            value: path,
            reason: format!("set {name} or {file_name}, not both"),
        }),
        (Some(value), None) => Ok(Some(Secret::new(value))),
        (None, Some(path)) => read_secret_file(Path::new(&path))
            .map(Some)
            .map_err(|reason| ConfigError {
                name: file_name,
                value: path,
                reason,
            }),
        (None, None) => Ok(None),
    }
}

/// Where the Kafka API broker is and which topic and group logagg uses.
#[derive(Debug, Clone)]
pub struct KafkaConfig {
    pub brokers: String,
    pub topic: String,
    pub group: String,
    /// TLS, SASL and pass-through properties, applied to every Kafka client.
    pub security: KafkaSecurity,
}

impl KafkaConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            brokers: parse("LOGAGG_KAFKA_BROKERS")?,
            topic: parse("LOGAGG_KAFKA_TOPIC")?,
            group: parse("LOGAGG_KAFKA_GROUP")?,
            security: KafkaSecurity::from_env()?,
        })
    }
}

/// PostgreSQL connection settings. `Debug` shows the URL without its password.
#[derive(Clone)]
pub struct DatabaseConfig {
    pub url: String,
    pub pool_size: usize,
}

impl std::fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseConfig")
            .field("url", &redact_url(&self.url))
            .field("pool_size", &self.pool_size)
            .finish()
    }
}

/// `host:port/database` of a PostgreSQL URL, without user or password: what a failure message
/// names (the password never appears in logs or errors).
pub fn database_address(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    let (host_port, database) = rest.split_once('/').unwrap_or((rest, ""));
    let database = database.split('?').next().unwrap_or_default();
    let host_port = if host_port.is_empty() {
        "localhost:5432".to_owned()
    } else if host_port
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        host_port.to_owned()
    } else {
        format!("{host_port}:5432")
    };
    format!("{host_port}/{database}")
}

impl DatabaseConfig {
    /// `host:port/database` of the URL, without user or password: what a failure message
    /// names (the password never appears in logs or errors).
    pub fn address(&self) -> String {
        database_address(&self.url)
    }

    pub fn from_env() -> Result<Self, ConfigError> {
        let url = match secret("DATABASE_URL", "DATABASE_URL_FILE")? {
            Some(url) => url.expose().to_owned(),
            None => lookup("DATABASE_URL").0,
        };
        Ok(Self {
            url,
            pool_size: parse("LOGAGG_DB_POOL_SIZE")?,
        })
    }

    /// The URL as it may be logged: without its password.
    pub fn redacted_url(&self) -> String {
        redact_url(&self.url)
    }
}

/// Producer tuning shared by the API and the producer CLI.
#[derive(Debug, Clone)]
pub struct ProducerConfig {
    pub linger: Duration,
    pub compression: String,
    /// librdkafka's message.timeout.ms: how long a record may wait for its ack.
    pub delivery_timeout: Duration,
}

impl ProducerConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            linger: millis("LOGAGG_PRODUCER_LINGER_MS")?,
            compression: one_of("LOGAGG_PRODUCER_COMPRESSION", COMPRESSION_VALUES)?,
            delivery_timeout: millis("LOGAGG_PUBLISH_TIMEOUT_MS")?,
        })
    }
}

/// The HTTP API's settings.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    pub addr: SocketAddr,
    /// `LOGAGG_API_TOKEN`: a token with every scope.
    pub token: Option<Secret>,
    /// `LOGAGG_API_TOKENS_FILE`: named, scoped tokens.
    pub tokens_file: Option<PathBuf>,
    pub publish_timeout: Duration,
    pub max_batch_events: usize,
    pub max_body_bytes: u64,
    /// `LOGAGG_DATABASE_READ_URL`: where event reads go (a standby); `None` = the primary.
    pub database_read_url: Option<Secret>,
    /// `LOGAGG_API_MAX_INFLIGHT_PUBLISH_BYTES`: the cap on in-flight publish work.
    pub max_inflight_publish_bytes: u64,
    pub max_streams: usize,
    pub stream_heartbeat: Duration,
    /// Rows per transaction of an admin delete.
    pub retention_step_rows: i64,
}

impl ApiConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            addr: parse("LOGAGG_API_ADDR")?,
            token: secret("LOGAGG_API_TOKEN", "LOGAGG_API_TOKEN_FILE")?,
            tokens_file: optional("LOGAGG_API_TOKENS_FILE").map(PathBuf::from),
            publish_timeout: millis("LOGAGG_PUBLISH_TIMEOUT_MS")?,
            max_batch_events: parse("LOGAGG_MAX_BATCH_EVENTS")?,
            max_body_bytes: parse("LOGAGG_MAX_BODY_BYTES")?,
            max_inflight_publish_bytes: parse("LOGAGG_API_MAX_INFLIGHT_PUBLISH_BYTES")?,
            database_read_url: secret("LOGAGG_DATABASE_READ_URL", "LOGAGG_DATABASE_READ_URL_FILE")?,
            max_streams: parse("LOGAGG_STREAM_MAX")?,
            stream_heartbeat: millis("LOGAGG_STREAM_HEARTBEAT_MS")?,
            retention_step_rows: positive("LOGAGG_RETENTION_STEP_ROWS")?,
        })
    }
}

/// The consumer's settings.
#[derive(Debug, Clone)]
pub struct ConsumerConfig {
    pub addr: SocketAddr,
    pub batch_records: usize,
    /// Transactions written in parallel per batch, each with a disjoint set of partitions.
    pub writers: usize,
    pub batch_wait: Duration,
    pub session_timeout: Duration,
    pub retry_max: Duration,
    pub retention: RetentionConfig,
}

/// How the consumer enforces retention (docs/RETENTION.md).
#[derive(Debug, Clone)]
pub struct RetentionConfig {
    /// Whether this consumer competes for the enforcer's advisory lock.
    pub enforce: bool,
    pub interval: Duration,
    /// Rows per DELETE transaction.
    pub step_rows: i64,
    /// Steps per run.
    pub run_steps: u32,
    /// Least time between two online rebuilds of the indexes retention cannot shrink; zero:
    /// never.
    pub reindex_interval: Duration,
}

impl RetentionConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            enforce: flag("LOGAGG_RETENTION_ENFORCE")?,
            interval: millis("LOGAGG_RETENTION_INTERVAL_MS")?,
            step_rows: positive("LOGAGG_RETENTION_STEP_ROWS")?,
            run_steps: positive::<u32>("LOGAGG_RETENTION_RUN_STEPS")?,
            reindex_interval: millis("LOGAGG_RETENTION_REINDEX_INTERVAL_MS")?,
        })
    }
}

/// A number above zero.
fn positive<T: FromStr + PartialOrd + Default>(name: &'static str) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    let value: T = parse(name)?;
    if value > T::default() {
        Ok(value)
    } else {
        Err(ConfigError {
            name,
            value: lookup(name).0,
            reason: "must be above 0".into(),
        })
    }
}

impl ConsumerConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            addr: parse("LOGAGG_CONSUMER_ADDR")?,
            batch_records: parse("LOGAGG_CONSUMER_BATCH_RECORDS")?,
            writers: positive("LOGAGG_CONSUMER_WRITERS")?,
            batch_wait: millis("LOGAGG_CONSUMER_BATCH_WAIT_MS")?,
            session_timeout: millis("LOGAGG_CONSUMER_SESSION_TIMEOUT_MS")?,
            retry_max: millis("LOGAGG_DB_RETRY_MAX_MS")?,
            retention: RetentionConfig::from_env()?,
        })
    }
}

/// Whether logs are JSON lines.
pub fn log_json() -> Result<bool, ConfigError> {
    flag("LOGAGG_LOG_JSON")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse() {
        // Reads the real environment; CI sets none of these, and set ones must parse too.
        KafkaConfig::from_env().unwrap();
        DatabaseConfig::from_env().unwrap();
        ProducerConfig::from_env().unwrap();
        ApiConfig::from_env().unwrap();
        ConsumerConfig::from_env().unwrap();
        log_json().unwrap();
    }

    #[test]
    fn booleans_accept_the_usual_spellings_and_refuse_others_by_name() {
        for yes in ["true", "TRUE", "1", "yes", "Yes", "on", " true "] {
            assert!(parse_bool("LOGAGG_LOG_JSON", yes).unwrap(), "{yes}");
        }
        for no in ["false", "False", "0", "no", "off"] {
            assert!(!parse_bool("LOGAGG_LOG_JSON", no).unwrap(), "{no}");
        }
        let error = parse_bool("LOGAGG_LOG_JSON", "maybe")
            .unwrap_err()
            .to_string();
        assert!(error.contains("LOGAGG_LOG_JSON"), "{error}");
        assert!(error.contains("\"maybe\""), "{error}");
        assert!(error.contains("true, false, 1, 0, yes, no"), "{error}");
    }

    #[test]
    fn enumerated_values_are_checked_naming_the_variable_and_the_list() {
        assert_eq!(
            parse_one_of("LOGAGG_PRODUCER_COMPRESSION", "ZSTD", COMPRESSION_VALUES).unwrap(),
            "zstd"
        );
        let error = parse_one_of("LOGAGG_PRODUCER_COMPRESSION", "brotli", COMPRESSION_VALUES)
            .unwrap_err()
            .to_string();
        assert!(error.contains("LOGAGG_PRODUCER_COMPRESSION"), "{error}");
        assert!(error.contains("none, gzip, snappy, lz4, zstd"), "{error}");
    }

    #[test]
    fn defaults_of_checked_variables_are_accepted() {
        let default = |name: &str| VARIABLES.iter().find(|v| v.name == name).unwrap().default;
        parse_bool("LOGAGG_LOG_JSON", default("LOGAGG_LOG_JSON")).unwrap();
        parse_one_of(
            "LOGAGG_PRODUCER_COMPRESSION",
            default("LOGAGG_PRODUCER_COMPRESSION"),
            COMPRESSION_VALUES,
        )
        .unwrap();
    }

    #[test]
    fn database_address_names_host_port_and_database_never_the_password() {
        let address = |url: &str| {
            DatabaseConfig {
                url: url.into(),
                pool_size: 1,
            }
            .address()
        };
        assert_eq!(
            address("postgres://logagg:s3cret@db.example:6543/logagg?sslmode=require"),
            "db.example:6543/logagg"
        );
        assert_eq!(
            address("postgresql://u:p%40ss@10.0.0.1/x"),
            "10.0.0.1:5432/x"
        );
        assert!(!address("postgres://logagg:s3cret@h:1/d").contains("s3cret"));
        let config = DatabaseConfig {
            url: "postgres://logagg:s3cret@h:1/d".into(),
            pool_size: 1,
        };
        assert!(!format!("{config:?}").contains("s3cret"));
    }

    #[test]
    fn every_name_is_unique_and_prefixed() {
        let mut names: Vec<_> = VARIABLES.iter().map(|v| v.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), VARIABLES.len());
        assert!(names
            .iter()
            .all(|n| n.starts_with("LOGAGG_") || n.starts_with("DATABASE_URL")));
    }
}
