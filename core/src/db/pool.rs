//! The async connection pool (deadpool + diesel-async) and the embedded migrations.

use std::time::Duration;

use deadpool::Runtime;
use diesel_async::pooled_connection::deadpool::{Object, Pool as DeadPool};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::{AsyncMigrationHarness, AsyncPgConnection, RunQueryDsl};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use super::DbError;
use crate::config::DatabaseConfig;

/// The pool every process shares.
pub type Pool = DeadPool<AsyncPgConnection>;
/// A pooled connection.
pub type Conn = Object<AsyncPgConnection>;

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations");

/// How long a caller waits for a connection before the request fails (rather than hangs)
/// while PostgreSQL is down or the pool is exhausted.
const CHECKOUT_TIMEOUT: Duration = Duration::from_secs(5);

/// Builds the pool. Connections are opened lazily, so this succeeds while PostgreSQL is down.
pub fn connect(config: &DatabaseConfig) -> Result<Pool, DbError> {
    let mut manager_config = ManagerConfig::default();
    // A checked-out connection is verified with a trivial query, so connections broken by a
    // PostgreSQL restart are replaced instead of failing the next batch.
    manager_config.recycling_method = RecyclingMethod::Verified;
    // TLS per the URL's sslmode (diesel-async's own establish speaks plain TCP only).
    manager_config.custom_setup = Box::new(|url| Box::pin(super::tls::establish(url)));
    let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(
        &config.url,
        manager_config,
    );
    DeadPool::builder(manager)
        .max_size(config.pool_size.max(1))
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(CHECKOUT_TIMEOUT))
        .create_timeout(Some(CHECKOUT_TIMEOUT))
        .recycle_timeout(Some(CHECKOUT_TIMEOUT))
        .build()
        .map_err(|e| DbError::Pool(e.to_string()))
}

/// How long a health check waits for PostgreSQL.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

/// Whether PostgreSQL answers a trivial query (`SELECT 1`) within a couple of seconds: the
/// health checks of the API and the consumer, and the consumer's "is the database up?".
pub async fn ping(pool: &Pool) -> Result<(), DbError> {
    let check = async {
        let mut conn = pool.get().await?;
        diesel::sql_query("SELECT 1").execute(&mut conn).await?;
        Ok(())
    };
    tokio::time::timeout(PING_TIMEOUT, check)
        .await
        .unwrap_or_else(|_| Err(DbError::Pool(format!("timed out after {PING_TIMEOUT:?}"))))
}

/// Advisory-lock key that serializes concurrent migration runs (api and consumers may start
/// together).
const MIGRATION_LOCK_KEY: i64 = 0x6c6f_6761_6767; // "loggagg"-ish, any constant works

/// Applies pending migrations and returns how many ran. Idempotent and safe to run from
/// several processes at once. Needs the multi-threaded tokio runtime (it blocks in place).
pub async fn run_migrations(database_url: &str) -> Result<usize, DbError> {
    let mut conn = super::tls::establish(database_url)
        .await
        .map_err(|e| DbError::Pool(e.to_string()))?;
    diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})"))
        .execute(&mut conn)
        .await?;
    let mut harness = AsyncMigrationHarness::new(conn);
    let applied = harness
        .run_pending_migrations(MIGRATIONS)
        .map(|applied| applied.len())
        .map_err(|e| DbError::Migration(e.to_string()));
    // The session lock goes with the connection, dropped here.
    drop(harness);
    applied
}
