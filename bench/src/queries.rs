//! (9) Finding logs: the latency (p50/p99) of each documented query form of `GET /events` on a
//! bulk-generated table, and (10) what the read side's column and indexes cost the consumer:
//! the same ingest into a database without them, with only the commit-order cursor (`tx` and
//! its two indexes), and with everything, in the same run, as ratios.

use std::time::{Duration, Instant};

use diesel_async::RunQueryDsl;
use logagg_core::db::{query_forms, search};

use crate::dataset::Dataset;
use crate::{ingest, kafka_ceiling, say};
use logagg_testkit::Sandbox;

/// One form's latencies.
#[derive(Debug, Clone)]
pub struct FormLatency {
    pub form: &'static str,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub rows: usize,
}

/// Rows generated per INSERT (each its own short transaction).
const GENERATE_STEP: i64 = 250_000;

/// Generates `rows` events in a fresh database and times each form `runs` times.
pub async fn latencies(
    scope: &Sandbox,
    rows: i64,
    runs: usize,
) -> anyhow::Result<Vec<FormLatency>> {
    let mut conn = scope.pool.get().await?;
    let started = Instant::now();
    let mut lo = 1;
    while lo <= rows {
        let hi = (lo + GENERATE_STEP - 1).min(rows);
        diesel::sql_query(query_forms::generate_sql(lo, hi))
            .execute(&mut conn)
            .await?;
        lo = hi + 1;
    }
    diesel::sql_query("VACUUM ANALYZE events")
        .execute(&mut conn)
        .await?;
    say(format!(
        "    generated {rows} events in {:.0} s",
        started.elapsed().as_secs_f64()
    ));
    let mut out = Vec::new();
    for (form, query) in query_forms::forms() {
        // One untimed run warms the cache, as a repeated dashboard query would be.
        search::find(&mut conn, &query).await?;
        let mut times = Vec::with_capacity(runs);
        let mut found = 0;
        for _ in 0..runs {
            let t = Instant::now();
            found = search::find(&mut conn, &query).await?.len();
            times.push(t.elapsed());
        }
        times.sort();
        let q = |p: f64| ms(times[((times.len() - 1) as f64 * p).round() as usize]);
        out.push(FormLatency {
            form,
            p50_ms: q(0.5),
            p99_ms: q(0.99),
            rows: found,
        });
    }
    anyhow::Ok(out)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Which of the read side's schema additions an ingest database keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadSchema {
    /// As before issue 12: no `tx` column, none of the new indexes.
    Without,
    /// The commit-order cursor only: `tx` and its two indexes.
    CursorOnly,
    /// Everything the migration adds.
    All,
}

impl ReadSchema {
    pub fn name(self) -> &'static str {
        match self {
            ReadSchema::Without => "without the read-side column and indexes",
            ReadSchema::CursorOnly => "with tx + (tx, id) + (topic, tx, id) only",
            ReadSchema::All => "with every read-side index",
        }
    }

    fn drops(self) -> &'static [&'static str] {
        const SEARCH: [&str; 4] = [
            "DROP INDEX events_source_id_idx",
            "DROP INDEX events_event_timestamp_idx",
            "DROP INDEX events_search_trgm_idx",
            "DROP INDEX events_payload_idx",
        ];
        const ALL: [&str; 7] = [
            "DROP INDEX events_source_id_idx",
            "DROP INDEX events_event_timestamp_idx",
            "DROP INDEX events_search_trgm_idx",
            "DROP INDEX events_payload_idx",
            "DROP INDEX events_tx_id_idx",
            "DROP INDEX events_topic_tx_id_idx",
            "ALTER TABLE events DROP COLUMN tx",
        ];
        match self {
            ReadSchema::Without => &ALL,
            ReadSchema::CursorOnly => &SEARCH,
            ReadSchema::All => &[],
        }
    }
}

/// One consumer ingesting the pre-filled topic into a database with `schema`; events/s.
pub async fn ingest_rate(
    scope: &Sandbox,
    data: &Dataset,
    schema: ReadSchema,
    timeout: Duration,
) -> anyhow::Result<f64> {
    let mut conn = scope.pool.get().await?;
    for statement in schema.drops() {
        diesel::sql_query(*statement).execute(&mut conn).await?;
    }
    drop(conn);
    let kafka = scope.kafka();
    let warmup = format!("{}.warmup", scope.topic);
    logagg_testkit::kafka::create_topic(&scope.services.brokers, &warmup, 1).await?;
    let produced = tokio::task::block_in_place(|| kafka_ceiling::produce(&kafka, data, &warmup));
    logagg_testkit::kafka::delete_topic(&scope.services.brokers, &warmup).await?;
    produced?;
    let running = ingest::spawn(scope, 1, None)?;
    let run = ingest::measure(scope, data, running, timeout).await?;
    if !run.golden_errors.is_empty() {
        anyhow::bail!("golden counts: {}", run.golden_errors.join("; "));
    }
    anyhow::Ok(run.rate())
}

/// What (9) and (10) measured.
#[derive(Debug, Clone, Default)]
pub struct QueryResults {
    /// Rows in the table the forms were timed on.
    pub rows: i64,
    pub runs: usize,
    pub forms: Vec<FormLatency>,
    /// Events/s of one consumer by read-side schema.
    pub ingest: Vec<(ReadSchema, f64)>,
}

impl QueryResults {
    /// (9) and (10) as Markdown tables: the same text is printed and written to the doc.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if !self.forms.is_empty() {
            out += &format!(
                "\n### (9) `GET /events` query forms on {} bulk-generated events\n\n\
                 One page (limit 101) per query, {} timed runs each after one warm-up run, in-process \
                 through `core::db::search` (the SQL the API runs, without HTTP).\n\n",
                crate::report::thousands(self.rows as f64),
                self.runs
            );
            out += "| Form | p50 ms | p99 ms | Rows |\n|---|---:|---:|---:|\n";
            for f in &self.forms {
                out += &format!(
                    "| {} | {:.2} | {:.2} | {} |\n",
                    f.form, f.p50_ms, f.p99_ms, f.rows
                );
            }
        }
        if let Some((_, base)) = self.ingest.iter().find(|(s, _)| *s == ReadSchema::Without) {
            out += "\n### (10) What the read side costs ingest (1 consumer, same dataset, same run)\n\n";
            out += "| Schema | Ingest events/s | Ratio to without |\n|---|---:|---:|\n";
            for (schema, rate) in &self.ingest {
                out += &format!(
                    "| {} | {} | {:.2} |\n",
                    schema.name(),
                    crate::report::thousands(*rate),
                    rate / base
                );
            }
        }
        out
    }
}
