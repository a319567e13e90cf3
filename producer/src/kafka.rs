//! The idempotent rdkafka producer: ordered batch publishing, typed errors and broker
//! inspection (watermarks, reachability). Its configuration is `logagg_core::kafka`'s.

use std::time::Duration;

use logagg_core::config::{KafkaConfig, ProducerConfig};
use logagg_core::Event;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer};
use serde::Serialize;

/// Where the broker stored a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Ack {
    pub partition: i32,
    pub offset: i64,
}

/// Why a publish failed, split by what the caller should do about it.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The broker may accept the same records later (down, slow, leader moving, queue full).
    #[error("broker unavailable, retry later: {0}")]
    Retryable(String),
    /// Retrying cannot help (record too large, authorization, bad configuration).
    #[error("publish failed: {0}")]
    Fatal(String),
}

impl PublishError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, PublishError::Retryable(_))
    }

    fn from_kafka(error: KafkaError) -> Self {
        use RDKafkaErrorCode::*;
        let retryable = match error.rdkafka_error_code() {
            Some(
                MessageTimedOut
                | QueueFull
                | AllBrokersDown
                | BrokerTransportFailure
                | NetworkException
                | RequestTimedOut
                | NotEnoughReplicas
                | NotEnoughReplicasAfterAppend
                | LeaderNotAvailable
                | NotLeaderForPartition
                | UnknownTopicOrPartition
                | BrokerNotAvailable
                | OperationTimedOut
                | Resolve
                | PurgeQueue
                | PurgeInflight,
            ) => true,
            Some(_) => false,
            None => matches!(error, KafkaError::Canceled),
        };
        if retryable {
            PublishError::Retryable(error.to_string())
        } else {
            PublishError::Fatal(error.to_string())
        }
    }
}

/// The idempotent producer bound to logagg's Kafka topic.
#[derive(Clone)]
pub struct EventProducer {
    producer: FutureProducer,
    topic: String,
    /// For failure messages.
    brokers: String,
}

impl EventProducer {
    pub fn new(kafka: &KafkaConfig, tuning: &ProducerConfig) -> Result<Self, PublishError> {
        let producer: FutureProducer = logagg_core::kafka::producer_config(kafka, tuning)
            .create()
            .map_err(|e| PublishError::Fatal(format!("cannot create producer: {e}")))?;
        Ok(Self {
            producer,
            topic: kafka.topic.clone(),
            brokers: kafka.brokers.clone(),
        })
    }

    /// The Kafka topic records go to.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Enqueues one record (key = event topic) and returns its delivery future. Records
    /// enqueued in order reach a partition in that order.
    pub async fn enqueue(&self, key: &str, value: &[u8]) -> Result<DeliveryFuture, PublishError> {
        loop {
            let record = FutureRecord::to(&self.topic).key(key).payload(value);
            match self.producer.send_result(record) {
                Ok(delivery) => return Ok(delivery),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    // The local queue drains as the broker acks; wait in order, never skip.
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                Err((error, _)) => return Err(PublishError::from_kafka(error)),
            }
        }
    }

    /// Re-publishes a raw record (a dead letter's original key and value, any bytes) and
    /// waits for its ack.
    pub async fn republish_raw(
        &self,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
    ) -> Result<Ack, PublishError> {
        let mut record = FutureRecord::<[u8], [u8]>::to(&self.topic);
        if let Some(key) = key {
            record = record.key(key);
        }
        if let Some(value) = value {
            record = record.payload(value);
        }
        let delivery = self
            .producer
            .send_result(record)
            .map_err(|(error, _)| PublishError::from_kafka(error))?;
        Self::await_ack(delivery).await
    }

    /// Awaits a delivery future.
    pub async fn await_ack(delivery: DeliveryFuture) -> Result<Ack, PublishError> {
        match delivery.await {
            Ok(Ok(delivery)) => Ok(Ack {
                partition: delivery.partition,
                offset: delivery.offset,
            }),
            Ok(Err((error, _))) => Err(PublishError::from_kafka(error)),
            Err(_canceled) => Err(PublishError::Retryable("producer shut down".into())),
        }
    }

    /// Publishes events in order and waits until the broker acked every one. On error some
    /// records may still have been stored: at-least-once, so the caller may retry them all.
    pub async fn publish(&self, events: &[Event]) -> Result<Vec<Ack>, PublishError> {
        let values: Vec<Vec<u8>> = events.iter().map(Event::to_json_bytes).collect();
        let records: Vec<(&str, &[u8])> = events
            .iter()
            .zip(&values)
            .map(|(e, v)| (e.topic.as_str(), v.as_slice()))
            .collect();
        self.publish_serialized(&records).await
    }

    /// [`publish`](Self::publish) for events already serialized: `(topic, event JSON)` pairs.
    pub async fn publish_serialized(
        &self,
        records: &[(&str, &[u8])],
    ) -> Result<Vec<Ack>, PublishError> {
        let mut deliveries = Vec::with_capacity(records.len());
        for (topic, value) in records {
            deliveries.push(self.enqueue(topic, value).await?);
        }
        let mut acks = Vec::with_capacity(deliveries.len());
        for delivery in deliveries {
            acks.push(Self::await_ack(delivery).await?);
        }
        Ok(acks)
    }

    /// Waits for every enqueued record to be acked or to fail.
    pub fn flush(&self, timeout: Duration) -> Result<(), PublishError> {
        self.producer
            .flush(timeout)
            .map_err(PublishError::from_kafka)
    }

    /// Per partition `(partition, low, high)` watermarks of the topic. Blocking: call it from
    /// `spawn_blocking`.
    pub fn watermarks(&self, timeout: Duration) -> Result<Vec<(i32, i64, i64)>, PublishError> {
        logagg_core::kafka::watermarks(self.producer.client(), &self.topic, timeout)
            .map_err(PublishError::from_kafka)
    }

    /// Whether a broker answers a metadata request and the topic exists; the error names the
    /// brokers and the topic. Blocking: call it from `spawn_blocking`.
    pub fn broker_reachable(&self, timeout: Duration) -> Result<(), PublishError> {
        logagg_core::kafka::broker_reachable(self.producer.client(), &self.topic, timeout).map_err(
            |e| {
                PublishError::Retryable(logagg_core::kafka::explain(&e, &self.brokers, &self.topic))
            },
        )
    }
}
