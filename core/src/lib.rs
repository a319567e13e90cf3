//! logagg-core: the event model and its validation, configuration, the PostgreSQL layer and
//! telemetry, shared by the api, consumer and producer binaries.
//!
//! Error policy: library code returns `thiserror` enums (see [`event::EventError`],
//! [`db::DbError`]); binaries wrap them with `anyhow::Context` at their edges, and the api maps
//! errors to HTTP statuses in one place (`logagg_api::errors`).

pub mod backoff;
pub mod broker_access;
pub mod config;
pub mod contract;
pub mod db;
pub mod event;
pub mod ingest;
pub mod kafka;
pub mod kafka_security;
pub mod metrics;
pub mod secret;
pub mod shutdown;
pub mod startup;
pub mod telemetry;

pub use event::{Event, FieldError};
