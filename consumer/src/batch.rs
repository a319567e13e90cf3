//! Pure batch logic: decode records, classify each against its partition's stored next offset,
//! and, once the insert has reported which rows were new, tally the exact counters.
//!
//! Classification rules (docs/GUARANTEES.md):
//! - offset < stored next offset: a redelivery or deliberate replay. The insert is still
//!   attempted (it restores a missing row) but the record only counts as `replayed`.
//! - offset >= stored next offset: fresh. It counts in `received` and in exactly one of
//!   `unique_processed` (its row was inserted), `duplicate_dropped` (the key was already stored,
//!   or appeared earlier in the same batch) or `invalid` (dead-lettered).
//! - a replayed record whose row was inserted restores a row that retention (or an admin
//!   delete) had removed: it counts back against the topic's `expired`, so
//!   `unique_processed = rows + expired + deleted` stays exact (docs/RETENTION.md).
//! - a fresh record whose offset lies above the partition's next offset (the stored one, or the
//!   one after the batch's previous record of that partition): the offsets in between were
//!   deleted by the broker before this group read them (retention outran a stopped consumer,
//!   or deleteRecords). They are a [`Gap`], counted as `lost`, never as `received`.

use std::collections::{BTreeMap, HashMap, HashSet};

use logagg_core::db::counters::TopicDelta;
use logagg_core::db::dead_letters::DeadLetter;
use logagg_core::db::events::NewEvent;
use logagg_core::db::progress::Counts;
use logagg_core::Event;

/// A record as read from Kafka.
#[derive(Debug, Clone)]
pub struct RawRecord {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
}

/// A record after decoding (done outside the transaction, once per batch).
#[derive(Debug, Clone)]
pub struct DecodedRecord {
    pub raw: RawRecord,
    pub event: Result<Event, String>,
}

/// Decodes and validates every record.
pub fn decode(records: Vec<RawRecord>) -> Vec<DecodedRecord> {
    records
        .into_iter()
        .map(|raw| {
            let event = Event::from_record(raw.key.as_deref(), raw.value.as_deref())
                .map_err(|e| e.to_string());
            DecodedRecord { raw, event }
        })
        .collect()
}

/// One record's place in the batch.
#[derive(Debug)]
struct Entry {
    partition: i32,
    fresh: bool,
    /// For a valid record: its key, and whether this record carries the batch's insert attempt
    /// for that key (the first occurrence does; later ones in the batch are duplicates).
    valid: Option<(usize, bool)>,
}

/// Offsets `from..to` of a partition that the broker no longer holds: never stored, never
/// will be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gap {
    pub partition: i32,
    /// First missing offset.
    pub from: i64,
    /// First offset present again (exclusive end of the gap).
    pub to: i64,
}

impl Gap {
    /// How many offsets are missing.
    pub fn len(&self) -> i64 {
        self.to - self.from
    }

    pub fn is_empty(&self) -> bool {
        self.len() <= 0
    }
}

/// What the transaction writes for a batch, before the insert result is known.
#[derive(Debug)]
pub struct Prepared {
    /// Unique keys of the batch, first occurrence first.
    pub rows: Vec<NewEvent>,
    pub dead_letters: Vec<DeadLetter>,
    /// Holes in the log between the stored next offsets and what the broker served.
    pub gaps: Vec<Gap>,
    entries: Vec<Entry>,
    /// Next offset per partition after this batch.
    next_offsets: BTreeMap<i32, i64>,
}

/// Final counts of a batch.
#[derive(Debug, Default)]
pub struct Tally {
    /// Per partition: increments and the new next offset.
    pub partitions: BTreeMap<i32, (Counts, i64)>,
    pub topic_deltas: Vec<TopicDelta>,
    pub total: Counts,
    /// The gaps found (their sizes are in the partitions' `lost`), to report once committed.
    pub gaps: Vec<Gap>,
}

