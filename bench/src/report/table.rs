//! The table's rows: each figure beside its same-run baseline and ratio, with the issue's
//! targets printed, never asserted.

use super::{figure, mb, pct, row, thousands, verdict, Results, Row, NONE};
use crate::http::Publish;
use crate::ingest::Ingest;
use crate::kafka_ceiling::Throughput;
use crate::pg_ceiling::PgCeiling;

impl Results {
    pub fn rows(&self) -> Vec<Row> {
        let s = &self.scale;
        let mut rows = Vec::new();
        let pg_rate = self.pg.as_ref().map(PgCeiling::rate);
        let produce = Self::best(&self.produce).map(Throughput::rate);
        let or_err = |v: Option<String>| v.unwrap_or_else(|| "ERROR".into());
        rows.push(figure(
            "1",
            format!("PostgreSQL ceiling: INSERT … SELECT … ON CONFLICT DO NOTHING from a staging table into the shipped schema (every index), {} rows, {:.0}% duplicates; best of 1, 2, 4 sessions", thousands(s.events as f64), s.duplicate_ratio * 100.0),
            or_err(pg_rate.map(|r| format!("{} rows/s", thousands(r)))),
        ));
        if let Some(pg) = &self.pg {
            let one = pg.best_with(1);
            for sessions in crate::pg_ceiling::CEILING_SESSIONS {
                if let Some(rate) = pg.best_with(sessions) {
                    rows.push(row(
                        &format!("1.{sessions}"),
                        format!("  {sessions} concurrent session(s), disjoint keys"),
                        format!("{} rows/s", thousands(rate)),
                        "(1.1)",
                        one.map_or(NONE.into(), |o| format!("{:.2}×", rate / o)),
                        NONE,
                    ));
                }
            }
            if let Some(d) = &pg.client {
                rows.push(row("1b", format!("  diagnostic: the consumer's insert_new alone (INSERT … SELECT FROM unnest(arrays) … RETURNING), {}-send transactions", thousands(d.batch as f64)), format!("{} rows/s", thousands(d.rate())), "(1)", pct(d.rate(), pg.rate()), NONE));
            }
            if let (Some(c), Some(d)) = (&pg.copy, &pg.client) {
                rows.push(row("1c", "  diagnostic: the same transactions through COPY (binary) into a temporary table, then INSERT … SELECT … ON CONFLICT DO NOTHING RETURNING", format!("{} rows/s", thousands(c.rate())), "(1b)", format!("{:.2}×", c.rate() / d.rate()), NONE));
            }
        }
        rows.push(figure(
            "2a",
            format!(
                "Kafka ceiling: raw rdkafka produce (idempotent, acks=all, lz4), best of {}",
                self.produce.len()
            ),
            or_err(produce.map(|r| format!("{} rec/s", thousands(r)))),
        ));
        rows.push(figure(
            "2b",
            format!(
                "Kafka ceiling: raw rdkafka consume, best of {}",
                self.consume.len()
            ),
            or_err(Self::best(&self.consume).map(|t| format!("{} rec/s", thousands(t.rate())))),
        ));
        let one = self.ingest_with(1);
        let one_rate = one.map(Ingest::rate);
        rows.push(row(
            "3",
            format!("Consumer ingest: 1 {} logagg-consumer (default: 2 parallel writers, next batch fetched while one is written), pre-filled topic → PostgreSQL, every guarantee on", s.profile),
            or_err(one_rate.map(|r| format!("{} ev/s", thousands(r)))),
            pg_rate.map_or(NONE.into(), |r| format!("(1) {} rows/s", thousands(r))),
            match (one_rate, pg_rate) { (Some(a), Some(b)) => pct(a, b), _ => NONE.into() },
            match (one_rate, pg_rate) { (Some(a), Some(b)) => format!("≥ 75% of (1): {}", verdict(a >= 0.75 * b)), _ => "≥ 75% of (1)".into() },
        ));
        let serial_rate = self.ingest_serial().map(Ingest::rate);
        rows.push(row(
            "3b",
            "  the same with LOGAGG_CONSUMER_WRITERS=1 (one transaction at a time)",
            or_err(serial_rate.map(|r| format!("{} ev/s", thousands(r)))),
            one_rate.map_or(NONE.into(), |r| format!("(3) {} ev/s", thousands(r))),
            match (serial_rate, one_rate) {
                (Some(a), Some(b)) => pct(a, b),
                _ => NONE.into(),
            },
            NONE,
        ));
        let batch = self.batch.as_ref().map(Publish::events_per_sec);
        rows.push(row(
            "4a",
            format!(
                "HTTP publish through {} logagg-api, batches of {} ({} in flight)",
                s.profile, s.batch, s.batch_concurrency
            ),
            or_err(batch.map(|r| format!("{} ev/s", thousands(r)))),
            produce.map_or(NONE.into(), |r| format!("(2a) {} rec/s", thousands(r))),
            match (batch, produce) {
                (Some(a), Some(b)) => pct(a, b),
                _ => NONE.into(),
            },
            match (batch, produce) {
                (Some(a), Some(b)) => format!("≥ 50% of (2a): {}", verdict(a >= 0.5 * b)),
                _ => "≥ 50% of (2a)".into(),
            },
        ));
        let single = self.single.as_ref();
        let single_rate = single.map(Publish::requests_per_sec);
        rows.push(row(
            "4b",
            format!(
                "HTTP publish, single-event requests, {} concurrent connections",
                s.single_connections
            ),
            or_err(single_rate.map(|r| format!("{} req/s", thousands(r)))),
            produce.map_or(NONE.into(), |r| format!("(2a) {} rec/s", thousands(r))),
            match (single_rate, produce) {
                (Some(a), Some(b)) => pct(a, b),
                _ => NONE.into(),
            },
            single_rate.map_or("≥ 30,000 req/s".into(), |r| {
                format!("≥ 30,000 req/s: {}", verdict(r >= 30_000.0))
            }),
        ));
        rows.push(row(
            "4c",
            "  single-event ack latency p50 / p99",
            or_err(single.map(|p| p.latencies.p50_p99(1))),
            NONE,
            NONE,
            single.map_or("p99 ≤ 10 ms".into(), |p| {
                format!(
                    "p99 ≤ 10 ms: {}",
                    verdict(p.latencies.quantile_ms(0.99) <= 10.0)
                )
            }),
        ));
        let fresh = self.fresh.as_ref();
        rows.push(row(
            "5",
            format!(
                "Freshness at a steady {} ev/s: publish ack → visible in GET /events, p50 / p99",
                thousands(s.fresh_rate)
            ),
            or_err(fresh.map(|f| f.visible.p50_p99(0))),
            NONE,
            NONE,
            fresh.map_or("p99 ≤ 250 ms".into(), |f| {
                format!(
                    "p99 ≤ 250 ms: {}",
                    verdict(f.visible.quantile_ms(0.99) <= 250.0)
                )
            }),
        ));
        let target_rss = |b: u64| format!("≤ 150 MB: {}", verdict(b <= 150_000_000));
        rows.push(row(
            "6a",
            "Peak RSS (VmHWM) of logagg-api during (4)",
            or_err(self.api_rss.map(mb)),
            NONE,
            NONE,
            self.api_rss.map_or("≤ 150 MB".into(), target_rss),
        ));
        let consumer_rss = one.and_then(|i| i.peak_rss.first().copied());
        rows.push(row(
            "6b",
            "Peak RSS (VmHWM) of logagg-consumer during (3)",
            or_err(consumer_rss.map(mb)),
            NONE,
            NONE,
            consumer_rss.map_or("≤ 150 MB".into(), target_rss),
        ));
        rows.push(figure(
            "7a",
            "Ingest with 1 consumer process (= 3)",
            or_err(one_rate.map(|r| format!("{} ev/s", thousands(r)))),
        ));
        let two = self.ingest_with(2);
        let two_rate = two.map(Ingest::rate);
        rows.push(row(
            "7b",
            "Ingest with 2 consumer processes (same group and data; both joined before the data came)",
            or_err(two_rate.map(|r| format!("{} ev/s", thousands(r)))),
            one_rate.map_or(NONE.into(), |r| format!("(7a) {} ev/s", thousands(r))),
            match (two_rate, one_rate) {
                (Some(a), Some(b)) if b > 0.0 => format!("{:.2}×", a / b),
                _ => NONE.into(),
            },
            NONE,
        ));
        rows.push(row(
            "7c",
            "  (7b) against the PostgreSQL ceiling",
            or_err(two_rate.map(|r| format!("{} ev/s", thousands(r)))),
            pg_rate.map_or(NONE.into(), |r| format!("(1) {} rows/s", thousands(r))),
            match (two_rate, pg_rate) {
                (Some(a), Some(b)) => pct(a, b),
                _ => NONE.into(),
            },
            match (two_rate, pg_rate) {
                (Some(a), Some(b)) => format!("≥ 85% of (1): {}", verdict(a >= 0.85 * b)),
                _ => "≥ 85% of (1)".into(),
            },
        ));
        if let Some(run) = one {
            if let Some(split) = run.stages.first() {
                let batches = split.batch_count();
                let batch_ms = split.sum("batch") / batches.max(1) as f64 * 1000.0;
                for (stage, ms) in split.per_batch_ms() {
                    // The transaction stages run once per share, in parallel: their sum can
                    // exceed the batch's wall time.
                    let summed = if ["lock", "insert", "counters"].contains(&stage.as_ref()) {
                        " (summed over the parallel shares)"
                    } else {
                        ""
                    };
                    rows.push(row(
                        "8",
                        format!("  (3) per batch: {stage}{summed}"),
                        format!("{ms:.1} ms"),
                        format!("batch {batch_ms:.1} ms"),
                        pct(ms, batch_ms),
                        NONE,
                    ));
                }
                // Time between batches: collecting the next batch from Kafka (incl. the batch wait).
                if batches > 1 {
                    let cycle_ms = run.steady.as_secs_f64() * 1000.0 / (batches - 1) as f64;
                    let gap = (cycle_ms - batch_ms).max(0.0);
                    rows.push(row(
                        "8",
                        "  (3) between batches: collect the next batch from Kafka",
                        format!("{gap:.1} ms"),
                        format!("cycle {cycle_ms:.1} ms"),
                        pct(gap, cycle_ms),
                        NONE,
                    ));
                }
                if let Some((stage, share)) = split.dominant() {
                    rows.push(row(
                        "8",
                        format!(
                            "  bound: {stage} ({:.0}% of each batch; {} batches of ~{:.0} records)",
                            share * 100.0,
                            batches,
                            split.mean_batch_records()
                        ),
                        format!(
                            "{:.2} cores",
                            run.cpu.of("consumer") / run.cpu.wall_secs.max(1e-9)
                        ),
                        format!(
                            "postgres {:.2} cores",
                            run.cpu.postgres / run.cpu.wall_secs.max(1e-9)
                        ),
                        format!("of {}", run.cpu.cores),
                        NONE,
                    ));
                }
            }
        }
        for row in &mut rows {
            if row.value == "ERROR" && !self.ran(&row.id) {
                row.value = "not run".into();
            }
        }
        rows
    }
}
