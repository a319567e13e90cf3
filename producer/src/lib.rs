//! logagg-producer: the one place that configures logagg's idempotent Kafka producer (used by
//! the API and the load-generator CLI), and the load plan with its ground truth
//! ([`generator::Expected`]). The CLI itself is the `logagg-loadgen` crate, so the API does not
//! link its HTTP client or progress bar.
//!
//! Records are keyed by the event's topic, so key-hash partitioning keeps each logical topic on
//! one partition (per-topic FIFO); idempotence (which implies acks=all) means a producer retry
//! never duplicates or reorders a partition.

pub mod generator;
pub mod kafka;

pub use kafka::{Ack, EventProducer, PublishError};
