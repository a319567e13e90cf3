//! (2) The Kafka ceiling: the dataset's records produced with raw rdkafka (the product's own
//! producer settings: idempotent, acks=all, lz4, linger from LOGAGG_PRODUCER_LINGER_MS,
//! key = event topic) and consumed back with a raw consumer, no processing. The produced topic is then the pre-filled topic of
//! an ingest measurement.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure};
use logagg_core::config::{KafkaConfig, ProducerConfig};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{ClientContext, Offset, TopicPartitionList};

use crate::dataset::Dataset;

#[derive(Debug, Clone)]
pub struct Throughput {
    pub records: usize,
    pub bytes: u64,
    pub elapsed: Duration,
    /// Until the first record (consume only: offset lookup and first fetch), not in `elapsed`.
    pub first_after: Duration,
    /// What else ran meanwhile, for the report (empty: nothing of ours).
    pub note: String,
}

impl Throughput {
    pub fn rate(&self) -> f64 {
        self.records as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

#[derive(Default)]
struct Deliveries {
    ok: AtomicU64,
    failed: AtomicU64,
}

struct Counting(Arc<Deliveries>);

impl ClientContext for Counting {}

impl ProducerContext for Counting {
    type DeliveryOpaque = ();
    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => self.0.ok.fetch_add(1, Ordering::Relaxed),
            Err(_) => self.0.failed.fetch_add(1, Ordering::Relaxed),
        };
    }
}

/// Produces every record of `data` to `kafka.topic` and waits for every ack (after one warm-up
/// record to `warmup_topic`, not timed). Blocking.
pub fn produce(
    kafka: &KafkaConfig,
    data: &Dataset,
    warmup_topic: &str,
) -> anyhow::Result<Throughput> {
    let mut tuning = ProducerConfig::from_env()?;
    tuning.delivery_timeout = Duration::from_secs(120);
    let deliveries = Arc::new(Deliveries::default());
    let producer: ThreadedProducer<Counting> = logagg_core::kafka::producer_config(kafka, &tuning)
        .set("client.id", "logagg-bench")
        .create_with_context(Counting(deliveries.clone()))?;
    // One record to a scratch topic first, so the idempotent producer has its producer id and
    // broker connection before the clock starts; then the topic's metadata.
    producer
        .send(BaseRecord::to(warmup_topic).key("warmup").payload("{}"))
        .map_err(|(e, _)| anyhow::anyhow!("warm-up produce failed: {e}"))?;
    producer.flush(Duration::from_secs(30))?;
    ensure!(
        deliveries.ok.load(Ordering::Relaxed) == 1,
        "warm-up record not acknowledged"
    );
    deliveries.ok.store(0, Ordering::Relaxed);
    producer
        .client()
        .fetch_metadata(Some(&kafka.topic), Duration::from_secs(10))?;
    let started = Instant::now();
    let mut bytes = 0u64;
    for k in 0..data.len() {
        let value = data.value(k);
        bytes += value.len() as u64;
        let mut record = BaseRecord::to(&kafka.topic)
            .key(data.key(k))
            .payload(&value[..]);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err((e, _)) => bail!("produce failed: {e}"),
            }
        }
    }
    producer.flush(Duration::from_secs(120))?;
    let elapsed = started.elapsed();
    let (ok, failed) = (
        deliveries.ok.load(Ordering::Relaxed),
        deliveries.failed.load(Ordering::Relaxed),
    );
    ensure!(
        failed == 0 && ok == data.len() as u64,
        "raw produce: {ok} acked, {failed} failed of {}",
        data.len()
    );
    Ok(Throughput {
        records: data.len(),
        bytes,
        elapsed,
        first_after: Duration::ZERO,
        note: String::new(),
    })
}

/// Records per partition of `topic` (high watermarks). Blocking.
pub fn partition_counts(kafka: &KafkaConfig) -> anyhow::Result<Vec<i64>> {
    let consumer: BaseConsumer = logagg_core::kafka::client_config(kafka).create()?;
    let marks =
        logagg_core::kafka::watermarks(consumer.client(), &kafka.topic, Duration::from_secs(10))?;
    Ok(marks.into_iter().map(|(_, low, high)| high - low).collect())
}

