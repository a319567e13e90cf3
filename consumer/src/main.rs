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
        /// Rows removed by admin deletes come back too; retention policies stay and expire
        /// old rows again; the audit of deletes is kept.
        #[arg(long)]
        rebuild: bool,
    },
    /// Show or set retention policies (stored in PostgreSQL; the enforcing consumer applies
    /// them within LOGAGG_RETENTION_INTERVAL_MS).
    Retention {
        #[command(subcommand)]
        action: RetentionAction,
    },
}

#[derive(Subcommand)]
enum RetentionAction {
    /// Print the default, the per-topic policies and the enforcer's last run as JSON.
    Show,
    /// Set the default (no --topic) or one topic's retention.
    Set {
        /// The event topic; omitted = the default of every topic without its own policy.
        #[arg(long)]
        topic: Option<String>,
        /// How long rows are kept after they were stored: 90s, 15m, 12h, 7d, or seconds.
        #[arg(long, conflicts_with_all = ["forever", "inherit"], required_unless_present_any = ["forever", "inherit"])]
        keep: Option<logagg_consumer::retention::KeepFor>,
        /// Keep rows forever (a topic exempted from the default, or no default).
        #[arg(long)]
        forever: bool,
        /// Drop the topic's own policy (it follows the default again).
        #[arg(long, conflicts_with = "forever")]
        inherit: bool,
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
        Command::Retention { action } => {
            db::run_migrations(&database.url)
                .await
                .context("migrating")?;
            let mut conn = db::establish(&database.url).await?;
            if let RetentionAction::Set {
                topic,
                keep,
                forever: _,
                inherit,
            } = action
            {
                let topic = topic.as_deref().unwrap_or(db::retention::DEFAULT_TOPIC);
                if inherit {
                    db::retention::clear_policy(&mut conn, topic).await?;
                } else {
                    let seconds = keep.map(|k| k.0);
                    db::retention::set_policy(&mut conn, topic, seconds, "logagg-consumer cli")
                        .await?;
                }
            }
            let policies = db::retention::policies(&mut conn).await?;
            println!("{}", serde_json::to_string_pretty(&policies)?);
            Ok(())
        }
        Command::Migrate => logagg_core::startup::migrate_command(&database).await,
    }
}
