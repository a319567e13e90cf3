//! (8) Where a consumer's time goes: the `logagg_consumer_stage_seconds` histogram's sum and
//! count per stage, from its Prometheus text.
//!
//! Stages as the consumer observes them (consumer/src/worker.rs, store.rs):
//! - `decode`: JSON parse and validation of the batch, before the transaction;
//! - `lock`: BEGIN, create-if-missing and `SELECT ... FOR UPDATE` of the progress rows;
//! - `insert`: classify (prepare), the deduplicating INSERT ... RETURNING, dead letters;
//! - `counters`: tally, progress-row updates, topic-counter upsert;
//! - `kafka_commit`: the (asynchronous) Kafka offset commit call;
//! - `batch`: decode start to Kafka commit end.
//!
//! `batch` minus the other stages is what no stage covers: the pool checkout (a verifying
//! `SELECT 1` round trip) and the PostgreSQL COMMIT (WAL flush). The time *between* batches
//! (collecting the next batch from Kafka) is wall time minus the summed `batch` time.

use std::collections::BTreeMap;

/// Stage sums and counts of one consumer.
#[derive(Debug, Clone, Default)]
pub struct StageSplit {
    /// stage -> (sum of seconds, observations)
    pub stages: BTreeMap<String, (f64, u64)>,
    /// logagg_consumer_records_total by outcome.
    pub records: BTreeMap<String, f64>,
    pub batches: f64,
}

/// The stages inside `batch`, in order.
pub const INNER: [&str; 5] = ["decode", "lock", "insert", "counters", "kafka_commit"];

impl StageSplit {
    pub fn parse(text: &str) -> Self {
        let mut split = Self::default();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let Some((name, value)) = line.rsplit_once(' ') else {
                continue;
            };
            let Ok(value) = value.trim().parse::<f64>() else {
                continue;
            };
            let label = |key: &str| -> Option<String> {
                let start = name.find(&format!("{key}=\""))? + key.len() + 2;
                let end = start + name[start..].find('"')?;
                Some(name[start..end].to_owned())
            };
            if name.starts_with("logagg_consumer_stage_seconds_sum{") {
                if let Some(stage) = label("stage") {
                    split.stages.entry(stage).or_default().0 = value;
                }
            } else if name.starts_with("logagg_consumer_stage_seconds_count{") {
                if let Some(stage) = label("stage") {
                    split.stages.entry(stage).or_default().1 = value as u64;
                }
            } else if name.starts_with("logagg_consumer_records_total{") {
                if let Some(outcome) = label("outcome") {
                    split.records.insert(outcome, value);
                }
            } else if name == "logagg_consumer_batches_total" {
                split.batches = value;
            }
        }
        split
    }

    /// Sums several consumers' splits.
    pub fn merge(splits: &[StageSplit]) -> Self {
        let mut total = Self::default();
        for split in splits {
            for (stage, (sum, count)) in &split.stages {
                let entry = total.stages.entry(stage.clone()).or_default();
                entry.0 += sum;
                entry.1 += count;
            }
            for (outcome, n) in &split.records {
                *total.records.entry(outcome.clone()).or_default() += n;
            }
            total.batches += split.batches;
        }
        total
    }

    pub fn sum(&self, stage: &str) -> f64 {
        self.stages.get(stage).map_or(0.0, |s| s.0)
    }

    pub fn count(&self, stage: &str) -> u64 {
        self.stages.get(stage).map_or(0, |s| s.1)
    }

    /// Batches the consumer wrote.
    pub fn batch_count(&self) -> u64 {
        self.count("batch")
    }

    /// Records per batch, on average.
    pub fn mean_batch_records(&self) -> f64 {
        let records: f64 = self.records.values().sum();
        records / (self.batch_count().max(1) as f64)
    }

    /// Per-batch mean milliseconds of each stage, plus `other (pool checkout, COMMIT)`.
    pub fn per_batch_ms(&self) -> Vec<(String, f64)> {
        let batches = self.batch_count().max(1) as f64;
        let mut out: Vec<(String, f64)> = INNER
            .iter()
            .map(|s| (s.to_string(), self.sum(s) / batches * 1000.0))
            .collect();
        let inner: f64 = INNER.iter().map(|s| self.sum(s)).sum();
        out.push((
            "pool checkout + COMMIT".into(),
            ((self.sum("batch") - inner).max(0.0)) / batches * 1000.0,
        ));
        out
    }

    /// The stage with the largest share of `batch`.
    pub fn dominant(&self) -> Option<(String, f64)> {
        let total = self.sum("batch");
        self.per_batch_ms()
            .into_iter()
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(name, ms)| {
                (
                    name,
                    ms / 1000.0 * self.batch_count() as f64 / total.max(1e-9),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_prometheus_text() {
        let text = "# HELP x\n\
            logagg_consumer_stage_seconds_bucket{stage=\"insert\",le=\"0.5\"} 3\n\
            logagg_consumer_stage_seconds_sum{stage=\"insert\"} 1.5\n\
            logagg_consumer_stage_seconds_count{stage=\"insert\"} 4\n\
            logagg_consumer_stage_seconds_sum{stage=\"batch\"} 2\n\
            logagg_consumer_stage_seconds_count{stage=\"batch\"} 4\n\
            logagg_consumer_records_total{outcome=\"unique\"} 70\n\
            logagg_consumer_records_total{outcome=\"duplicate\"} 30\n\
            logagg_consumer_batches_total 4\n";
        let split = StageSplit::parse(text);
        assert_eq!(split.sum("insert"), 1.5);
        assert_eq!(split.count("insert"), 4);
        assert_eq!(split.batch_count(), 4);
        assert_eq!(split.mean_batch_records(), 25.0);
        let (name, share) = split.dominant().unwrap();
        assert_eq!((name.as_str(), share), ("insert", 0.75));
        let merged = StageSplit::merge(&[split.clone(), split]);
        assert_eq!(merged.sum("batch"), 4.0);
    }
}
