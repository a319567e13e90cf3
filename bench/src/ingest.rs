//! (3) and (7): the real `logagg-consumer` process(es) ingesting a pre-filled topic into a
//! fresh database, every guarantee on (default configuration). The rate is measured from the
//! first committed batch to the last, from the progress rows in PostgreSQL; the golden counts
//! are checked exactly afterwards. (8) comes from the consumer's own /metrics.

use std::time::{Duration, Instant};

use anyhow::bail;

use crate::dataset::Dataset;
use logagg_core::db::progress::Counts;
use logagg_testkit::{Expected, Sandbox, Service};

use crate::procfs::{CpuUse, CpuWatch};
use crate::stages::StageSplit;

#[derive(Debug, Clone)]
pub struct Ingest {
    pub consumers: usize,
    /// `LOGAGG_CONSUMER_WRITERS` of the consumers; `None`: the default.
    pub writers: Option<usize>,
    pub records: usize,
    /// From the first committed batch to the last.
    pub steady: Duration,
    pub records_steady: usize,
    /// From spawning the process(es), or from the start of production when they were started
    /// first, to the last commit.
    pub wall: Duration,
    pub counters: Counts,
    pub rows: i64,
    /// Golden-count mismatches (empty when exact).
    pub golden_errors: Vec<String>,
    pub peak_rss: Vec<u64>,
    pub stages: Vec<StageSplit>,
    pub cpu: CpuUse,
    pub partition_records: Vec<i64>,
    /// Whether the steady window had every consumer committing (see [`measure`]).
    pub all_consumers_active: bool,
    /// When the consumers were started before the data and waited for: how long the group
    /// took to give each of them partitions.
    pub joined_after: Option<Duration>,
    /// Partitions of each consumer, when the group was waited for.
    pub assignment: Vec<Vec<i32>>,
    /// The first consumer's profile, with `--profile`.
    pub profile: Option<crate::profile::Profile>,
}

impl Ingest {
    pub fn rate(&self) -> f64 {
        if self.records_steady > 0 && self.steady > Duration::ZERO {
            self.records_steady as f64 / self.steady.as_secs_f64()
        } else {
            self.wall_rate()
        }
    }

    pub fn wall_rate(&self) -> f64 {
        self.records as f64 / self.wall.as_secs_f64().max(1e-9)
    }
}

/// Consumer processes started for a measurement.
pub struct Running {
    pub services: Vec<Service>,
    pub writers: Option<usize>,
    pub spawned: Instant,
    /// How long the group took to give every consumer partitions, when waited for.
    pub joined_after: Option<Duration>,
    /// When the data started to arrive, if after the start (the wall time counts from here).
    pub data_from: Option<Instant>,
    /// Partitions of each consumer once the group was ready (when waited for).
    pub assignment: Vec<Vec<i32>>,
}

/// Starts `consumers` consumer processes on `scope` (not waiting for them), with
/// `LOGAGG_CONSUMER_WRITERS=writers` when given.
pub fn spawn(scope: &Sandbox, consumers: usize, writers: Option<usize>) -> anyhow::Result<Running> {
    let spawned = Instant::now();
    let env: Vec<(String, String)> = writers
        .map(|w| ("LOGAGG_CONSUMER_WRITERS".to_owned(), w.to_string()))
        .into_iter()
        .collect();
    let services = (0..consumers)
        .map(|n| scope.spawn_consumer(&format!("consumer{}", n + 1), &env))
        .collect::<anyhow::Result<_>>()?;
    Ok(Running {
        services,
        writers,
        spawned,
        joined_after: None,
        data_from: None,
        assignment: Vec::new(),
    })
}

