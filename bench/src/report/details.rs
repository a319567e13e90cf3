//! The lines under the table: what each measurement did in detail, and the CPU each used.

use super::{mb, thousands, Results};
use crate::procfs::{self, CpuUse};
use crate::stages::StageSplit;

impl Results {
    pub(super) fn cpu_rows(&self) -> Vec<(String, &CpuUse)> {
        let mut out = Vec::new();
        if let Some(pg) = &self.pg {
            out.push(("(1) PostgreSQL ceiling".to_owned(), &pg.cpu));
        }
        for run in &self.ingest {
            let id = if run.consumers == 1 {
                "(3) ingest, 1 consumer"
            } else {
                "(7) ingest, 2 consumers"
            };
            out.push((id.to_owned(), &run.cpu));
        }
        if let Some(c) = &self.cpu_batch {
            out.push(("(4a) HTTP batches".to_owned(), c));
        }
        if let Some(c) = &self.cpu_single {
            out.push(("(4b) HTTP single events".to_owned(), c));
        }
        if let Some(f) = &self.fresh {
            out.push(("(5) freshness".to_owned(), &f.cpu));
        }
        out
    }

    pub(super) fn details(&self) -> Vec<String> {
        let mut out = Vec::new();
        let s = &self.scale;
        if !self.disturbed.is_empty() {
            out.push(format!(
                "DISTURBED: Kafka or PostgreSQL was restarted (by another user of the machine) during {} on both attempts; those figures are not representative",
                self.disturbed.join(", ")
            ));
        }
        out.push(format!(
            "dataset: {} events, {} distinct + {} duplicates ({:.0}%), {} topics on {} partitions, {}-byte payload filler, {:.0} bytes per event JSON on average",
            thousands(s.events as f64),
            thousands(s.events as f64 * (1.0 - s.duplicate_ratio)),
            thousands(s.events as f64 * s.duplicate_ratio),
            s.duplicate_ratio * 100.0,
            s.topics,
            s.partitions,
            s.payload_bytes,
            self.mean_event_bytes
        ));
        if let Some(pg) = &self.pg {
            out.push(format!(
                "(1) {} rows in {:.2} s with {} sessions (best of {}: {}), {} inserted (the distinct ones); staging load (not timed) {:.1} s",
                thousands(pg.sends as f64),
                pg.elapsed.as_secs_f64(),
                pg.best_sessions,
                pg.samples.len(),
                pg.samples
                    .iter()
                    .map(|(n, r)| format!("{n} × {} rows/s", thousands(*r)))
                    .collect::<Vec<_>>()
                    .join(", "),
                thousands(pg.inserted as f64),
                pg.staging_load.as_secs_f64()
            ));
            for (id, run) in [("1b", &pg.client), ("1c", &pg.copy)] {
                if let Some(run) = run {
                    out.push(format!(
                        "({id}) {} sends in {:.2} s as {} transactions of {}, {} inserted",
                        thousands(run.sends as f64),
                        run.elapsed.as_secs_f64(),
                        run.sends.div_ceil(run.batch.max(1)),
                        run.batch,
                        thousands(run.inserted as f64)
                    ));
                }
            }
        }
        for (i, (p, c)) in self.produce.iter().zip(&self.consume).enumerate() {
            out.push(format!(
                "(2) sample {}: produce {} rec/s ({:.1} MB/s of values, {:.2} s{}), consume {} rec/s ({:.2} s from the first record, which came {:.2} s after assign)",
                i + 1,
                thousands(p.rate()),
                p.bytes as f64 / 1e6 / p.elapsed.as_secs_f64().max(1e-9),
                p.elapsed.as_secs_f64(),
                if p.note.is_empty() { String::new() } else { format!(", {}", p.note) },
                thousands(c.rate()),
                c.elapsed.as_secs_f64(),
                c.first_after.as_secs_f64()
            ));
        }
        for run in &self.ingest {
            out.push(format!(
                "({}) {} consumer(s): {} ev/s steady ({} to last batch commit, {:.1} s), {} ev/s over the whole run ({:.1} s from {}); counters received {}, unique {}, duplicates {}, invalid {}, replayed {}, rows {}: {}; peak RSS {}; records per partition {:?}",
                if run.consumers == 1 { 3 } else { 7 },
                run.consumers,
                thousands(run.rate()),
                match (run.consumers, run.all_consumers_active) {
                    (1, _) => "first",
                    (_, true) => "every consumer's first batch",
                    (_, false) => "first batch (NOT every consumer got a batch)",
                },
                run.steady.as_secs_f64(),
                thousands(run.wall_rate()),
                run.wall.as_secs_f64(),
                if run.joined_after.is_some() {
                    "the start of production, the consumers already in the group"
                } else {
                    "process start, incl. start-up and group join"
                },
                run.counters.received,
                run.counters.unique_processed,
                run.counters.duplicate_dropped,
                run.counters.invalid,
                run.counters.replayed,
                run.rows,
                if run.golden_errors.is_empty() { "golden counts exact".to_owned() } else { format!("GOLDEN COUNTS OFF: {}", run.golden_errors.join("; ")) },
                run.peak_rss.iter().map(|b| mb(*b)).collect::<Vec<_>>().join(" + "),
                run.partition_records
            ));
            if let Some(joined) = run.joined_after {
                out.push(format!(
                    "({}) the group gave each of the {} consumers partitions {:.1} s after they started; the data was produced after that; partitions (records) per consumer: {}",
                    if run.consumers == 1 { 3 } else { 7 },
                    run.consumers,
                    joined.as_secs_f64(),
                    run.assignment
                        .iter()
                        .map(|parts| {
                            let records: i64 = parts
                                .iter()
                                .filter_map(|p| run.partition_records.get(*p as usize))
                                .sum();
                            format!("{parts:?} ({})", thousands(records as f64))
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            let split = StageSplit::merge(&run.stages);
            if let Some((stage, share)) = split.dominant() {
                let per_batch: Vec<String> = split
                    .per_batch_ms()
                    .iter()
                    .map(|(s, ms)| format!("{s} {ms:.1}"))
                    .collect();
                out.push(format!(
                    "({}) {} consumer(s): {} batches of ~{:.0} records, mean ms per batch: {}; largest: {stage} ({:.0}%)",
                    if run.consumers == 1 { 8 } else { 7 },
                    run.consumers,
                    split.batch_count(),
                    split.mean_batch_records(),
                    per_batch.join(", "),
                    share * 100.0
                ));
            }
        }
        if let Some(b) = &self.batch {
            out.push(format!(
                "(4a) {} events in {} requests in {:.1} s; request latency p50 {:.0} ms, p99 {:.0} ms",
                thousands(b.events as f64),
                b.requests,
                b.elapsed.as_secs_f64(),
                b.latencies.quantile_ms(0.5),
                b.latencies.quantile_ms(0.99)
            ));
        }
        if let Some(p) = &self.single {
            out.push(format!(
                "(4b) {} requests acknowledged in {:.1} s, {} failed",
                thousands(p.requests as f64),
                p.elapsed.as_secs_f64(),
                p.failed
            ));
        }
        if let Some((in_topic, acked)) = self.http_in_topic {
            out.push(format!(
                "(4) the topic holds {in_topic} records for {acked} acknowledged events"
            ));
        }
        if let Some(f) = &self.fresh {
            out.push(format!(
                "(5) {} events ({} distinct measured) over {:.1} s in batches of {} ({:.0} requests/s), {} polls of GET /events; publish latency p50 {:.0} ms, p99 {:.0} ms; max ack → visible {:.0} ms; {} seen before their ack (counted 0); peak RSS api {}, consumer {}; counters received {}, unique {}, duplicates {}: {}",
                thousands(f.sent as f64),
                thousands(f.visible.0.len() as f64),
                f.elapsed.as_secs_f64(),
                crate::freshness::BATCH,
                f.rate / crate::freshness::BATCH as f64,
                f.polls,
                f.publish.quantile_ms(0.5),
                f.publish.quantile_ms(0.99),
                f.visible.quantile_ms(1.0),
                f.early,
                mb(f.api_rss),
                mb(f.consumer_rss),
                f.counters.received,
                f.counters.unique_processed,
                f.counters.duplicate_dropped,
                if f.golden_errors.is_empty() { "golden counts exact".to_owned() } else { format!("GOLDEN COUNTS OFF: {}", f.golden_errors.join("; ")) }
            ));
            let over = f.visible.0.iter().filter(|m| **m > 250_000).count();
            let mut worst: Vec<(usize, u64)> = f.per_second.iter().copied().enumerate().collect();
            worst.sort_by_key(|w| std::cmp::Reverse(w.1));
            let slow_seconds = f.per_second.iter().filter(|m| **m > 250_000).count();
            out.push(format!(
                "(5) {} events ({:.2}%) took over 250 ms; worst per second of load: {}; {} of {} seconds had an event over 250 ms",
                over,
                over as f64 * 100.0 / f.visible.0.len().max(1) as f64,
                worst
                    .iter()
                    .take(3)
                    .map(|(s, m)| format!("s{} {:.0} ms", s, *m as f64 / 1000.0))
                    .collect::<Vec<_>>()
                    .join(", "),
                slow_seconds,
                f.per_second.len()
            ));
        }
        out
    }

    pub(super) fn machine_line(&self) -> String {
        let (cores, memory) = procfs::machine();
        format!(
            "{cores} cores ({}), {:.1} GiB memory; load average {} at start, {} at end",
            procfs::cpu_model().unwrap_or_else(|| "unknown CPU".into()),
            memory as f64 / (1u64 << 30) as f64,
            self.load_start.map_or("?".into(), |l| format!("{l:.2}")),
            self.load_end.map_or("?".into(), |l| format!("{l:.2}")),
        )
    }

    pub(super) fn postgres_line(&self) -> String {
        self.postgres
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}
