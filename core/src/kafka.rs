//! The one place that builds rdkafka client configurations, and the broker queries (metadata,
//! watermarks, reachability) the API, the consumer and the replay command share.
//!
//! Every Kafka client logagg creates starts from [`client_config`], so connection settings
//! (bootstrap servers, and security once configured) are written once; the specialisations
//! below add what a producer, a group consumer or the replay command needs on top.

use std::time::Duration;

use rdkafka::client::{Client, ClientContext};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::ClientConfig;

use crate::config::{ConsumerConfig, KafkaConfig, ProducerConfig};

/// How often librdkafka reports statistics to a group consumer (its lag gauge comes from them).
pub const STATISTICS_INTERVAL: Duration = Duration::from_secs(5);

/// What every client shares: where the brokers are and how to reach them (security protocol,
/// SASL, TLS and the `LOGAGG_KAFKA_PROPERTY_*` pass-through, from [`KafkaConfig::security`]).
pub fn client_config(kafka: &KafkaConfig) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", &kafka.brokers)
        // A typo in LOGAGG_KAFKA_TOPIC must not create a topic that nothing consumes (the
        // producer's metadata requests would, on a broker with auto.create.topics.enable):
        // a missing topic is reported instead (see `broker_reachable`).
        .set("allow.auto.create.topics", "false");
    kafka.security.apply(&mut config);
    config
}

/// The idempotent producer: idempotence on (acks=all), batching and compression from `tuning`,
/// and a delivery timeout after which an unacked record fails instead of waiting.
pub fn producer_config(kafka: &KafkaConfig, tuning: &ProducerConfig) -> ClientConfig {
    let mut config = client_config(kafka);
    config
        .set("enable.idempotence", "true")
        .set("acks", "all")
        // The Java clients' and rpk's key hash, so every client maps a topic to the same
        // partition (librdkafka's default, CRC32, would split a topic across two).
        .set("partitioner", "murmur2_random")
        .set("linger.ms", tuning.linger.as_millis().to_string())
        .set("compression.type", &tuning.compression)
        .set(
            "message.timeout.ms",
            tuning.delivery_timeout.as_millis().max(1).to_string(),
        )
        .set("queue.buffering.max.messages", "1000000")
        .set("queue.buffering.max.kbytes", "1048576")
        .set("batch.size", "1000000")
        .set("client.id", "logagg-producer");
    config
}

/// The consumer-group member: manual offset commits (only after the database commit),
/// cooperative-sticky assignment, earliest reset, and periodic statistics for the lag gauge.
pub fn group_consumer_config(kafka: &KafkaConfig, consumer: &ConsumerConfig) -> ClientConfig {
    let mut config = client_config(kafka);
    config
        .set("group.id", &kafka.group)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("partition.assignment.strategy", "cooperative-sticky")
        .set(
            "session.timeout.ms",
            consumer.session_timeout.as_millis().to_string(),
        )
        .set(
            "heartbeat.interval.ms",
            (consumer.session_timeout.as_millis() / 5)
                .max(100)
                .to_string(),
        )
        .set("max.poll.interval.ms", "300000")
        .set("fetch.wait.max.ms", "50")
        // 128 KiB per partition per fetch (librdkafka: 1 MiB) interleaves the partitions in
        // the local queue, so a batch drawn from a backlog holds several partitions and its
        // parallel shares (LOGAGG_CONSUMER_WRITERS) are balanced instead of one share taking
        // the whole batch (docs/PERFORMANCE.md).
        .set("max.partition.fetch.bytes", "131072")
        // librdkafka prefetches up to 64 MB by default; 16 MB keeps a backlog drain near
        // 130 MB of RSS at the same throughput (docs/PERFORMANCE.md).
        .set("queued.max.messages.kbytes", "16384")
        .set(
            "statistics.interval.ms",
            STATISTICS_INTERVAL.as_millis().to_string(),
        )
        .set("client.id", "logagg-consumer");
    config
}

/// A client of the group that never joins it: it reads the group's state and commits offsets
/// for it (the replay command).
pub fn group_admin_config(kafka: &KafkaConfig) -> ClientConfig {
    let mut config = client_config(kafka);
    config
        .set("group.id", &kafka.group)
        .set("enable.auto.commit", "false");
    config
}

/// The partition ids of `topic`, sorted; an error when the broker reports the topic missing.
/// Blocking: call it from `spawn_blocking` in async code.
pub fn partitions<C: ClientContext>(
    client: &Client<C>,
    topic: &str,
    timeout: Duration,
) -> Result<Vec<i32>, KafkaError> {
    let metadata = client.fetch_metadata(Some(topic), timeout)?;
    let mut ids = Vec::new();
    for t in metadata.topics() {
        if let Some(error) = t.error() {
            return Err(KafkaError::MetadataFetch(error.into()));
        }
        ids.extend(t.partitions().iter().map(|p| p.id()));
    }
    ids.sort_unstable();
    Ok(ids)
}

