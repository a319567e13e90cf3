//! `logagg-consumer`: runs the consumer-group worker, or applies migrations.

use anyhow::Context;
use clap::{Parser, Subcommand};
use logagg_core::config::{ConsumerConfig, DatabaseConfig, KafkaConfig};
use logagg_core::{db, telemetry};

#[derive(Parser)]
#[command(
    name = "logagg-consumer",
    version,
    about = "Kafka -> PostgreSQL consumer of logagg (configuration: LOGAGG_* variables, see docs/CONFIGURATION.md)"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Consume until SIGINT/SIGTERM (the default).
    Run,
    /// Apply database migrations and exit.
    Migrate,
    /// Move the group's Kafka offsets so the consumers re-read history (stop them first).
    /// Re-read records count as `replayed`; fresh counters stay exact.
    Replay {
        /// earliest, latest, an RFC 3339 time, or PARTITION:OFFSET[,PARTITION:OFFSET...]
        #[arg(long, default_value = "earliest")]
        to: logagg_consumer::replay::ReplayTarget,
        /// Empty the events table and the group's counters first, and rebuild them from the
        /// log (implies --to earliest; records past the topic's retention cannot come back).
        #[arg(long)]
        rebuild: bool,
    },
}

fn main() -> std::process::ExitCode {
    telemetry::run_main(run)
}

async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let kafka = KafkaConfig::from_env()?;
    let database = DatabaseConfig::from_env()?;
    match cli.command.unwrap_or(Command::Run) {
        Command::Run => {
            let config = ConsumerConfig::from_env()?;
            logagg_consumer::run(kafka, database, config, logagg_core::shutdown::on_signal()).await
        }
        Command::Replay { to, rebuild } => {
            db::run_migrations(&database.url)
                .await
                .context("migrating")?;
            let pool = db::connect(&database)?;
            let positions = logagg_consumer::replay::replay(&kafka, &pool, &to, rebuild).await?;
            for (partition, offset) in &positions {
                println!("{}:{partition} -> offset {offset}", kafka.topic);
            }
            if rebuild {
                println!("database emptied; start the consumers to rebuild it from the log");
            } else {
                println!("group {} reset; start the consumers to replay", kafka.group);
            }
            Ok(())
        }
        Command::Migrate => logagg_core::startup::migrate_command(&database).await,
    }
}
