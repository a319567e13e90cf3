//! [`Sandbox`]: one test's (or one measurement's) own PostgreSQL database, cloned from the
//! migrated template, its own Kafka topic and consumer group, and the binaries run against
//! them. Dropping it kills nothing (services are dropped first, being created later) and
//! removes the database and the topic, also when a test panics; `keep` leaves them for
//! inspection.

use std::time::{Duration, Instant};

use anyhow::Context;
use diesel_async::RunQueryDsl;
use logagg_core::config::{DatabaseConfig, KafkaConfig};
use logagg_core::db::{self, progress::Counts};

use crate::kafka;
use crate::process::Service;
use crate::services::{unique_name, with_database, Services};
use crate::template::{clone_template, connect_admin};

/// One isolated database + topic + group.
pub struct Sandbox {
    pub services: Services,
    /// Unique: names the database, topic, group and log files.
    pub name: String,
    pub database: String,
    pub database_url: String,
    pub topic: String,
    pub group: String,
    pub partitions: i32,
    pub pool: db::Pool,
    /// Leave the database and topic in place when dropped.
    pub keep: bool,
    removed: bool,
}

impl Sandbox {
    /// Creates `logagg_<kind>_<label>_<random>` from the template and the topic
    /// `<kind>.<label>_<random>` with `partitions` partitions (ready: every partition has a
    /// leader), group `g.<kind>.<label>_<random>`.
    pub async fn create(
        services: &Services,
        kind: &str,
        label: &str,
        partitions: i32,
    ) -> anyhow::Result<Self> {
        let name = unique_name(label);
        let database = format!("logagg_{kind}_{name}").to_lowercase();
        clone_template(&services.admin_url, &database).await?;
        let database_url = with_database(&services.admin_url, &database)?;
        let topic = format!("{kind}.{name}");
        kafka::create_topic(&services.brokers, &topic, partitions).await?;
        let pool = db::connect(&DatabaseConfig {
            url: database_url.clone(),
            pool_size: 4,
        })?;
        Ok(Self {
            services: services.clone(),
            group: format!("g.{kind}.{name}"),
            name,
            database,
            database_url,
            topic,
            partitions,
            pool,
            keep: false,
            removed: false,
        })
    }