/// Per partition `(partition, low, high)` watermarks of `topic`, sorted by partition.
/// Blocking: call it from `spawn_blocking` in async code.
pub fn watermarks<C: ClientContext>(
    client: &Client<C>,
    topic: &str,
    timeout: Duration,
) -> Result<Vec<(i32, i64, i64)>, KafkaError> {
    partitions(client, topic, timeout)?
        .into_iter()
        .map(|p| {
            let (low, high) = client.fetch_watermarks(topic, p, timeout)?;
            Ok((p, low, high))
        })
        .collect()
}

/// Whether a broker answers a metadata request about `topic`, and the topic exists. Blocking.
/// [`explain`] turns the error into a message naming the brokers and the topic.
pub fn broker_reachable<C: ClientContext>(
    client: &Client<C>,
    topic: &str,
    timeout: Duration,
) -> Result<(), KafkaError> {
    partitions(client, topic, timeout).map(|_| ())
}

/// Whether `error` says the topic does not exist.
pub fn is_missing_topic(error: &KafkaError) -> bool {
    matches!(
        error.rdkafka_error_code(),
        Some(RDKafkaErrorCode::UnknownTopicOrPartition | RDKafkaErrorCode::UnknownTopic)
    )
}

/// One line naming what failed: the missing topic, or the brokers that do not answer and why.
pub fn explain(error: &KafkaError, brokers: &str, topic: &str) -> String {
    if is_missing_topic(error) {
        format!(
            "Kafka topic {topic:?} does not exist on {brokers} (logagg never creates it: create it, \
             or fix LOGAGG_KAFKA_TOPIC)"
        )
    } else {
        format!("Kafka at {brokers} (topic {topic:?}) unreachable: {error}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explanations_name_the_topic_or_the_brokers() {
        let missing = KafkaError::MetadataFetch(RDKafkaErrorCode::UnknownTopicOrPartition);
        let text = explain(&missing, "b1:9092", "evnets");
        assert!(
            text.contains("\"evnets\" does not exist on b1:9092"),
            "{text}"
        );
        let down = KafkaError::MetadataFetch(RDKafkaErrorCode::BrokerTransportFailure);
        let text = explain(&down, "b1:9092", "events");
        assert!(
            text.contains("Kafka at b1:9092") && text.contains("unreachable"),
            "{text}"
        );
    }

    fn kafka() -> KafkaConfig {
        KafkaConfig {
            brokers: "b1:9092,b2:9092".into(),
            topic: "events".into(),
            group: "g".into(),
            security: crate::kafka_security::KafkaSecurity {
                protocol: crate::kafka_security::Protocol::SaslSsl,
                sasl: Some(crate::kafka_security::Sasl {
                    mechanism: crate::kafka_security::Mechanism::ScramSha512,
                    username: "u".into(),
                    password: crate::secret::Secret::new("p"),
                }),
                ..Default::default()
            },
        }
    }

    #[test]
    fn every_specialisation_starts_from_the_shared_settings() {
        let producer = ProducerConfig {
            linger: Duration::from_millis(1),
            compression: "lz4".into(),
            delivery_timeout: Duration::from_secs(5),
        };
        let consumer = ConsumerConfig {
            addr: "127.0.0.1:0".parse().unwrap(),
            batch_records: 10,
            writers: 1,
            batch_wait: Duration::from_millis(5),
            session_timeout: Duration::from_secs(10),
            retry_max: Duration::from_secs(1),
            retention: crate::config::RetentionConfig::from_env().unwrap(),
        };
        for config in [
            client_config(&kafka()),
            producer_config(&kafka(), &producer),
            group_consumer_config(&kafka(), &consumer),
            group_admin_config(&kafka()),
        ] {
            assert_eq!(config.get("bootstrap.servers"), Some("b1:9092,b2:9092"));
            // Security is configured once and reaches every client.
            assert_eq!(config.get("security.protocol"), Some("sasl_ssl"));
            assert_eq!(config.get("sasl.username"), Some("u"));
        }
        for config in [
            producer_config(&kafka(), &producer),
            group_consumer_config(&kafka(), &consumer),
            group_admin_config(&kafka()),
        ] {
            assert_eq!(config.get("allow.auto.create.topics"), Some("false"));
        }
        let producer = producer_config(&kafka(), &producer);
        assert_eq!(producer.get("enable.idempotence"), Some("true"));
        let consumer = group_consumer_config(&kafka(), &consumer);
        assert_eq!(consumer.get("group.id"), Some("g"));
        assert_eq!(consumer.get("enable.auto.commit"), Some("false"));
        assert_eq!(consumer.get("heartbeat.interval.ms"), Some("2000"));
    }
}