/// Waits until the group is stable with every consumer owning partitions and every partition
/// owned (so a measurement sees all of them working, not the rebalance that hands partitions
/// over to a late joiner).
pub async fn wait_group_ready(
    scope: &Sandbox,
    running: &mut Running,
    timeout: Duration,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    let kafka = scope.kafka();
    loop {
        let members = {
            let kafka = kafka.clone();
            tokio::task::spawn_blocking(move || crate::kafka_ceiling::group_assignment(&kafka))
                .await??
        };
        let owned: usize = members.iter().map(Vec::len).sum();
        if members.len() == running.services.len()
            && members.iter().all(|m| !m.is_empty())
            && owned == scope.partitions as usize
        {
            running.joined_after = Some(running.spawned.elapsed());
            running.assignment = members;
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "the group did not give every consumer partitions within {timeout:?}: {members:?}"
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Measures `running` consumers ingesting `data` (already in, or arriving in, the scope's
/// topic) until every record is counted, then stops them and checks the golden counts.
pub async fn measure(
    scope: &Sandbox,
    data: &Dataset,
    running: Running,
    timeout: Duration,
) -> anyhow::Result<Ingest> {
    let expected = data.len() as i64;
    let consumers = running.services.len();
    let partition_records = {
        let kafka = scope.kafka();
        tokio::task::spawn_blocking(move || crate::kafka_ceiling::partition_counts(&kafka))
            .await??
    };
    let Running {
        mut services,
        writers,
        spawned,
        joined_after,
        data_from,
        assignment,
    } = running;
    let origin = data_from.unwrap_or(spawned);
    let watch = CpuWatch::new(
        services
            .iter()
            .map(|s| (s.pid(), "consumer".to_owned()))
            .collect(),
    );
    let before = watch.snapshot();
    // The steady window opens at the first poll after which every consumer committed a
    // batch (with 2, the second one's group join takes a rebalance); `first_any` is the
    // fallback when one never got a batch before the topic was drained.
    let mut first: Option<(Instant, i64)> = None;
    let mut first_any: Option<(Instant, i64)> = None;
    let deadline = origin + timeout;
    let (done_at, counters) = loop {
        let counters = scope.counts().await?;
        let now = Instant::now();
        if counters.received > 0 && first_any.is_none() {
            first_any = Some((now, counters.received));
        }
        if counters.received > 0 && first.is_none() && all_active(&services).await {
            first = Some((now, counters.received));
        }
        if counters.received >= expected {
            break (now, counters);
        }
        if now > deadline {
            bail!(
                "ingest with {consumers} consumer(s): {} of {expected} records after {timeout:?} (logs: {})",
                counters.received,
                services[0].log.display()
            );
        }
        for service in &mut services {
            if let Some(status) = service.child.try_wait()? {
                bail!(
                    "{} exited early ({status}; log: {})",
                    service.name,
                    service.log.display()
                );
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let cpu = watch.between(&before, &watch.snapshot());
    let mut stages = Vec::new();
    let mut peak_rss = Vec::new();
    for service in &services {
        stages.push(StageSplit::parse(&service.get_text("/metrics").await?));
        peak_rss.push(crate::procfs::peak_rss(service));
    }
    for service in services {
        service.stop().await?;
    }
    let rows = scope.rows().await?;
    let all_consumers_active = first.is_some();
    let (first_at, first_received) = first.or(first_any).unwrap_or((done_at, expected));
    let golden_errors = Expected::of_plan(&data.plan).mismatches(&counters, rows);
    Ok(Ingest {
        consumers,
        writers,
        records: data.len(),
        steady: done_at - first_at,
        records_steady: (expected - first_received) as usize,
        wall: done_at - origin,
        counters,
        rows,
        golden_errors,
        peak_rss,
        stages,
        cpu,
        partition_records,
        all_consumers_active,
        joined_after,
        assignment,
        profile: None,
    })
}

/// Whether every consumer has committed at least one batch (always true for one consumer:
/// the caller saw progress).
async fn all_active(services: &[Service]) -> bool {
    if services.len() < 2 {
        return true;
    }
    for service in services {
        match service.get_text("/metrics").await {
            Ok(text) if StageSplit::parse(&text).batch_count() > 0 => {}
            _ => return false,
        }
    }
    true
}
