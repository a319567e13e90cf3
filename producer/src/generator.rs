//! Deterministic load generation with known ground truth: for a seed, exactly which sends are
//! first occurrences and which re-send an earlier event (same topic and event_id).

use chrono::{DateTime, Duration, Utc};
use logagg_core::Event;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Map};

/// What to generate.
#[derive(Debug, Clone)]
pub struct LoadSpec {
    pub events: usize,
    pub duplicate_ratio: f64,
    pub topics: usize,
    pub payload_bytes: usize,
    pub seed: u64,
    /// Prefix of the generated topic names (`<prefix>.<n>`).
    pub topic_prefix: String,
}

/// The order of sends: `sends[k]` is the distinct event sent k-th. Every distinct index appears
/// once as an original before any of its duplicates.
#[derive(Debug, Clone)]
pub struct LoadPlan {
    pub spec: LoadSpec,
    pub sends: Vec<u32>,
    pub distinct: usize,
    pub duplicates: usize,
    base_time: DateTime<Utc>,
}

impl LoadPlan {
    /// Builds the plan. `duplicates = round(events * ratio)`, `distinct = events - duplicates`.
    pub fn new(spec: LoadSpec) -> Self {
        let ratio = spec.duplicate_ratio.clamp(0.0, 1.0);
        let mut duplicates = (spec.events as f64 * ratio).round() as usize;
        if spec.events > 0 && duplicates >= spec.events {
            duplicates = spec.events - 1; // at least one original to duplicate
        }
        let distinct = spec.events - duplicates;
        let mut rng = StdRng::seed_from_u64(spec.seed);
        // Sort keys: original i at i, a duplicate of j somewhere after j (possibly much later).
        let mut keyed: Vec<(f64, u32)> = Vec::with_capacity(spec.events);
        keyed.extend((0..distinct).map(|i| (i as f64, i as u32)));
        for _ in 0..duplicates {
            let original = rng.random_range(0..distinct);
            let later = rng.random_range(original as f64 + 0.5..distinct as f64 + 0.5);
            keyed.push((later, original as u32));
        }
        keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
        Self {
            base_time: DateTime::from_timestamp(1_790_000_000 + (spec.seed % 1_000_000) as i64, 0)
                .expect("in range"),
            sends: keyed.into_iter().map(|(_, i)| i).collect(),
            distinct,
            duplicates,
            spec,
        }
    }

    /// The distinct event number `index`, the same for every call with the same seed.
    pub fn event(&self, index: u32) -> Event {
        let mut rng = StdRng::seed_from_u64(self.spec.seed ^ (u64::from(index) << 20) ^ 0x5eed);
        let timestamp = self.base_time + Duration::milliseconds(i64::from(index));
        let mut random = [0u8; 10];
        rng.fill(&mut random);
        let id =
            uuid::Builder::from_unix_timestamp_millis(timestamp.timestamp_millis() as u64, &random)
                .into_uuid();
        let topic = format!(
            "{}.{}",
            self.spec.topic_prefix,
            index as usize % self.spec.topics.max(1)
        );
        let mut payload = Map::new();
        payload.insert("seq".into(), json!(index));
        if self.spec.payload_bytes > 0 {
            payload.insert("data".into(), json!("x".repeat(self.spec.payload_bytes)));
        }
        Event {
            topic,
            event_id: id.to_string(),
            timestamp: timestamp.fixed_offset(),
            source: "logagg-producer".into(),
            payload,
        }
    }

    /// The event of the k-th send.
    pub fn send(&self, k: usize) -> Event {
        self.event(self.sends[k])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn spec(events: usize, ratio: f64, seed: u64) -> LoadSpec {
        LoadSpec {
            events,
            duplicate_ratio: ratio,
            topics: 4,
            payload_bytes: 16,
            seed,
            topic_prefix: "t".into(),
        }
    }

    #[test]
    fn ground_truth_is_exact() {
        let plan = LoadPlan::new(spec(20_000, 0.3, 7));
        assert_eq!(plan.sends.len(), 20_000);
        assert_eq!(plan.duplicates, 6_000);
        assert_eq!(plan.distinct, 14_000);
        let keys: HashSet<(String, String)> = (0..plan.sends.len())
            .map(|k| {
                let e = plan.send(k);
                (e.topic, e.event_id)
            })
            .collect();
        assert_eq!(keys.len(), plan.distinct);
    }

    #[test]
    fn originals_come_before_their_duplicates() {
        let plan = LoadPlan::new(spec(5_000, 0.35, 1));
        let mut seen = HashSet::new();
        let mut next_new = 0u32;
        for &i in &plan.sends {
            if seen.insert(i) {
                assert_eq!(i, next_new, "originals are sent in order");
                next_new += 1;
            }
        }
        assert_eq!(seen.len(), plan.distinct);
    }

    #[test]
    fn same_seed_same_events_other_seed_other_ids() {
        let a = LoadPlan::new(spec(100, 0.2, 42));
        let b = LoadPlan::new(spec(100, 0.2, 42));
        let c = LoadPlan::new(spec(100, 0.2, 43));
        assert_eq!(a.sends, b.sends);
        assert_eq!(a.send(10), b.send(10));
        assert_ne!(a.event(0).event_id, c.event(0).event_id);
    }

    #[test]
    fn generated_events_are_valid_wire_events() {
        let plan = LoadPlan::new(spec(10, 0.0, 3));
        let event = plan.event(3);
        let value: serde_json::Value = serde_json::from_slice(&event.to_json_bytes()).unwrap();
        assert_eq!(Event::from_value(&value).unwrap(), event);
        assert_eq!(
            uuid::Uuid::parse_str(&event.event_id)
                .unwrap()
                .get_version_num(),
            7
        );
    }

    #[test]
    fn zero_ratio_means_no_duplicates() {
        let plan = LoadPlan::new(spec(1_000, 0.0, 9));
        assert_eq!((plan.distinct, plan.duplicates), (1_000, 0));
    }
}
