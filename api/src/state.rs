//! Shared state of the API handlers.

use std::sync::Arc;
use std::time::Instant;

use logagg_core::config::{ApiConfig, KafkaConfig};
use logagg_core::db;
use logagg_producer::EventProducer;

use crate::auth::Auth;
use crate::metrics::ApiMetrics;

/// Cheap to clone: everything inside is shared.
#[derive(Clone)]
pub struct AppState {
    /// The primary: writes, `/stats`, dead letters.
    pub pool: db::Pool,
    /// Event reads (list, search, tail, export, topics): `LOGAGG_DATABASE_READ_URL`'s standby
    /// when set, else the primary's pool.
    pub read_pool: db::Pool,
    /// Whether `read_pool` is a separate replica (reported on `/health` and `/metrics`).
    pub has_read_replica: bool,
    pub producer: EventProducer,
    pub kafka: Arc<KafkaConfig>,
    pub config: Arc<ApiConfig>,
    pub metrics: ApiMetrics,
    pub auth: Auth,
    pub started: Instant,
    /// The live tail's shared poller and the stream and export limits.
    pub reads: Arc<crate::tail::Reads>,
    /// The cap on in-flight publish work (503 beyond it).
    pub publish_budget: crate::overload::PublishBudget,
}
