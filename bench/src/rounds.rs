//! The rounds of (2)+(3)/(7) ingest and (4) HTTP publish; and [`measure`], which runs every
//! measurement in its own sandbox and repeats one disturbed by a Kafka or PostgreSQL restart
//! (other people's tests on this machine stop and start the shared services).

use std::time::{Duration, Instant};

use diesel_async::RunQueryDsl;
use logagg_testkit::template::connect_admin;

use crate::dataset::Dataset;
use crate::report::Scale;
use crate::settings::Settings;
use crate::{http, ingest, kafka_ceiling, procfs, say};
use logagg_testkit::Sandbox;

/// A scope label, suffixed on a repeated attempt (databases and topics must be new).
fn label(phase: &str, attempt: u32) -> String {
    if attempt == 0 {
        phase.to_owned()
    } else {
        format!("{phase}_r{attempt}")
    }
}

/// Runs a measurement in its own sandbox (named after `phase`, removed afterwards); when Kafka
/// or PostgreSQL restarted while it ran (other engineers' tests stop and start the shared local
/// services), waits for them and measures once more in a new sandbox. Returns the outcome and
/// whether it was still disturbed.
pub async fn measure<T>(
    what: &str,
    settings: &Settings,
    phase: &str,
    mut run: impl AsyncFnMut(&Sandbox) -> anyhow::Result<T>,
) -> (anyhow::Result<T>, bool) {
    let mut attempt = 0;
    loop {
        if let Err(e) = wait_services().await {
            return (Err(e), false);
        }
        let before = procfs::service_pids();
        let outcome = settings
            .in_sandbox(&label(phase, attempt), async |scope| run(scope).await)
            .await;
        let disturbed = procfs::service_pids() != before;
        if !disturbed || attempt >= 1 {
            return (outcome, disturbed);
        }
        say(format!(
            "{what}: Kafka or PostgreSQL was restarted while it ran (someone else's test?); measuring again"
        ));
        attempt += 1;
    }
}