/// Reads the whole topic from the beginning with a raw consumer (no group commits, no
/// processing beyond touching each payload). Blocking.
pub fn consume(kafka: &KafkaConfig, expected: usize) -> anyhow::Result<Throughput> {
    let consumer: BaseConsumer = logagg_core::kafka::client_config(kafka)
        .set("group.id", format!("{}.raw", kafka.group))
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .set("client.id", "logagg-bench")
        .create()?;
    let counts = partition_counts(kafka)?;
    let mut assignment = TopicPartitionList::new();
    for partition in 0..counts.len() as i32 {
        assignment.add_partition_offset(&kafka.topic, partition, Offset::Beginning)?;
    }
    consumer.assign(&assignment)?;
    let started = Instant::now();
    let deadline = started + Duration::from_secs(300);
    let (mut records, mut bytes) = (0usize, 0u64);
    let mut first: Option<Instant> = None;
    while records < expected {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(message)) => {
                first.get_or_insert_with(Instant::now);
                records += 1;
                bytes += message.payload_len() as u64 + message.key().map_or(0, |k| k.len() as u64);
            }
            Some(Err(e)) => bail!("raw consume failed: {e}"),
            None if Instant::now() > deadline => {
                bail!("raw consume read {records} of {expected} records in 300 s")
            }
            None => {}
        }
    }
    // The rate counts from the first record, as the ingest rate counts from the first batch.
    let first = first.unwrap_or(started);
    Ok(Throughput {
        records: records.saturating_sub(1),
        bytes,
        elapsed: first.elapsed(),
        first_after: first - started,
        note: String::new(),
    })
}

/// The partitions each member of `kafka.group` owns (empty list for a member without any),
/// decoded from the group's member assignments (Kafka's consumer protocol). Empty while the
/// group is not `Stable`. Blocking.
pub fn group_assignment(kafka: &KafkaConfig) -> anyhow::Result<Vec<Vec<i32>>> {
    let consumer: BaseConsumer = logagg_core::kafka::client_config(kafka).create()?;
    let list = consumer
        .client()
        .fetch_group_list(Some(&kafka.group), Duration::from_secs(5))?;
    let Some(group) = list.groups().iter().find(|g| g.name() == kafka.group) else {
        return Ok(Vec::new());
    };
    if group.state() != "Stable" {
        return Ok(Vec::new());
    }
    Ok(group
        .members()
        .iter()
        .map(|m| decode_assignment(m.assignment().unwrap_or(&[])))
        .collect())
}

/// ConsumerProtocolAssignment: version i16, [topic: string (i16 length), [partition i32]],
/// user data. Malformed input yields what was decoded so far.
fn decode_assignment(bytes: &[u8]) -> Vec<i32> {
    let mut at = 2; // version
    let mut take = |n: usize| -> Option<&[u8]> {
        let slice = bytes.get(at..at + n)?;
        at += n;
        Some(slice)
    };
    let mut partitions = Vec::new();
    let mut read = || -> Option<()> {
        let topics = i32::from_be_bytes(take(4)?.try_into().ok()?);
        for _ in 0..topics.max(0) {
            let len = i16::from_be_bytes(take(2)?.try_into().ok()?);
            take(len.max(0) as usize)?;
            let count = i32::from_be_bytes(take(4)?.try_into().ok()?);
            for _ in 0..count.max(0) {
                partitions.push(i32::from_be_bytes(take(4)?.try_into().ok()?));
            }
        }
        Some(())
    };
    let _ = read();
    partitions
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_a_consumer_protocol_assignment() {
        let mut bytes = vec![0, 3]; // version 3
        bytes.extend(1i32.to_be_bytes()); // one topic
        bytes.extend(3i16.to_be_bytes());
        bytes.extend(b"abc");
        bytes.extend(2i32.to_be_bytes());
        bytes.extend(4i32.to_be_bytes());
        bytes.extend(0i32.to_be_bytes());
        bytes.extend((-1i32).to_be_bytes()); // user data: null
        assert_eq!(decode_assignment(&bytes), vec![4, 0]);
        assert_eq!(decode_assignment(&bytes[..9]), Vec::<i32>::new());
        assert_eq!(decode_assignment(&[]), Vec::<i32>::new());
    }
}
