//! The retention soak (`make soak-retention`, never part of `make test`: it is `#[ignore]`d):
//! a steady ingest through Kafka and a real consumer with a retention of a few minutes, for
//! 20+ minutes, recording the size of `events` (heap + TOAST, indexes), its rows and dead rows
//! every minute. The size must level off; the table is written to docs/RETENTION_SOAK.md.
//!
//! Settings (environment): LOGAGG_SOAK_MINUTES (22), LOGAGG_SOAK_RATE (events/s, 300),
//! LOGAGG_SOAK_RETENTION_SECONDS (180), LOGAGG_SOAK_RESEND_WINDOW_SECONDS (unset: 20 % of the
//! sends re-send an event from anywhere earlier in the run, as the load plan places them,
//! most of them long expired; set: each re-send repeats an event sent at most that many
//! seconds before, as a publisher's retries do). Output: LOGAGG_SOAK_OUTPUT (a path under the
//! workspace, default docs/RETENTION_SOAK.md).

use crate::retention_support;

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use logagg_core::db::retention;
use logagg_testkit::TestEnv;
use retention_support::plan;

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn mib(bytes: i64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

#[derive(diesel::QueryableByName)]
struct IndexSize {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    bytes: i64,
}

/// Each index of `events` and its size, by name: which one grows, if the total does.
async fn index_sizes(conn: &mut diesel_async::AsyncPgConnection) -> Vec<IndexSize> {
    use diesel_async::RunQueryDsl;
    diesel::sql_query(
        "SELECT indexrelname::text AS name, pg_relation_size(indexrelid)::int8 AS bytes \
         FROM pg_stat_user_indexes WHERE relname = 'events' ORDER BY indexrelname",
    )
    .load(conn)
    .await
    .expect("index sizes")
}

/// `events_topic_tx_id_idx` -> `topic_tx_id`: short enough for a table header.
fn short(index: &str) -> &str {
    let index = index.strip_prefix("events_").unwrap_or(index);
    index.strip_suffix("_idx").unwrap_or(index)
}

/// `total` sends over 8 topics: every fifth repeats an event sent at most `window` sends
/// before (deterministically spread over the window), the others are new.
fn recent_resends(total: usize, window: usize) -> Vec<logagg_core::Event> {
    let originals =
        logagg_producer::generator::LoadPlan::new(logagg_producer::generator::LoadSpec {
            events: total - total / 5,
            duplicate_ratio: 0.0,
            topics: 8,
            payload_bytes: 32,
            seed: 7,
            topic_prefix: "soak".into(),
        });
    let mut next_original = 0;
    let mut sent: Vec<logagg_core::Event> = Vec::with_capacity(total);
    for k in 0..total {
        let event = if (k % 5 == 4 || next_original == originals.sends.len()) && !sent.is_empty() {
            let back = 1 + (k * 7919) % window.clamp(1, sent.len());
            sent[sent.len() - back].clone()
        } else {
            next_original += 1;
            originals.send(next_original - 1)
        };
        sent.push(event);
    }
    sent
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "a 20+ minute soak: make soak-retention"]
async fn the_events_table_levels_off_under_steady_ingest_with_retention() {
    let minutes = setting("LOGAGG_SOAK_MINUTES", 22);
    let rate = setting("LOGAGG_SOAK_RATE", 300);
    let keep = setting("LOGAGG_SOAK_RETENTION_SECONDS", 180);
    let env = TestEnv::new("soakret", 2).await;
    let _consumer = env
        .spawn_consumer_with(
            "c1",
            &[
                ("LOGAGG_RETENTION_INTERVAL_MS", "5000".into()),
                ("LOGAGG_RETENTION_STEP_ROWS", "5000".into()),
            ],
        )
        .await;
    let keep_arg = keep.to_string();
    let ran = env.run(
        "logagg-consumer",
        &["retention", "set", "--keep", keep_arg.as_str()],
    );
    assert!(ran.success, "{}", ran.text());

    // One chunk of `rate` events per second, sent in the background.
    let total = (minutes * 60 * rate) as usize;
    let window = std::env::var("LOGAGG_SOAK_RESEND_WINDOW_SECONDS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok());
    let events = match window {
        None => {
            let load = plan(total, 8, 7, "soak");
            (0..load.sends.len()).map(|k| load.send(k)).collect()
        }
        Some(seconds) => recent_resends(total, seconds * rate as usize),
    };
    let producer = env.producer();
    let sender = tokio::spawn(async move {
        let started = Instant::now();
        for (second, chunk) in events.chunks(rate as usize).enumerate() {
            producer.publish(chunk).await.expect("publish");
            let due = Duration::from_secs(second as u64 + 1);
            tokio::time::sleep(due.saturating_sub(started.elapsed())).await;
        }
    });

    let mut table = String::new();
    let mut totals = Vec::new();
    let started = Instant::now();
    for minute in 1..=minutes {
        tokio::time::sleep(Duration::from_secs(minute * 60).saturating_sub(started.elapsed()))
            .await;
        let ledger = env.assert_ledger(&format!("minute {minute}")).await;
        let mut conn = env.pool.get().await.expect("connection");
        let size = retention::events_size(&mut conn).await.expect("size");
        let indexes = index_sizes(&mut conn).await;
        if table.is_empty() {
            let names: Vec<_> = indexes.iter().map(|i| short(&i.name)).collect();
            let _ = writeln!(
                table,
                "| minute | rows | expired | table MiB | index MiB | total MiB | dead rows | autovacuums | {} |\n\
                 |---:|---:|---:|---:|---:|---:|---:|---:|{}",
                names.join(" | "),
                "---:|".repeat(names.len())
            );
        }
        let total = mib(size.table_bytes + size.index_bytes);
        totals.push(total);
        let per_index: Vec<_> = indexes
            .iter()
            .map(|i| format!("{:.1}", mib(i.bytes)))
            .collect();
        let _ = writeln!(
            table,
            "| {minute} | {} | {} | {:.1} | {:.1} | {total:.1} | {} | {} | {} |",
            ledger.rows,
            ledger.expired,
            mib(size.table_bytes),
            mib(size.index_bytes),
            size.dead_rows,
            size.autovacuums,
            per_index.join(" | ")
        );
        println!("{}", table.lines().last().unwrap_or_default());
    }
    sender.await.expect("sender");

    let output = std::env::var("LOGAGG_SOAK_OUTPUT").unwrap_or("docs/RETENTION_SOAK.md".into());
    let path = logagg_testkit::root().join(output);
    let resends = match window {
        None => "20 % re-sends of any earlier event".to_owned(),
        Some(seconds) => format!("20 % re-sends of an event sent in the last {seconds} s"),
    };
    let text = format!(
        "# Retention soak\n\n\
         Written by `make soak-retention` ({}): {rate} events/s ({resends}, 8 topics) through \
         Kafka and one consumer for {minutes} minutes, retention {keep} s, enforcer every 5 s in \
         steps of 5000 rows; `events` size (heap + TOAST, indexes) at the end of each minute, \
         then each index's size in MiB. See docs/RETENTION.md for what it shows.\n\n{table}",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC")
    );
    std::fs::write(&path, text).expect("write the soak's table");

    // Levelled off: the last third of the run grows no more than 25 % over the middle third's
    // peak (rows stop growing once the first retention period has passed).
    let third = totals.len() / 3;
    let middle_peak = totals[third..2 * third].iter().cloned().fold(0.0, f64::max);
    let last_peak = totals[2 * third..].iter().cloned().fold(0.0, f64::max);
    assert!(
        last_peak <= middle_peak * 1.25,
        "events kept growing: middle third peak {middle_peak:.1} MiB, last third {last_peak:.1} MiB\n{table}"
    );
}
