//! Isolation and processes: every measurement gets a fresh PostgreSQL database (migrated with
//! the real schema), a fresh Kafka topic and consumer group, and runs the real binaries as
//! child processes on free loopback ports (as the e2e harness does).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use diesel::sql_types::BigInt;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use logagg_core::config::{DatabaseConfig, KafkaConfig};
use logagg_core::db;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::ClientConfig;

use crate::procfs;

/// Where the services are and where the binaries and logs go.
#[derive(Debug, Clone)]
pub struct Settings {
    pub brokers: String,
    pub admin_url: String,
    pub bin_dir: PathBuf,
    pub log_dir: PathBuf,
    /// Unique per run: names databases, topics and groups.
    pub run_id: String,
    pub partitions: i32,
    /// Keep databases and topics after the run (for inspection).
    pub keep: bool,
}

impl Settings {
    pub fn kafka(&self, topic: &str, group: &str) -> KafkaConfig {
        KafkaConfig {
            brokers: self.brokers.clone(),
            topic: topic.to_owned(),
            group: group.to_owned(),
            // The bench measures the local PLAINTEXT broker.
            security: Default::default(),
        }
    }
}

/// One measurement's database, topic and group.
pub struct Scope {
    pub settings: Settings,
    pub label: String,
    pub database: String,
    pub database_url: String,
    pub topic: String,
    pub group: String,
    pub pool: db::Pool,
}

impl Scope {
    /// Creates and migrates `logagg_bench_<run>_<label>` and the topic `bench.<run>.<label>`.
    pub async fn new(settings: &Settings, label: &str) -> anyhow::Result<Self> {
        let database = format!("logagg_bench_{}_{label}", settings.run_id);
        let mut admin = AsyncPgConnection::establish(&settings.admin_url)
            .await
            .with_context(|| {
                format!(
                    "cannot reach PostgreSQL at {} (make up?)",
                    settings.admin_url
                )
            })?;
        diesel::sql_query(format!("CREATE DATABASE {database}"))
            .execute(&mut admin)
            .await
            .with_context(|| format!("creating database {database}"))?;
        let database_url = replace_database(&settings.admin_url, &database)?;
        db::run_migrations(&database_url)
            .await
            .context("migrations")?;
        let topic = format!("bench.{}.{label}", settings.run_id);
        create_topic(&settings.brokers, &topic, settings.partitions).await?;
        let pool = db::connect(&DatabaseConfig {
            url: database_url.clone(),
            pool_size: 2,
        })?;
        Ok(Self {
            settings: settings.clone(),
            label: label.to_owned(),
            group: format!("bench.{}.{label}", settings.run_id),
            database,
            database_url,
            topic,
            pool,
        })
    }

    pub fn kafka(&self) -> KafkaConfig {
        self.settings.kafka(&self.topic, &self.group)
    }

    /// The environment the binaries get: this scope's broker, topic, group and database.
    pub fn vars(&self) -> Vec<(String, String)> {
        vec![
            ("LOGAGG_KAFKA_BROKERS".into(), self.settings.brokers.clone()),
            ("LOGAGG_KAFKA_TOPIC".into(), self.topic.clone()),
            ("LOGAGG_KAFKA_GROUP".into(), self.group.clone()),
            ("DATABASE_URL".into(), self.database_url.clone()),
        ]
    }

    /// Starts `logagg-consumer` (not waiting for it).
    pub fn spawn_consumer(&self, name: &str) -> anyhow::Result<Service> {
        let port = free_port()?;
        let mut vars = self.vars();
        vars.push(("LOGAGG_CONSUMER_ADDR".into(), format!("127.0.0.1:{port}")));
        Service::spawn(
            &self.settings,
            "logagg-consumer",
            &format!("{}-{name}", self.label),
            port,
            &vars,
        )
    }

    /// Starts `logagg-api` and waits until its /health answers 200.
    pub async fn spawn_api(&self) -> anyhow::Result<Service> {
        let port = free_port()?;
        let mut vars = self.vars();
        vars.push(("LOGAGG_API_ADDR".into(), format!("127.0.0.1:{port}")));
        let service = Service::spawn(
            &self.settings,
            "logagg-api",
            &format!("{}-api", self.label),
            port,
            &vars,
        )?;
        service.wait_healthy(Duration::from_secs(60)).await?;
        Ok(service)
    }

    /// Summed counters of this scope's group (all zero before the first batch).
    pub async fn counters(&self) -> anyhow::Result<Counters> {
        let mut conn = self.pool.get().await?;
        let counters: Counters = diesel::sql_query(
            "SELECT coalesce(sum(received), 0)::bigint AS received,
                    coalesce(sum(unique_processed), 0)::bigint AS unique_processed,
                    coalesce(sum(duplicate_dropped), 0)::bigint AS duplicate_dropped,
                    coalesce(sum(invalid), 0)::bigint AS invalid,
                    coalesce(sum(replayed), 0)::bigint AS replayed
               FROM partition_progress WHERE consumer_group = $1 AND kafka_topic = $2",
        )
        .bind::<diesel::sql_types::Text, _>(&self.group)
        .bind::<diesel::sql_types::Text, _>(&self.topic)
        .get_result(&mut conn)
        .await?;
        Ok(counters)
    }

    /// Rows in `events`.
    pub async fn rows(&self) -> anyhow::Result<i64> {
        let mut conn = self.pool.get().await?;
        Ok(db::events::count(&mut conn).await?)
    }

