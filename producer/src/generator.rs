//! The load plan, deterministic load generation with known ground truth: for a seed, exactly
//! which sends are first occurrences and which re-send an earlier event (same topic and
//! event_id), and the one [`Expected`] outcome that `load --verify`, e2e and bench compare the
//! aggregator's counters against.

use std::collections::BTreeMap;

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
        let topic = self.topic_of(index);
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

    /// The logical topic of distinct event `index`: `<prefix>.<index mod topics>`.
    pub fn topic_of(&self, index: u32) -> String {
        format!(
            "{}.{}",
            self.spec.topic_prefix,
            index as usize % self.spec.topics.max(1)
        )
    }

    /// The ground truth: what the aggregator's counters must grow by once every send of this
    /// plan was received exactly once.
    pub fn expected(&self) -> Expected {
        let topics = self.spec.topics.max(1);
        let mut received = vec![0u64; topics];
        for &index in &self.sends {
            received[index as usize % topics] += 1;
        }
        // Originals are the indices 0..distinct, so each topic's share of them is exact.
        let unique =
            |t: usize| (self.distinct / topics + usize::from(t < self.distinct % topics)) as u64;
        let per_topic = (0..topics)
            .filter(|&t| received[t] > 0)
            .map(|t| {
                let counts = Counts {
                    received: received[t],
                    unique: unique(t),
                    duplicates: received[t] - unique(t),
                };
                (self.topic_of(t as u32), counts)
            })
            .collect();
        Expected {
            received: self.sends.len() as u64,
            unique: self.distinct as u64,
            duplicates: self.duplicates as u64,
            per_topic,
        }
    }
}

/// Counter figures of one slice of traffic: everything received, the distinct events stored
/// (`unique_processed`, also the rows in `events`), and the re-sends dropped
/// (`duplicate_dropped`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub received: u64,
    pub unique: u64,
    pub duplicates: u64,
}

/// The one ground truth of a [`LoadPlan`]: totals and the same figures per logical topic.
/// `received = unique + duplicates` holds for the totals and for every topic; nothing is
/// invalid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    pub received: u64,
    pub unique: u64,
    pub duplicates: u64,
    pub per_topic: BTreeMap<String, Counts>,
}

impl Expected {
    /// The totals as [`Counts`].
    pub fn totals(&self) -> Counts {
        Counts {
            received: self.received,
            unique: self.unique,
            duplicates: self.duplicates,
        }
    }

    /// Compares what the aggregator's per-topic counters grew by (`observed`, topics outside the
    /// plan are ignored: they are other traffic) with this truth; returns every figure that is
    /// off, empty when all hold. `resent` is how many records were re-sent after an ambiguous
    /// failure: each may have landed once more, as one more received and one more duplicate of
    /// its topic, and never more than `resent` in all.
    pub fn mismatches(&self, observed: &BTreeMap<String, Counts>, resent: u64) -> Vec<String> {
        let mut off = Vec::new();
        let mut wire_extra_total = 0u64;
        for (topic, want) in &self.per_topic {
            let got = observed.get(topic).copied().unwrap_or_default();
            if got.unique != want.unique {
                off.push(format!(
                    "topic {topic}: unique_processed grew by {}, expected {}",
                    got.unique, want.unique
                ));
            }
            let Some(wire_extra) = got.received.checked_sub(want.received) else {
                off.push(format!(
                    "topic {topic}: received grew by {}, expected {}",
                    got.received, want.received
                ));
                continue;
            };
            wire_extra_total += wire_extra;
            if got.duplicates != want.duplicates + wire_extra {
                let because = if wire_extra > 0 {
                    format!(" + {wire_extra} re-sent by retries")
                } else {
                    String::new()
                };
                off.push(format!(
                    "topic {topic}: duplicate_dropped grew by {}, expected {}{because}",
                    got.duplicates, want.duplicates
                ));
            }
        }
        if wire_extra_total > resent {
            let retries = if resent == 0 {
                "nothing was re-sent".to_owned()
            } else {
                format!("only {resent} were re-sent")
            };
            off.push(format!(
                "received {} more than were sent ({} in all), and {retries}",
                wire_extra_total, self.received
            ));
        }
        off
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
    fn expected_matches_the_sends_event_by_event() {
        let plan = LoadPlan::new(spec(3_001, 0.37, 11));
        let expected = plan.expected();
        let mut seen = HashSet::new();
        let mut per_topic: BTreeMap<String, Counts> = BTreeMap::new();
        for k in 0..plan.sends.len() {
            let event = plan.send(k);
            let counts = per_topic.entry(event.topic.clone()).or_default();
            counts.received += 1;
            if seen.insert((event.topic, event.event_id)) {
                counts.unique += 1;
            } else {
                counts.duplicates += 1;
            }
        }
        assert_eq!(expected.per_topic, per_topic);
        assert_eq!(
            expected.totals(),
            Counts {
                received: 3_001,
                unique: plan.distinct as u64,
                duplicates: plan.duplicates as u64
            }
        );
        assert_eq!(expected.per_topic.len(), 4);
        assert!(plan.expected().mismatches(&per_topic, 0).is_empty());
    }

    #[test]
    fn other_traffic_is_ignored_and_every_off_figure_named() {
        let plan = LoadPlan::new(spec(400, 0.25, 5));
        let expected = plan.expected();
        let mut observed = expected.per_topic.clone();
        observed.insert(
            "someone.else".into(),
            Counts {
                received: 7,
                unique: 7,
                duplicates: 0,
            },
        );
        assert!(expected.mismatches(&observed, 0).is_empty());
        let first = expected.per_topic.keys().next().unwrap().clone();
        observed.get_mut(&first).unwrap().unique -= 1;
        let off = expected.mismatches(&observed, 0);
        assert_eq!(off.len(), 1, "{off:?}");
        assert!(off[0].contains(&first) && off[0].contains("unique_processed"));
    }

    #[test]
    fn re_sent_records_are_accounted_for_and_never_invented() {
        let plan = LoadPlan::new(spec(400, 0.25, 6));
        let expected = plan.expected();
        let mut observed = expected.per_topic.clone();
        let first = expected.per_topic.keys().next().unwrap().clone();
        let counts = observed.get_mut(&first).unwrap();
        counts.received += 2;
        counts.duplicates += 2;
        assert!(expected.mismatches(&observed, 2).is_empty());
        let off = expected.mismatches(&observed, 0);
        assert_eq!(off.len(), 1, "{off:?}");
        assert!(off[0].contains("nothing was re-sent"), "{off:?}");
        // A duplicate count off without any re-send never blames retries.
        let mut observed = expected.per_topic.clone();
        observed.get_mut(&first).unwrap().duplicates += 1;
        let off = expected.mismatches(&observed, 0);
        assert_eq!(off.len(), 1, "{off:?}");
        assert!(!off[0].contains("re-sent"), "{off:?}");
    }

    #[test]
    fn zero_ratio_means_no_duplicates() {
        let plan = LoadPlan::new(spec(1_000, 0.0, 9));
        assert_eq!((plan.distinct, plan.duplicates), (1_000, 0));
    }
}
