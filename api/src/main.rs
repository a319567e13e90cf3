//! `logagg-api`: serves the HTTP API, or applies migrations.
// The router (warp filters, `routes::routes`) is one deeply nested type; its layout needs more
// than the default query depth.
#![recursion_limit = "256"]

use clap::Parser;
use logagg_core::config::{ApiConfig, DatabaseConfig, KafkaConfig, ProducerConfig};
use logagg_core::telemetry;

#[derive(Parser)]
#[command(
    name = "logagg-api",
    version,
    about = "HTTP API of logagg (configuration: LOGAGG_* variables, see docs/CONFIGURATION.md)"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Serve until SIGINT/SIGTERM (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
}

fn main() -> std::process::ExitCode {
    telemetry::run_main(run)
}

async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let database = DatabaseConfig::from_env()?;
    if let Some(Command::Migrate) = cli.command {
        return logagg_core::startup::migrate_command(&database).await;
    }
    let state = logagg_api::build_state(
        KafkaConfig::from_env()?,
        database,
        ProducerConfig::from_env()?,
        ApiConfig::from_env()?,
    )
    .await?;
    let (addr, server) = logagg_api::serve(state, logagg_core::shutdown::on_signal())?;
    tracing::info!(%addr, "logagg-api listening");
    server.await;
    tracing::info!("stopped");
    Ok(())
}
