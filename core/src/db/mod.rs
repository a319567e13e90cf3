//! The PostgreSQL layer: schema, connection pool, embedded migrations and every query logagg
//! runs. Binaries never write SQL themselves; they call the functions here.

pub mod counters;
pub mod dead_letters;
pub mod events;
pub mod group_state;
pub mod maintenance;
pub mod pool;
pub mod progress;
pub mod query_forms;
pub mod replica;
pub mod retention;
/// The tables as `diesel print-schema` prints them from the migrated database (settings in
/// `diesel.toml`); regenerated, never edited by hand.
pub mod schema;
pub mod search;
pub mod tail;
pub mod tls;

pub use pool::{connect, ping, run_migrations, Conn, Pool};
pub use tls::establish;

/// Any failure talking to PostgreSQL.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database query failed: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("no database connection: {0}")]
    Pool(String),
    #[error("migrations failed: {0}")]
    Migration(String),
}

impl From<diesel_async::pooled_connection::deadpool::PoolError> for DbError {
    fn from(e: diesel_async::pooled_connection::deadpool::PoolError) -> Self {
        DbError::Pool(e.to_string())
    }
}
