//! Typed configuration from the environment: every `LOGAGG_*` variable (and `DATABASE_URL`)
//! is declared once in [`VARIABLES`] with its default and meaning, and parsed into the structs
//! below. docs/CONFIGURATION.md is checked against [`VARIABLES`] by a test.

use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

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
    "DATABASE_URL" = "postgres://logagg:logagg@127.0.0.1:5432/logagg": "PostgreSQL connection URL.",
    "LOGAGG_DB_POOL_SIZE" = "8": "Connections in each process's PostgreSQL pool.",
    "LOGAGG_API_ADDR" = "127.0.0.1:8080": "Listen address of the HTTP API.",
    "LOGAGG_API_TOKEN" = "": "When set, POST /publish requires `Authorization: Bearer <token>`.",
    "LOGAGG_PUBLISH_TIMEOUT_MS" = "5000": "How long POST /publish waits for the broker's acks before answering 503.",
    "LOGAGG_MAX_BATCH_EVENTS" = "1000": "Most events accepted by one POST /publish.",
    "LOGAGG_MAX_BODY_BYTES" = "4194304": "Largest POST /publish body, in bytes (413 above it).",
    "LOGAGG_STREAM_MAX" = "64": "Most concurrent GET /events/stream clients per API process (503 beyond).",
    "LOGAGG_STREAM_HEARTBEAT_MS" = "15000": "Interval of the comment lines that keep an idle GET /events/stream open through proxies.",
    "LOGAGG_PRODUCER_LINGER_MS" = "1": "librdkafka linger.ms of the producer: how long it waits to fill a batch (each single-event publish waits this long).",
    "LOGAGG_PRODUCER_COMPRESSION" = "lz4": "Producer compression codec (none, gzip, snappy, lz4, zstd).",
    "LOGAGG_CONSUMER_ADDR" = "127.0.0.1:8081": "Listen address of the consumer's /healthz, /health and /metrics.",
    "LOGAGG_CONSUMER_BATCH_RECORDS" = "5000": "Most records the consumer writes in one PostgreSQL transaction.",
    "LOGAGG_CONSUMER_BATCH_WAIT_MS" = "50": "Longest the consumer waits to fill a batch before writing it.",
    "LOGAGG_CONSUMER_SESSION_TIMEOUT_MS" = "10000": "Kafka session.timeout.ms of the consumer: how long a silent member keeps its partitions.",
    "LOGAGG_DB_RETRY_MAX_MS" = "10000": "Cap of the consumer's exponential backoff while PostgreSQL fails.",
    "LOGAGG_LOG_JSON" = "false": "Log as JSON lines instead of human-readable text (RUST_LOG sets the filter).",
}

/// A variable was set to something that does not parse.
#[derive(Debug, thiserror::Error)]
#[error("environment variable {name}={value:?} is invalid: {reason}")]
pub struct ConfigError {
    pub name: &'static str,
    pub value: String,
    pub reason: String,
}

fn lookup(name: &'static str) -> (String, bool) {
    let declared = VARIABLES
        .iter()
        .find(|v| v.name == name)
        .unwrap_or_else(|| panic!("{name} is not declared in VARIABLES"));
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => (value.trim().to_owned(), true),
        _ => (declared.default.to_owned(), false),
    }
}

fn parse<T: FromStr>(name: &'static str) -> Result<T, ConfigError>
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

fn millis(name: &'static str) -> Result<Duration, ConfigError> {
    parse::<u64>(name).map(Duration::from_millis)
}

fn optional(name: &'static str) -> Option<String> {
    let (value, _) = lookup(name);
    (!value.is_empty()).then_some(value)
}

/// Where the Kafka API broker is and which topic and group logagg uses.
#[derive(Debug, Clone)]
pub struct KafkaConfig {
    pub brokers: String,
    pub topic: String,
    pub group: String,
}

impl KafkaConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            brokers: parse("LOGAGG_KAFKA_BROKERS")?,
            topic: parse("LOGAGG_KAFKA_TOPIC")?,
            group: parse("LOGAGG_KAFKA_GROUP")?,
        })
    }
}

/// PostgreSQL connection settings.
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    pub url: String,
    pub pool_size: usize,
}

impl DatabaseConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            url: parse("DATABASE_URL")?,
            pool_size: parse("LOGAGG_DB_POOL_SIZE")?,
        })
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
            compression: parse("LOGAGG_PRODUCER_COMPRESSION")?,
            delivery_timeout: millis("LOGAGG_PUBLISH_TIMEOUT_MS")?,
        })
    }
}

/// The HTTP API's settings.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    pub addr: SocketAddr,
    pub token: Option<String>,
    pub publish_timeout: Duration,
    pub max_batch_events: usize,
    pub max_body_bytes: u64,
    pub max_streams: usize,
    pub stream_heartbeat: Duration,
}

impl ApiConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            addr: parse("LOGAGG_API_ADDR")?,
            token: optional("LOGAGG_API_TOKEN"),
            publish_timeout: millis("LOGAGG_PUBLISH_TIMEOUT_MS")?,
            max_batch_events: parse("LOGAGG_MAX_BATCH_EVENTS")?,
            max_body_bytes: parse("LOGAGG_MAX_BODY_BYTES")?,
            max_streams: parse("LOGAGG_STREAM_MAX")?,
            stream_heartbeat: millis("LOGAGG_STREAM_HEARTBEAT_MS")?,
        })
    }
}

/// The consumer's settings.
#[derive(Debug, Clone)]
pub struct ConsumerConfig {
    pub addr: SocketAddr,
    pub batch_records: usize,
    pub batch_wait: Duration,
    pub session_timeout: Duration,
    pub retry_max: Duration,
}

impl ConsumerConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            addr: parse("LOGAGG_CONSUMER_ADDR")?,
            batch_records: parse("LOGAGG_CONSUMER_BATCH_RECORDS")?,
            batch_wait: millis("LOGAGG_CONSUMER_BATCH_WAIT_MS")?,
            session_timeout: millis("LOGAGG_CONSUMER_SESSION_TIMEOUT_MS")?,
            retry_max: millis("LOGAGG_DB_RETRY_MAX_MS")?,
        })
    }
}

/// Whether logs are JSON lines.
pub fn log_json() -> Result<bool, ConfigError> {
    parse("LOGAGG_LOG_JSON")
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
    fn every_name_is_unique_and_prefixed() {
        let mut names: Vec<_> = VARIABLES.iter().map(|v| v.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), VARIABLES.len());
        assert!(names
            .iter()
            .all(|n| n.starts_with("LOGAGG_") || *n == "DATABASE_URL"));
    }
}
