//! (1) The PostgreSQL ceiling: the dataset's sends bulk-inserted into the real `events` table
//! (every index the product ships) from a staging table with `INSERT ... SELECT ... ON CONFLICT
//! DO NOTHING`, by 1, 2 and 4 concurrent sessions each inserting a disjoint share of the keys;
//! the best is the machine's ceiling, not one backend's. Plus two
//! client-side diagnostics that isolate the consumer's insert statement from everything else
//! it does (Kafka, decoding, locks, counters): the same sends in 5,000-send transactions through
//! the consumer's own `insert_new` (one `INSERT ... SELECT FROM unnest(arrays)` per chunk), and
//! through COPY into a temporary table ([`crate::copy_insert`]).

use std::collections::HashSet;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use diesel::sql_types::{Array, BigInt};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use logagg_core::db::events::{bind_event_arrays, insert_new, NewEvent};

use crate::dataset::Dataset;
use logagg_testkit::Sandbox;

/// Rows per staging-load statement (arrays, so no bind-parameter limit applies).
const STAGING_CHUNK: usize = 50_000;
/// Concurrent sessions the ceiling is measured with; the best counts.
pub const CEILING_SESSIONS: [usize; 3] = [1, 2, 4];

#[derive(Debug, Clone)]
pub struct PgCeiling {
    pub sends: usize,
    pub inserted: usize,
    pub elapsed: Duration,
    pub staging_load: Duration,
    /// The client-side insert diagnostic (sends/s), when run.
    pub client: Option<ClientInsert>,
    /// The same transactions through COPY BINARY + INSERT … SELECT, when run.
    pub copy: Option<ClientInsert>,
    pub cpu: crate::procfs::CpuUse,
    /// Every ceiling sample: (sessions, rows/s); `elapsed` is the best one's.
    pub samples: Vec<(usize, f64)>,
    /// Sessions of the best sample.
    pub best_sessions: usize,
}

#[derive(Debug, Clone)]
pub struct ClientInsert {
    pub sends: usize,
    pub batch: usize,
    pub inserted: usize,
    pub elapsed: Duration,
}

