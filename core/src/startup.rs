//! What every service does before it works, in one place: check that the broker takes its
//! credentials (so a wrong password stops the start with its cause), apply the database
//! migrations, open the pool; and the `migrate` subcommand both binaries offer.

use anyhow::Context;

use crate::config::{DatabaseConfig, KafkaConfig};
use crate::db;

/// Checks broker access, migrates, and opens the service's connection pool.
pub async fn checked_pool(
    kafka: &KafkaConfig,
    database: &DatabaseConfig,
) -> anyhow::Result<db::Pool> {
    crate::broker_access::check_at_start(kafka)
        .await
        .map_err(anyhow::Error::msg)?;
    db::run_migrations(&database.url)
        .await
        .context("applying database migrations")?;
    Ok(db::connect(database)?)
}

/// `logagg-api migrate` / `logagg-consumer migrate`: applies the pending migrations and says
/// how many.
pub async fn migrate_command(database: &DatabaseConfig) -> anyhow::Result<()> {
    let applied = db::run_migrations(&database.url)
        .await
        .context("migrating")?;
    println!("applied {applied} migration(s)");
    Ok(())
}