/// Classifies `records` against `stored_next` (partition -> next offset, from the locked
/// progress rows). `group` and `kafka_topic` label the dead letters.
pub fn prepare(
    records: &[DecodedRecord],
    stored_next: &BTreeMap<i32, i64>,
    group: &str,
    kafka_topic: &str,
) -> Prepared {
    let mut rows: Vec<NewEvent> = Vec::with_capacity(records.len());
    let mut row_of_key: HashMap<(&str, &str), usize> = HashMap::with_capacity(records.len());
    let mut dead_letters = Vec::new();
    let mut entries = Vec::with_capacity(records.len());
    let mut gaps = Vec::new();
    let mut next_offsets = stored_next.clone();
    for record in records {
        let raw = &record.raw;
        let stored = stored_next.get(&raw.partition).copied().unwrap_or(0);
        let next = next_offsets.entry(raw.partition).or_insert(stored);
        if raw.offset > *next {
            gaps.push(Gap {
                partition: raw.partition,
                from: *next,
                to: raw.offset,
            });
        }
        *next = (*next).max(raw.offset + 1);
        let fresh = raw.offset >= stored;
        let valid = match &record.event {
            Ok(event) => {
                let key = (event.topic.as_str(), event.event_id.as_str());
                Some(match row_of_key.get(&key) {
                    Some(&row) => (row, false),
                    None => {
                        row_of_key.insert(key, rows.len());
                        rows.push(NewEvent::from_event(event, raw.partition, raw.offset));
                        (rows.len() - 1, true)
                    }
                })
            }
            Err(error) => {
                dead_letters.push(DeadLetter {
                    consumer_group: group.to_owned(),
                    kafka_topic: kafka_topic.to_owned(),
                    kafka_partition: raw.partition,
                    kafka_offset: raw.offset,
                    record_key: raw.key.clone(),
                    record_value: raw.value.clone(),
                    error: error.clone(),
                });
                None
            }
        };
        entries.push(Entry {
            partition: raw.partition,
            fresh,
            valid,
        });
    }
    Prepared {
        rows,
        dead_letters,
        gaps,
        entries,
        next_offsets,
    }
}

impl Tally {
    /// Adds a later tally of the same batch's records (used when records are written one by
    /// one to isolate a poison record).
    pub fn merge(&mut self, other: Tally) {
        for (partition, (counts, next)) in other.partitions {
            let entry = self
                .partitions
                .entry(partition)
                .or_insert((Counts::default(), next));
            entry.0.add(&counts);
            entry.1 = entry.1.max(next);
        }
        self.total.add(&other.total);
        self.topic_deltas.extend(other.topic_deltas);
        self.gaps.extend(other.gaps);
    }
}

