//! (11) Retention: the consumer's insert (`events::insert_new`, batches of 5000 new rows) on a
//! bulk-generated table, first alone, then while the enforcer's DELETE steps
//! (`retention::remove_step`, 5000 rows each) remove every generated row, in the same run; and
//! the removal's rows/s. The storage-design comparison at 10M rows (partitions vs batched
//! deletes) is `scripts/bench-retention-storage.sh` (docs/RETENTION.md).

use std::time::Instant;

use diesel_async::RunQueryDsl;
use logagg_core::db::events::{self, NewEvent};
use logagg_core::db::query_forms;
use logagg_core::db::retention::{self, Doomed};

use crate::say;
use logagg_testkit::Sandbox;

/// Rows per insert batch and per DELETE step.
const STEP: usize = 5_000;
/// The generator's topics (`svc.0` .. `svc.39`).
const TOPICS: usize = 40;

/// What (11) measured.
#[derive(Debug, Clone, Default)]
pub struct RetentionResults {
    /// Generated rows, all of them due for removal.
    pub rows: i64,
    /// Rows inserted in each ingest measurement.
    pub ingested: i64,
    pub ingest_without: f64,
    pub ingest_with: f64,
    pub removed: i64,
    pub removal_rows_per_s: f64,
}

/// `batches` batches of new rows (ids tagged `round`) through the consumer's insert; rows/s.
async fn ingest(
    settings_pool: &logagg_core::db::Pool,
    round: &str,
    batches: usize,
) -> anyhow::Result<f64> {
    let mut conn = settings_pool.get().await?;
    let now = chrono::Utc::now();
    let started = Instant::now();
    for b in 0..batches {
        let rows: Vec<NewEvent> = (0..STEP)
            .map(|k| NewEvent {
                topic: format!("svc.{}", k % TOPICS),
                event_id: format!("{round}-{b}-{k}"),
                source: "bench".into(),
                event_timestamp: now,
                payload: serde_json::json!({"level": "info", "n": k}),
                kafka_partition: 0,
                kafka_offset: (b * STEP + k) as i64,
            })
            .collect();
        events::insert_new(&mut conn, &rows).await?;
    }
    Ok((batches * STEP) as f64 / started.elapsed().as_secs_f64())
}

/// Generates `rows` rows stored two hours ago, then measures (11).
pub async fn measure(scope: &Sandbox, rows: i64) -> anyhow::Result<RetentionResults> {
    let mut conn = scope.pool.get().await?;
    diesel::sql_query(query_forms::generate_sql(1, rows))
        .execute(&mut conn)
        .await?;
    diesel::sql_query("UPDATE events SET processed_at = now() - interval '2 hours'")
        .execute(&mut conn)
        .await?;
    diesel::sql_query("VACUUM ANALYZE events")
        .execute(&mut conn)
        .await?;
    drop(conn);
    let batches = ((rows as usize / 10) / STEP).max(2);
    let ingest_without = ingest(&scope.pool, "alone", batches).await?;
    // The enforcer's loop, on its own connection, over every topic until nothing is due.
    let (pool, group, topic) = (scope.pool.clone(), scope.group.clone(), scope.topic.clone());
    let remover = tokio::spawn(async move {
        let mut conn = pool.get().await?;
        let started = Instant::now();
        let mut removed = 0;
        for t in 0..TOPICS {
            loop {
                let doomed = Doomed::Expired {
                    topic: &format!("svc.{t}"),
                    seconds: 3_600,
                };
                let step =
                    retention::remove_step(&mut conn, &group, &topic, doomed, STEP as i64).await?;
                removed += step;
                if step < STEP as i64 {
                    break;
                }
            }
        }
        anyhow::Ok((removed, started.elapsed().as_secs_f64()))
    });
    let ingest_with = ingest(&scope.pool, "during", batches).await?;
    let (removed, removal_secs) = remover.await??;
    say(format!(
    "    ingest {ingest_without:.0} rows/s alone, {ingest_with:.0} rows/s while retention removes {removed} rows at {:.0} rows/s",
    removed as f64 / removal_secs
));
    anyhow::Ok(RetentionResults {
        rows,
        ingested: (batches * STEP) as i64,
        ingest_without,
        ingest_with,
        removed,
        removal_rows_per_s: removed as f64 / removal_secs,
    })
}

impl RetentionResults {
    /// (11) as a Markdown table: the same text is printed and written to the doc.
    pub fn render(&self) -> String {
        if self.rows == 0 {
            return String::new();
        }
        let t = crate::report::thousands;
        format!(
            "\n### (11) Retention: ingest with and without the enforcer running (same run)\n\n\
             {} generated rows stored 2 h ago, retention 1 h; {} new rows through the consumer's \
             insert (batches of {STEP}) alone, then again while the enforcer's DELETE steps \
             ({STEP} rows each) remove the old rows. Partitions vs batched deletes at 10M rows: \
             docs/RETENTION.md.\n\n\
             | Measure | Rows/s |\n|---|---:|\n\
             | insert, no retention running | {} |\n\
             | insert, retention removing | {} |\n\
             | removal ({} rows) | {} |\n",
            t(self.rows as f64),
            t(self.ingested as f64),
            t(self.ingest_without),
            t(self.ingest_with),
            t(self.removed as f64),
            t(self.removal_rows_per_s),
        )
    }
}