    /// The environment every binary gets: this sandbox's broker, topic, group and database.
    pub fn vars(&self) -> Vec<(String, String)> {
        [
            ("LOGAGG_KAFKA_BROKERS", self.services.brokers.as_str()),
            ("LOGAGG_KAFKA_TOPIC", &self.topic),
            ("LOGAGG_KAFKA_GROUP", &self.group),
            ("DATABASE_URL", &self.database_url),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    pub fn kafka(&self) -> KafkaConfig {
        KafkaConfig {
            brokers: self.services.brokers.clone(),
            topic: self.topic.clone(),
            group: self.group.clone(),
            security: logagg_core::config::KafkaSecurity::from_env()
                .expect("LOGAGG_KAFKA_* security variables parse"),
        }
    }

    /// Starts `binary` on a free port (announced in `addr_var`) with this sandbox's
    /// environment plus `extra`; does not wait for it.
    pub fn spawn(
        &self,
        binary: &str,
        addr_var: &str,
        label: &str,
        extra: &[(String, String)],
    ) -> anyhow::Result<Service> {
        let port = crate::services::free_port()?;
        let mut vars = self.vars();
        vars.push((addr_var.to_owned(), format!("127.0.0.1:{port}")));
        vars.extend(extra.iter().cloned());
        let log = self
            .services
            .log_dir
            .join(format!("{}-{label}.log", self.name));
        Service::spawn(&self.services.binary(binary)?, port, &vars, log)
    }

    /// Starts `logagg-consumer` (not waiting for it).
    pub fn spawn_consumer(
        &self,
        label: &str,
        extra: &[(String, String)],
    ) -> anyhow::Result<Service> {
        self.spawn("logagg-consumer", "LOGAGG_CONSUMER_ADDR", label, extra)
    }

    /// Starts `logagg-api` and waits until its /health answers 200.
    pub async fn spawn_api(&self, extra: &[(String, String)]) -> anyhow::Result<Service> {
        let api = self.spawn("logagg-api", "LOGAGG_API_ADDR", "api", extra)?;
        api.wait_health(200, crate::process::START_TIMEOUT).await?;
        Ok(api)
    }

    /// The group's counters summed over its partitions (all zero before the first batch).
    pub async fn counts(&self) -> anyhow::Result<Counts> {
        let mut conn = self.pool.get().await?;
        let rows = db::progress::all(&mut conn, &self.group, &self.topic).await?;
        let mut total = Counts::default();
        for row in rows {
            total.add(&row.counts);
        }
        Ok(total)
    }

    /// `unique_processed`, rows, `expired` and `deleted` from one snapshot.
    pub async fn ledger(&self) -> anyhow::Result<db::retention::Ledger> {
        let mut conn = self.pool.get().await?;
        Ok(db::retention::ledger(&mut conn, &self.group, &self.topic).await?)
    }

    /// Rows in `events`.
    pub async fn rows(&self) -> anyhow::Result<i64> {
        let mut conn = self.pool.get().await?;
        Ok(db::events::count(&mut conn).await?)
    }

    /// Runs SQL on this sandbox's database; the rows it affected.
    pub async fn execute(&self, sql: &str) -> anyhow::Result<usize> {
        let mut conn = self.pool.get().await?;
        Ok(diesel::sql_query(sql).execute(&mut conn).await?)
    }

    /// `partition -> high watermark` of the topic (records ever written).
    pub async fn end_offsets(&self) -> anyhow::Result<std::collections::BTreeMap<i32, i64>> {
        let (brokers, topic) = (self.services.brokers.clone(), self.topic.clone());
        tokio::task::spawn_blocking(move || kafka::end_offsets(&brokers, &topic)).await?
    }

    /// Drops the database and deletes the topic now, reporting failures (unless `keep`).
    pub async fn remove(mut self) -> anyhow::Result<()> {
        self.removed = true;
        if self.keep {
            return Ok(());
        }
        self.pool.close();
        teardown(
            &self.services.admin_url,
            &self.database,
            &self.services.brokers,
            &self.topic,
        )
        .await
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if self.removed || self.keep {
            return;
        }
        self.pool.close();
        let (admin_url, database) = (self.services.admin_url.clone(), self.database.clone());
        let (brokers, topic) = (self.services.brokers.clone(), self.topic.clone());
        run_detached(&self.name, async move {
            teardown(&admin_url, &database, &brokers, &topic).await
        });
    }
}

/// Runs cleanup from a `Drop`: Drop cannot await, and may run on a runtime thread or while
/// unwinding, so the future runs on a thread of its own with its own runtime, and a failure
/// is reported instead of panicking.
pub(crate) fn run_detached<F>(name: &str, cleanup: F)
where
    F: std::future::Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let done = std::thread::spawn(move || {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?
            .block_on(cleanup)
    })
    .join();
    match done {
        Ok(Ok(())) => {}
        Ok(Err(error)) => eprintln!("{name}: cleanup failed: {error:#}"),
        Err(_) => eprintln!("{name}: cleanup panicked"),
    }
}

/// Drops `database` and deletes `topic`.
async fn teardown(
    admin_url: &str,
    database: &str,
    brokers: &str,
    topic: &str,
) -> anyhow::Result<()> {
    drop_database(admin_url, database).await?;
    kafka::delete_topic(brokers, topic)
        .await
        .with_context(|| format!("deleting topic {topic}"))
}

/// Drops `database`, ending the connections still open to it.
pub(crate) async fn drop_database(admin_url: &str, database: &str) -> anyhow::Result<()> {
    let mut admin = connect_admin(admin_url).await?;
    // FORCE ends lingering connections (a killed service's, the pool's), but a non-superuser
    // may not end an autovacuum worker busy in the database; plain DROP waits that one out.
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
            Ok(_) => return Ok(()),
            Err(_) if Instant::now() < deadline => {
                force = !force;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(error) => {
                return Err(anyhow::Error::new(error).context(format!("dropping {database}")))
            }
        }
    }
}
