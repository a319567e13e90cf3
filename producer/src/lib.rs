//! logagg-producer: the one place that configures logagg's idempotent Kafka producer (used by
//! the API and the load-generator CLI), plus the CLI's building blocks.
//!
//! Records are keyed by the event's topic, so key-hash partitioning keeps each logical topic on
//! one partition (per-topic FIFO); idempotence (which implies acks=all) means a producer retry
//! never duplicates or reorders a partition.

pub mod generator;
pub mod http;
pub mod kafka;
pub mod load;
pub mod stats;

pub use kafka::{Ack, EventProducer, PublishError};