impl Prepared {
    /// Counts the batch given the keys the insert reported as new.
    pub fn tally(&self, inserted: &[(String, String)], group: &str, kafka_topic: &str) -> Tally {
        let inserted: HashSet<(&str, &str)> = inserted
            .iter()
            .map(|(t, e)| (t.as_str(), e.as_str()))
            .collect();
        let mut tally = Tally::default();
        let stored_at = chrono::Utc::now();
        let mut topics: BTreeMap<(i32, &str), TopicDelta> = BTreeMap::new();
        for (&partition, &next) in &self.next_offsets {
            if self.entries.iter().any(|e| e.partition == partition) {
                tally
                    .partitions
                    .insert(partition, (Counts::default(), next));
            }
        }
        let restored = |entry: &Entry| match entry.valid {
            Some((row, true)) if !entry.fresh => {
                let r = &self.rows[row];
                inserted.contains(&(r.topic.as_str(), r.event_id.as_str()))
            }
            _ => false,
        };
        for entry in &self.entries {
            let mut counts = Counts::default();
            match (entry.fresh, entry.valid) {
                (false, _) => counts.replayed = 1,
                (true, None) => {
                    counts.received = 1;
                    counts.invalid = 1;
                }
                (true, Some((row, attempted))) => {
                    counts.received = 1;
                    let r = &self.rows[row];
                    let new =
                        attempted && inserted.contains(&(r.topic.as_str(), r.event_id.as_str()));
                    if new {
                        counts.unique_processed = 1;
                    } else {
                        counts.duplicate_dropped = 1;
                    }
                }
            }
            if let Some((row, _)) = entry.valid {
                let topic = self.rows[row].topic.as_str();
                let delta = topics
                    .entry((entry.partition, topic))
                    .or_insert_with(|| TopicDelta::new(group, kafka_topic, entry.partition, topic));
                if counts.unique_processed == 1 {
                    delta.stored(self.rows[row].event_timestamp, stored_at);
                }
                delta.received += counts.received;
                delta.unique_processed += counts.unique_processed;
                delta.duplicate_dropped += counts.duplicate_dropped;
                delta.replayed += counts.replayed;
                if restored(entry) {
                    delta.expired -= 1;
                }
            }
            tally
                .partitions
                .get_mut(&entry.partition)
                .expect("every entry's partition has a next offset")
                .0
                .add(&counts);
            tally.total.add(&counts);
        }
        tally.topic_deltas = topics.into_values().collect();
        for gap in &self.gaps {
            let lost = Counts {
                lost: gap.len(),
                ..Counts::default()
            };
            tally
                .partitions
                .get_mut(&gap.partition)
                .expect("a gap ends at a record of its partition")
                .0
                .add(&lost);
            tally.total.add(&lost);
        }
        tally.gaps = self.gaps.clone();
        tally
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(partition: i32, offset: i64, topic: &str, id: &str) -> RawRecord {
        let value = json!({"topic": topic, "event_id": id, "timestamp": "2026-11-25T12:00:00Z",
                           "source": "test"});
        RawRecord {
            partition,
            offset,
            key: Some(topic.as_bytes().to_vec()),
            value: Some(serde_json::to_vec(&value).unwrap()),
        }
    }

    /// `run_raw` on valid records given as (partition, offset, topic, event id).
    fn run(
        records: &[(i32, i64, &str, &str)],
        stored: &[(i32, i64)],
        already: &[(&str, &str)],
    ) -> (Prepared, Tally) {
        let records = records.iter().map(|&(p, o, t, id)| record(p, o, t, id));
        run_raw(records.collect(), stored, already)
    }

    /// Prepares `records` against the `stored` next offsets and tallies them as if the keys
    /// `already` stored conflicted; the counters' invariant must hold for every batch.
    fn run_raw(
        records: Vec<RawRecord>,
        stored: &[(i32, i64)],
        already: &[(&str, &str)],
    ) -> (Prepared, Tally) {
        let decoded = decode(records);
        let stored: BTreeMap<i32, i64> = stored.iter().copied().collect();
        let prepared = prepare(&decoded, &stored, "g", "events");
        // Simulate the database: rows whose key is not `already` stored are inserted.
        let inserted: Vec<(String, String)> = prepared
            .rows
            .iter()
            .filter(|r| !already.contains(&(r.topic.as_str(), r.event_id.as_str())))
            .map(|r| (r.topic.clone(), r.event_id.clone()))
            .collect();
        let tally = prepared.tally(&inserted, "g", "events");
        invariant(&tally.total);
        (prepared, tally)
    }

    fn invariant(c: &Counts) {
        assert_eq!(
            c.received,
            c.unique_processed + c.duplicate_dropped + c.invalid,
            "{c:?}"
        );
    }

    #[test]
    fn duplicates_within_a_batch_are_attempted_once() {
        let (prepared, tally) = run(
            &[(0, 0, "a", "1"), (0, 1, "a", "1"), (1, 0, "a", "1")],
            &[],
            &[],
        );
        assert_eq!(prepared.rows.len(), 1);
        assert_eq!(tally.total.unique_processed, 1);
        assert_eq!(tally.total.duplicate_dropped, 2);
    }

    #[test]
    fn same_id_under_two_topics_is_two_events() {
        let (prepared, tally) = run(&[(0, 0, "a", "1"), (0, 1, "b", "1")], &[], &[]);
        assert_eq!(prepared.rows.len(), 2);
        assert_eq!(tally.total.unique_processed, 2);
    }

    #[test]
    fn already_stored_keys_count_as_duplicates() {
        let (_, tally) = run(
            &[(0, 5, "a", "1"), (0, 6, "a", "2")],
            &[(0, 5)],
            &[("a", "1")],
        );
        assert_eq!(tally.total.unique_processed, 1);
        assert_eq!(tally.total.duplicate_dropped, 1);
        assert_eq!(tally.partitions[&0].1, 7);
    }

    #[test]
    fn records_below_the_stored_offset_are_replays_not_duplicates() {
        let (prepared, tally) = run(
            &[(0, 3, "a", "1"), (0, 4, "a", "2"), (0, 5, "a", "3")],
            &[(0, 5)],
            &[("a", "1"), ("a", "2")],
        );
        // Replayed records are still attempted so a deleted row comes back.
        assert_eq!(prepared.rows.len(), 3);
        assert_eq!(tally.total.replayed, 2);
        assert_eq!(tally.total.received, 1);
        assert_eq!(tally.total.unique_processed, 1);
    }

    #[test]
    fn a_replay_that_restores_a_removed_row_counts_it_back_from_expired() {
        // ("a", "1") is still stored; ("a", "2") had been removed, so the replay inserts it.
        let (_, tally) = run(
            &[(0, 3, "a", "1"), (0, 4, "a", "2")],
            &[(0, 5)],
            &[("a", "1")],
        );
        assert_eq!(tally.total.replayed, 2);
        assert_eq!(tally.total.unique_processed, 0);
        assert_eq!(tally.topic_deltas.len(), 1);
        assert_eq!(tally.topic_deltas[0].expired, -1);
        assert_eq!(tally.topic_deltas[0].deleted, 0);
    }

    #[test]
    fn a_replay_never_moves_the_next_offset_back() {
        let (_, tally) = run(&[(2, 0, "a", "1")], &[(2, 100)], &[("a", "1")]);
        assert_eq!(
            tally.partitions[&2],
            (
                Counts {
                    replayed: 1,
                    ..Counts::default()
                },
                100
            )
        );
    }

    #[test]
    fn poison_records_are_dead_lettered_and_counted_invalid() {
        let mut bad = record(0, 1, "a", "x");
        bad.value = Some(b"{not json".to_vec());
        let mut mismatched = record(0, 2, "a", "y");
        mismatched.key = Some(b"other".to_vec());
        let records = vec![
            record(0, 0, "a", "1"),
            bad,
            mismatched,
            record(0, 3, "a", "2"),
        ];
        let (prepared, tally) = run_raw(records, &[], &[]);
        assert_eq!(prepared.dead_letters.len(), 2);
        assert_eq!(prepared.dead_letters[0].kafka_offset, 1);
        assert!(prepared.dead_letters[1].error.contains("differs"));
        assert_eq!(tally.total.invalid, 2);
        assert_eq!(tally.total.unique_processed, 2);
        assert_eq!(tally.partitions[&0].1, 4);
    }

    #[test]
    fn offsets_missing_above_the_stored_next_offset_are_lost() {
        let records = [
            (0, 10, "a", "1"),
            (0, 11, "a", "2"),
            (0, 15, "a", "3"),
            (1, 0, "a", "4"),
        ];
        let (prepared, tally) = run(&records, &[(0, 4), (1, 0)], &[]);
        assert_eq!(
            prepared.gaps,
            [
                Gap {
                    partition: 0,
                    from: 4,
                    to: 10
                },
                Gap {
                    partition: 0,
                    from: 12,
                    to: 15
                }
            ]
        );
        assert_eq!(tally.partitions[&0].0.lost, 9);
        assert_eq!(tally.partitions[&0].0.received, 3);
        assert_eq!(tally.partitions[&1].0.lost, 0);
        assert_eq!(tally.total.lost, 9);
        assert_eq!(tally.partitions[&0].1, 16);
    }

    #[test]
    fn replays_and_contiguous_records_lose_nothing() {
        let contiguous = [
            (0, 2, "a", "1"),
            (0, 3, "a", "2"),
            (0, 5, "a", "3"),
            (0, 6, "a", "4"),
        ];
        let (prepared, tally) = run(&contiguous, &[(0, 5)], &[]);
        assert!(prepared.gaps.is_empty(), "{:?}", prepared.gaps);
        assert_eq!(tally.total.lost, 0);
    }

    #[test]
    fn topic_deltas_are_per_partition_and_topic() {
        let (_, tally) = run(
            &[(0, 0, "a", "1"), (0, 1, "a", "1"), (1, 0, "b", "1")],
            &[],
            &[],
        );
        let got: Vec<_> = tally
            .topic_deltas
            .iter()
            .map(|d| {
                (
                    d.kafka_partition,
                    d.topic.as_str(),
                    d.received,
                    d.unique_processed,
                    d.duplicate_dropped,
                )
            })
            .collect();
        assert_eq!(got, [(0, "a", 2, 1, 1), (1, "b", 1, 1, 0)]);
    }
}
