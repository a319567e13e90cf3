//! Kafka for tests: topics that are ready when created (every partition has a leader visible in
//! metadata, so a watermark read right after cannot fail with UnknownTopicOrPartition), topic
//! deletion, records deleted from a log's start (deleteRecords: retention on demand), raw
//! records of any shape, and the log's end offsets.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context;
use logagg_core::config::KafkaConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::ClientConfig;

use crate::wait::poll_until;

/// How long a topic may take to get a leader for every partition.
const TOPIC_READY: Duration = Duration::from_secs(30);
/// Timeout of one admin or metadata request.
const REQUEST: Duration = Duration::from_secs(10);

/// The configuration every Kafka client of the kit starts from: the product's own builder
/// (`logagg_core::kafka::client_config`), so tests connect the way the binaries do.
pub fn client_config(brokers: &str) -> ClientConfig {
    let mut kafka = KafkaConfig::from_env().expect("LOGAGG_KAFKA_* variables parse");
    kafka.brokers = brokers.to_owned();
    logagg_core::kafka::client_config(&kafka)
}

fn admin(brokers: &str) -> anyhow::Result<AdminClient<DefaultClientContext>> {
    Ok(client_config(brokers).create()?)
}

fn options() -> AdminOptions {
    AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)))
}

/// Creates `topic` with `partitions` partitions and returns once the broker's metadata shows a
/// leader for every one of them. Replicated like a production topic where the cluster allows:
/// on three or more brokers replication 3 with `min.insync.replicas=2`, else replication 1.
pub async fn create_topic(brokers: &str, topic: &str, partitions: i32) -> anyhow::Result<()> {
    let cluster = brokers.to_owned();
    let broker_count = tokio::task::spawn_blocking(move || broker_count(&cluster))
        .await?
        .with_context(|| format!("cannot reach Kafka at {brokers} (make up?)"))?;
    let replication = if broker_count >= 3 { 3 } else { 1 };
    let mut new_topic = NewTopic::new(topic, partitions, TopicReplication::Fixed(replication));
    if replication == 3 {
        new_topic = new_topic.set("min.insync.replicas", "2");
    }
    let results = admin(brokers)?
        .create_topics([&new_topic], &options())
        .await
        .with_context(|| format!("cannot reach Kafka at {brokers} (make up?)"))?;
    for result in results {
        result.map_err(|(t, e)| anyhow::anyhow!("create topic {t}: {e}"))?;
    }
    let what = format!("a leader for each of the {partitions} partitions of {topic}");
    poll_until(TOPIC_READY, &what, || async {
        let (brokers, topic) = (brokers.to_owned(), topic.to_owned());
        tokio::task::spawn_blocking(move || has_leaders(&brokers, &topic, partitions))
            .await
            .ok()
            .flatten()
            .filter(|ready| *ready)
            .map(drop)
    })
    .await
}

/// Brokers in the cluster's metadata. Blocking.
fn broker_count(brokers: &str) -> anyhow::Result<usize> {
    let consumer: BaseConsumer = client_config(brokers).create()?;
    Ok(consumer.fetch_metadata(None, REQUEST)?.brokers().len())
}

/// Whether metadata shows `topic` with `partitions` partitions, each with a leader. Blocking.
fn has_leaders(brokers: &str, topic: &str, partitions: i32) -> Option<bool> {
    let consumer: BaseConsumer = client_config(brokers).create().ok()?;
    let metadata = consumer.fetch_metadata(Some(topic), REQUEST).ok()?;
    Some(metadata.topics().iter().any(|t| {
        t.error().is_none()
            && t.partitions().len() == partitions as usize
            && t.partitions()
                .iter()
                .all(|p| p.leader() >= 0 && p.error().is_none())
    }))
}

/// Deletes `topic`.
pub async fn delete_topic(brokers: &str, topic: &str) -> anyhow::Result<()> {
    for result in admin(brokers)?.delete_topics(&[topic], &options()).await? {
        result.map_err(|(t, e)| anyhow::anyhow!("delete topic {t}: {e}"))?;
    }
    Ok(())
}

/// Deletes every record of `topic`'s `partition` below `offset` (the broker's deleteRecords,
/// what retention does, but deterministic); returns the new log start offset.
pub async fn delete_records_before(
    brokers: &str,
    topic: &str,
    partition: i32,
    offset: i64,
) -> anyhow::Result<i64> {
    let mut wanted = rdkafka::TopicPartitionList::new();
    wanted.add_partition_offset(topic, partition, rdkafka::Offset::Offset(offset))?;
    let deleted = admin(brokers)?
        .delete_records(&wanted, &options())
        .await
        .with_context(|| format!("deleteRecords {topic}/{partition} before {offset}"))?;
    let element = deleted
        .find_partition(topic, partition)
        .context("deleteRecords answered without the partition")?;
    element.error()?;
    match element.offset() {
        rdkafka::Offset::Offset(low) => Ok(low),
        other => anyhow::bail!("deleteRecords answered {other:?}"),
    }
}

/// `partition -> high watermark` (records ever written) of `topic`. Blocking.
pub fn end_offsets(brokers: &str, topic: &str) -> anyhow::Result<BTreeMap<i32, i64>> {
    let consumer: BaseConsumer = client_config(brokers).create()?;
    let marks = logagg_core::kafka::watermarks(consumer.client(), topic, REQUEST)
        .with_context(|| format!("watermarks of {topic}"))?;
    Ok(marks.into_iter().map(|(p, _, high)| (p, high)).collect())
}

/// `partition -> offset` the consumer `group` committed on `topic` (partitions it never
/// committed are absent). Blocking.
pub fn committed_offsets(
    brokers: &str,
    topic: &str,
    group: &str,
    partitions: i32,
) -> anyhow::Result<BTreeMap<i32, i64>> {
    let consumer: BaseConsumer = client_config(brokers).set("group.id", group).create()?;
    let mut wanted = rdkafka::TopicPartitionList::new();
    for partition in 0..partitions {
        wanted.add_partition(topic, partition);
    }
    let committed = consumer
        .committed_offsets(wanted, REQUEST)
        .with_context(|| format!("committed offsets of {group} on {topic}"))?;
    Ok(committed
        .elements()
        .iter()
        .filter_map(|e| match e.offset() {
            rdkafka::Offset::Offset(offset) => Some((e.partition(), offset)),
            _ => None,
        })
        .collect())
}

/// Whether a broker answers a metadata request. Blocking.
pub fn reachable(brokers: &str) -> bool {
    client_config(brokers)
        .create::<BaseConsumer>()
        .is_ok_and(|c| c.fetch_metadata(None, Duration::from_secs(3)).is_ok())
}

/// Produces one raw record (any bytes, optional key, optional explicit partition) with an
/// idempotent producer and waits for its ack; returns (partition, offset).
pub async fn produce_raw(
    brokers: &str,
    topic: &str,
    partition: Option<i32>,
    key: Option<&[u8]>,
    value: &[u8],
) -> anyhow::Result<(i32, i64)> {
    let producer: FutureProducer = client_config(brokers)
        .set("enable.idempotence", "true")
        .create()?;
    let mut record = FutureRecord::<[u8], [u8]>::to(topic).payload(value);
    if let Some(key) = key {
        record = record.key(key);
    }
    if let Some(partition) = partition {
        record = record.partition(partition);
    }
    let delivery = producer
        .send(record, REQUEST)
        .await
        .map_err(|(e, _)| anyhow::anyhow!("raw produce to {topic}: {e}"))?;
    Ok((delivery.partition, delivery.offset))
}
