//! The retention soak (`make soak-retention`, never part of `make test`: it is `#[ignore]`d):
//! a steady ingest through Kafka and a real consumer with a retention of a few minutes, for
//! 20+ minutes, recording the size of `events` (heap + TOAST, indexes), its rows and dead rows
//! every minute. The size must level off; the table is written to docs/RETENTION_SOAK.md.
//!
//! Settings (environment): LOGAGG_SOAK_MINUTES (22), LOGAGG_SOAK_RATE (events/s, 300),
//! LOGAGG_SOAK_RETENTION_SECONDS (180).

mod retention_support;

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
    let load = plan((minutes * 60 * rate) as usize, 8, 7, "soak");
    let producer = env.producer();
    let sender = tokio::spawn(async move {
        let started = Instant::now();
        let events: Vec<_> = (0..load.sends.len()).map(|k| load.send(k)).collect();
        for (second, chunk) in events.chunks(rate as usize).enumerate() {
            producer.publish(chunk).await.expect("publish");
            let due = Duration::from_secs(second as u64 + 1);
            tokio::time::sleep(due.saturating_sub(started.elapsed())).await;
        }
    });

    let mut table = String::from(
        "| minute | rows | expired | table MiB | index MiB | total MiB | dead rows | autovacuums |\n\
         |---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    let mut totals = Vec::new();
    let started = Instant::now();
    for minute in 1..=minutes {
        tokio::time::sleep(Duration::from_secs(minute * 60).saturating_sub(started.elapsed()))
            .await;
        let ledger = env.assert_ledger(&format!("minute {minute}")).await;
        let mut conn = env.pool.get().await.expect("connection");
        let size = retention::events_size(&mut conn).await.expect("size");
        let total = mib(size.table_bytes + size.index_bytes);
        totals.push(total);
        let _ = writeln!(
            table,
            "| {minute} | {} | {} | {:.1} | {:.1} | {total:.1} | {} | {} |",
            ledger.rows,
            ledger.expired,
            mib(size.table_bytes),
            mib(size.index_bytes),
            size.dead_rows,
            size.autovacuums
        );
        println!("{}", table.lines().last().unwrap_or_default());
    }
    sender.await.expect("sender");

    let path = logagg_testkit::root().join("docs/RETENTION_SOAK.md");
    let text = format!(
        "# Retention soak\n\n\
         Written by `make soak-retention` ({}): {rate} events/s (20 % re-sends, 8 topics) through \
         Kafka and one consumer for {minutes} minutes, retention {keep} s, enforcer every 5 s in \
         steps of 5000 rows; `events` size (heap + TOAST, indexes) at the end of each minute. \
         See docs/RETENTION.md for what it shows.\n\n{table}",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC")
    );
    std::fs::write(&path, text).expect("write docs/RETENTION_SOAK.md");

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