impl ClientInsert {
    pub fn rate(&self) -> f64 {
        self.sends as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

impl PgCeiling {
    pub fn rate(&self) -> f64 {
        self.sends as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The best sample with this many sessions (rows/s).
    pub fn best_with(&self, sessions: usize) -> Option<f64> {
        self.samples
            .iter()
            .filter(|(n, _)| *n == sessions)
            .map(|(_, rate)| *rate)
            .max_by(f64::total_cmp)
    }
}

fn rows_of(data: &Dataset) -> Vec<NewEvent> {
    (0..data.len())
        .map(|k| NewEvent::from_event(&data.plan.send(k), 0, k as i64))
        .collect()
}

/// The `events` columns a send fills, in the order the consumer binds them.
pub(crate) const COLUMNS: &str =
    "topic, event_id, source, event_timestamp, payload, kafka_partition, kafka_offset";

async fn load_staging(conn: &mut AsyncPgConnection, rows: &[NewEvent]) -> anyhow::Result<()> {
    diesel::sql_query(
        "CREATE UNLOGGED TABLE bench_staging (seq bigint NOT NULL, topic text NOT NULL,
            event_id text NOT NULL, source text NOT NULL, event_timestamp timestamptz NOT NULL,
            payload jsonb NOT NULL, kafka_partition integer NOT NULL, kafka_offset bigint NOT NULL)",
    )
    .execute(conn)
    .await?;
    for (c, chunk) in rows.chunks(STAGING_CHUNK).enumerate() {
        let base = (c * STAGING_CHUNK) as i64;
        // The event columns are $1..$7 as the consumer binds them; the sequence is $8.
        bind_event_arrays(
            &format!(
                "INSERT INTO bench_staging ({COLUMNS}, seq)
                 SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[],
                                      $5::jsonb[], $6::integer[], $7::bigint[], $8::bigint[])"
            ),
            chunk,
        )
        .bind::<Array<BigInt>, _>(
            (0..chunk.len() as i64)
                .map(|i| base + i)
                .collect::<Vec<_>>(),
        )
        .execute(conn)
        .await
        .context("loading the staging table")?;
    }
    diesel::sql_query("ANALYZE bench_staging")
        .execute(conn)
        .await?;
    // Read it once so the timed statement finds it cached, as a consumer finds its batch in memory.
    diesel::sql_query("SELECT count(*) FROM bench_staging")
        .execute(conn)
        .await?;
    Ok(())
}

/// Empties `events` before a run (new files for the table and its indexes: a fresh table),
/// and checkpoints when allowed, so no run pays for the previous one's dirty pages.
async fn reset_events(conn: &mut AsyncPgConnection) -> anyhow::Result<()> {
    diesel::sql_query("TRUNCATE events RESTART IDENTITY")
        .execute(conn)
        .await?;
    // CHECKPOINT needs superuser or pg_checkpoint; without it the background writer does it.
    let _ = diesel::sql_query("CHECKPOINT").execute(conn).await;
    diesel::sql_query("VACUUM ANALYZE events")
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn run(
    scope: &Sandbox,
    data: &Dataset,
    batch: usize,
    diagnostics: bool,
    rounds: usize,
) -> anyhow::Result<PgCeiling> {
    let mut conn = AsyncPgConnection::establish(&scope.database_url).await?;
    let rows = rows_of(data);
    let started = Instant::now();
    load_staging(&mut conn, &rows).await?;
    let staging_load = started.elapsed();

    let mut best: Option<(Duration, crate::procfs::CpuUse, usize)> = None;
    let mut samples = Vec::new();
    let (mut client, mut copy): (Option<ClientInsert>, Option<ClientInsert>) = (None, None);
    // Built before any clock starts: the consumer has its rows in memory too.
    let batches = consumer_batches(&rows, batch);
    let keep_best = |best: &mut Option<ClientInsert>, run: ClientInsert| {
        if best.as_ref().is_none_or(|b| run.elapsed < b.elapsed) {
            *best = Some(run);
        }
    };
    for _ in 0..rounds.max(1) {
        for sessions in CEILING_SESSIONS {
            reset_events(&mut conn).await?;
            let watch = crate::procfs::CpuWatch::new(Vec::new());
            let before = watch.snapshot();
            let started = Instant::now();
            let inserted = insert_in_sessions(&scope.database_url, sessions).await?;
            let elapsed = started.elapsed();
            let cpu = watch.between(&before, &watch.snapshot());
            ensure!(
                inserted == data.distinct(),
                "PostgreSQL ceiling ({sessions} sessions) inserted {inserted} rows, expected {} distinct events",
                data.distinct()
            );
            samples.push((
                sessions,
                data.len() as f64 / elapsed.as_secs_f64().max(1e-9),
            ));
            if best.as_ref().is_none_or(|(b, _, _)| elapsed < *b) {
                best = Some((elapsed, cpu, sessions));
            }
        }
        if diagnostics {
            reset_events(&mut conn).await?;
            let timed = |(inserted, elapsed)| ClientInsert {
                sends: rows.len(),
                batch,
                inserted,
                elapsed,
            };
            let run = client_insert(&mut conn, &batches, data.distinct()).await?;
            keep_best(&mut client, timed(run));
            reset_events(&mut conn).await?;
            let run = crate::copy_insert::run(&scope.database_url, &batches, data.distinct())
                .await
                .context("(1c) COPY diagnostic")?;
            keep_best(&mut copy, timed(run));
        }
    }
    let (elapsed, cpu, best_sessions) = best.expect("at least one round");
    Ok(PgCeiling {
        sends: data.len(),
        inserted: data.distinct(),
        elapsed,
        staging_load,
        client,
        copy,
        cpu,
        samples,
        best_sessions,
    })
}

/// The staged rows inserted by `sessions` concurrent sessions, each taking the keys whose
/// `event_id` hashes to its share: disjoint keys, so no session waits on another's rows (as
/// consumers writing disjoint partitions do). Returns the rows inserted.
async fn insert_in_sessions(database_url: &str, sessions: usize) -> anyhow::Result<usize> {
    let mut connections = Vec::with_capacity(sessions);
    for _ in 0..sessions {
        connections.push(AsyncPgConnection::establish(database_url).await?);
    }
    let inserts = connections.iter_mut().enumerate().map(|(share, conn)| {
        diesel::sql_query(format!(
            "INSERT INTO events ({COLUMNS}) SELECT {COLUMNS} FROM bench_staging
             WHERE abs(hashtext(event_id)) % {sessions} = {share} ORDER BY seq
             ON CONFLICT (topic, event_id) DO NOTHING"
        ))
        .execute(conn)
    });
    let inserted = futures::future::try_join_all(inserts)
        .await
        .context("the ceiling's INSERT ... SELECT")?;
    Ok(inserted.into_iter().sum())
}

/// The sends cut into transactions of `batch`, first occurrence per key within a batch (as the
/// consumer's `prepare` does).
fn consumer_batches(rows: &[NewEvent], batch: usize) -> Vec<Vec<NewEvent>> {
    rows.chunks(batch.max(1))
        .map(|chunk| {
            let mut seen = HashSet::with_capacity(chunk.len());
            chunk
                .iter()
                .filter(|r| seen.insert((r.topic.as_str(), r.event_id.as_str())))
                .cloned()
                .collect()
        })
        .collect()
}

/// `batches` one transaction each through `insert_new`, with `RETURNING` of the inserted keys
/// (as the consumer needs): rows inserted and the time taken.
async fn client_insert(
    conn: &mut AsyncPgConnection,
    batches: &[Vec<NewEvent>],
    distinct: usize,
) -> anyhow::Result<(usize, Duration)> {
    let started = Instant::now();
    let mut inserted = 0;
    for unique in batches {
        let keys = conn
            .transaction::<_, anyhow::Error, _>(async |conn| Ok(insert_new(conn, unique).await?))
            .await?;
        inserted += keys.len();
    }
    let elapsed = started.elapsed();
    ensure!(
        inserted == distinct,
        "client-side insert stored {inserted} rows, expected {distinct}"
    );
    Ok((inserted, elapsed))
}