    /// Drops the database and deletes the topic (unless `--keep`).
    pub async fn cleanup(self) -> anyhow::Result<()> {
        if self.settings.keep {
            return Ok(());
        }
        let Self {
            settings,
            database,
            topic,
            pool,
            ..
        } = self;
        drop(pool);
        let mut admin = AsyncPgConnection::establish(&settings.admin_url).await?;
        // FORCE ends our own lingering pool connections, but a non-superuser may not end an
        // autovacuum worker busy in the new database; plain DROP waits that one out instead.
        // Alternate until one works, within a deadline.
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut force = true;
        loop {
            let sql = if force {
                format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)")
            } else {
                format!("DROP DATABASE IF EXISTS {database}")
            };
            match diesel::sql_query(sql).execute(&mut admin).await {
                Ok(_) => break,
                Err(_) if Instant::now() < deadline => {
                    force = !force;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(error) => {
                    return Err(anyhow::Error::new(error).context(format!("dropping {database}")))
                }
            }
        }
        delete_topic(&settings.brokers, &topic).await
    }
}

/// The consumer counters (sums over the group's partitions).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, diesel::QueryableByName)]
pub struct Counters {
    #[diesel(sql_type = BigInt)]
    pub received: i64,
    #[diesel(sql_type = BigInt)]
    pub unique_processed: i64,
    #[diesel(sql_type = BigInt)]
    pub duplicate_dropped: i64,
    #[diesel(sql_type = BigInt)]
    pub invalid: i64,
    #[diesel(sql_type = BigInt)]
    pub replayed: i64,
}

fn replace_database(url: &str, database: &str) -> anyhow::Result<String> {
    let (base, rest) = url.rsplit_once('/').context("database URL has no path")?;
    let query = rest
        .split_once('?')
        .map(|(_, q)| format!("?{q}"))
        .unwrap_or_default();
    Ok(format!("{base}/{database}{query}"))
}

fn admin_client(brokers: &str) -> anyhow::Result<AdminClient<DefaultClientContext>> {
    Ok(ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()?)
}

pub async fn create_topic(brokers: &str, topic: &str, partitions: i32) -> anyhow::Result<()> {
    let admin = admin_client(brokers)?;
    let new_topic = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let results = admin
        .create_topics([&new_topic], &options)
        .await
        .with_context(|| format!("cannot reach Kafka at {brokers} (make up?)"))?;
    for result in results {
        result.map_err(|(t, e)| anyhow::anyhow!("create topic {t}: {e}"))?;
    }
    wait_topic_ready(brokers, topic, partitions).await
}

/// Waits until the broker reports every partition of `topic` with a leader.
async fn wait_topic_ready(brokers: &str, topic: &str, partitions: i32) -> anyhow::Result<()> {
    let client = admin_client(brokers)?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ready = tokio::task::block_in_place(|| {
            client
                .inner()
                .fetch_metadata(Some(topic), Duration::from_secs(5))
        })
        .map(|m| {
            m.topics().iter().any(|t| {
                t.error().is_none()
                    && t.partitions().len() == partitions as usize
                    && t.partitions()
                        .iter()
                        .all(|p| p.leader() >= 0 && p.error().is_none())
            })
        })
        .unwrap_or(false);
        if ready {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("topic {topic} has no leader for every partition after 30 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn delete_topic(brokers: &str, topic: &str) -> anyhow::Result<()> {
    let admin = admin_client(brokers)?;
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    for result in admin.delete_topics(&[topic], &options).await? {
        result.map_err(|(t, e)| anyhow::anyhow!("delete topic {t}: {e}"))?;
    }
    Ok(())
}

/// A free TCP port on 127.0.0.1 (bound then released).
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// A running binary, killed when dropped.
pub struct Service {
    pub name: String,
    pub child: Child,
    pub port: u16,
    pub log: PathBuf,
}

impl Service {
    pub fn spawn(
        settings: &Settings,
        binary: &str,
        label: &str,
        port: u16,
        vars: &[(String, String)],
    ) -> anyhow::Result<Self> {
        let path = settings.bin_dir.join(binary);
        if !path.exists() {
            bail!(
                "{} is missing: build it first (scripts/bench.sh does)",
                path.display()
            );
        }
        std::fs::create_dir_all(&settings.log_dir)?;
        let log = settings
            .log_dir
            .join(format!("{}-{label}.log", settings.run_id));
        let file = std::fs::File::create(&log)?;
        let child = Command::new(&path)
            .envs(vars.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .spawn()
            .with_context(|| format!("spawning {}", path.display()))?;
        Ok(Self {
            name: binary.to_owned(),
            child,
            port,
            log,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Peak RSS so far (VmHWM), in bytes.
    pub fn peak_rss(&self) -> u64 {
        procfs::peak_rss(self.pid()).unwrap_or(0)
    }

    pub async fn wait_healthy(&self, timeout: Duration) -> anyhow::Result<()> {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(response) = client.get(self.url("/health")).send().await {
                if response.status().is_success() {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                bail!(
                    "{} did not become healthy within {timeout:?} (log: {})",
                    self.name,
                    self.log.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// `GET path` as text.
    pub async fn get_text(&self, path: &str) -> anyhow::Result<String> {
        let response = reqwest::get(self.url(path)).await?;
        if !response.status().is_success() {
            bail!("GET {path} answered {}", response.status());
        }
        Ok(response.text().await?)
    }

    /// SIGTERM, then wait up to 15 s and SIGKILL. Shutdown is not what the bench measures:
    /// a slow exit is reported on stderr, not failed.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if self.child.try_wait()?.is_some() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        eprintln!(
            "warning: {} did not exit within 15 s of SIGTERM; killed (log: {})",
            self.name,
            self.log.display()
        );
        Ok(())
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The directory holding the workspace binaries: the bench's own (a release bench runs the
/// release binaries, a debug bench the debug ones).
pub fn default_bin_dir() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    exe.parent()
        .map(Path::to_path_buf)
        .context("binary has no directory")
}