/// Waits (up to 3 minutes) until PostgreSQL and Kafka both answer.
async fn wait_services() -> anyhow::Result<()> {
    let services = logagg_testkit::Services::from_env();
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let pg = connect_admin(&services.admin_url).await.is_ok();
        let brokers = services.brokers.clone();
        let kafka =
            tokio::task::spawn_blocking(move || logagg_testkit::kafka::reachable(&brokers)).await?;
        if pg && kafka {
            return Ok(());
        }
        if Instant::now() > deadline {
            anyhow::bail!("PostgreSQL ({pg}) or Kafka ({kafka}) not answering for 3 minutes");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// (2) and (3)/(7) on one fresh topic and database.
///
/// One consumer (3): raw produce pre-fills the topic, raw consume reads it, then the consumer
/// process starts and ingests it. Two consumers (7): the processes start first and the bench
/// waits until the group has given each of them partitions, then raw produce fills the topic
/// (about 7× faster than it is ingested) and raw consume reads it after the ingest; so (7)
/// measures two consumers working, not the ~4 s cooperative rebalance that hands partitions
/// to a consumer joining a busy one.
/// How an ingest round runs its consumers.
#[derive(Clone, Copy)]
pub struct Writing<'a> {
    pub consumers: usize,
    /// `LOGAGG_CONSUMER_WRITERS`; `None`: the default.
    pub writers: Option<usize>,
    /// For `--profile`.
    pub settings: &'a Settings,
}

pub async fn ingest_round(
    scope: &Sandbox,
    data: &Dataset,
    writing: &Writing<'_>,
    timeout: Duration,
) -> anyhow::Result<(
    kafka_ceiling::Throughput,
    kafka_ceiling::Throughput,
    ingest::Ingest,
)> {
    let Writing {
        consumers,
        writers,
        settings,
    } = *writing;
    let kafka = scope.kafka();
    let mut early = None;
    if consumers > 1 {
        let mut running = ingest::spawn(scope, consumers, writers)?;
        ingest::wait_group_ready(scope, &mut running, Duration::from_secs(60)).await?;
        early = Some(running);
    }
    let warmup = format!("{}.warmup", scope.topic);
    logagg_testkit::kafka::create_topic(&scope.services.brokers, &warmup, 1).await?;
    if let Some(running) = &mut early {
        running.data_from = Some(Instant::now());
    }
    // Blocking rdkafka loops, borrowing the dataset in place (no copy of ~185 MB).
    let produced = tokio::task::block_in_place(|| kafka_ceiling::produce(&kafka, data, &warmup));
    logagg_testkit::kafka::delete_topic(&scope.services.brokers, &warmup).await?;
    let mut produced = produced?;
    if early.is_some() {
        produced.note = format!("while the {consumers} consumers were already ingesting it");
    }
    let raw_consume = || tokio::task::block_in_place(|| kafka_ceiling::consume(&kafka, data.len()));
    let (consumed, run) = match early {
        Some(running) => {
            let run = ingest::measure(scope, data, running, timeout).await?;
            (raw_consume()?, run)
        }
        None => {
            let consumed = raw_consume()?;
            let running = ingest::spawn(scope, consumers, writers)?;
            let writers_name = writers.map_or("default".to_owned(), |w| w.to_string());
            let recording = settings.profile(
                crate::profile::Target::Machine,
                &format!("the machine during ingest (3), LOGAGG_CONSUMER_WRITERS={writers_name}"),
            );
            let mut run = ingest::measure(scope, data, running, timeout).await?;
            run.profile = crate::settings::finish_profile(recording);
            (consumed, run)
        }
    };
    Ok((produced, consumed, run))
}

/// What (4) measured on one API process.
pub struct HttpRound {
    pub batch: http::Publish,
    pub single: http::Publish,
    pub api_rss: u64,
    pub in_topic: (i64, i64),
    pub cpu_batch: procfs::CpuUse,
    pub cpu_single: procfs::CpuUse,
    pub profiles: Vec<crate::profile::Profile>,
}

/// (4): batches of 500, then single events at 64 connections, on one API process; its peak RSS.
pub async fn http_round(
    scope: &Sandbox,
    data: &Dataset,
    scale: &Scale,
    settings: &Settings,
) -> anyhow::Result<HttpRound> {
    let api = scope.spawn_api(&[]).await?;
    let watch = procfs::CpuWatch::new(vec![(api.pid(), "api".into())]);
    let mut profiles = Vec::new();
    let recording = settings.profile(
        crate::profile::Target::Process(api.pid()),
        "logagg-api, batches of 500 (4a)",
    );
    let before = watch.snapshot();
    let batch = http::batches(
        &api.url(""),
        data,
        scale.http_events,
        scale.batch,
        scale.batch_concurrency,
    )
    .await?;
    let middle = watch.snapshot();
    profiles.extend(crate::settings::finish_profile(recording));
    let recording = settings.profile(
        crate::profile::Target::Process(api.pid()),
        "logagg-api, single events (4b)",
    );
    say(format!(
        "    batches of {}: {:.0} events/s",
        scale.batch,
        batch.events_per_sec()
    ));
    let single = http::singles(
        &api.url(""),
        data,
        Duration::from_secs_f64(scale.single_secs),
        scale.single_connections,
    )
    .await?;
    let end = watch.snapshot();
    profiles.extend(crate::settings::finish_profile(recording));
    say(format!(
        "    single events: {:.0} requests/s, ack p50 {:.1} ms, p99 {:.1} ms",
        single.requests_per_sec(),
        single.latencies.quantile_ms(0.5),
        single.latencies.quantile_ms(0.99)
    ));
    let api_rss = procfs::peak_rss(&api);
    // No loss: the topic holds exactly what was acknowledged (no retries were made).
    let kafka = scope.kafka();
    let in_topic: i64 = tokio::task::block_in_place(|| kafka_ceiling::partition_counts(&kafka))?
        .iter()
        .sum();
    api.stop().await?;
    Ok(HttpRound {
        in_topic: (in_topic, (batch.events + single.events) as i64),
        batch,
        single,
        api_rss,
        cpu_batch: watch.between(&before, &middle),
        cpu_single: watch.between(&middle, &end),
        profiles,
    })
}

/// A few PostgreSQL settings that bound (1) and (3), for the report.
pub async fn postgres_settings(url: &str) -> anyhow::Result<Vec<(String, String)>> {
    let mut conn = connect_admin(url).await?;
    let mut out = Vec::new();
    #[derive(diesel::QueryableByName)]
    struct Setting {
        #[diesel(sql_type = diesel::sql_types::Text)]
        value: String,
    }
    for name in [
        "server_version",
        "shared_buffers",
        "synchronous_commit",
        "fsync",
        "wal_level",
        "max_wal_size",
    ] {
        let setting: Setting =
            diesel::sql_query(format!("SELECT current_setting('{name}') AS value"))
                .get_result(&mut conn)
                .await?;
        out.push((name.to_owned(), setting.value));
    }
    Ok(out)
}
