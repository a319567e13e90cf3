//! The ground truth as the e2e tests and the bench check it: the exact counters and rows a load
//! plan must leave behind once every send was consumed, taken from the plan's one
//! [`generator::Expected`](logagg_producer::generator::Expected) (which `load --verify` uses
//! too) and compared with the summed progress counters and the rows in `events`.

use logagg_core::db::progress::Counts;
use logagg_producer::generator::LoadPlan;

/// What the consumers must have counted and stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expected {
    pub received: i64,
    pub unique_processed: i64,
    pub duplicate_dropped: i64,
    pub invalid: i64,
    /// Rows in `events`.
    pub rows: i64,
}

impl Expected {
    /// Every send received, each distinct event stored once, every re-send a duplicate.
    pub fn of_plan(plan: &LoadPlan) -> Self {
        let truth = plan.expected().totals();
        Self {
            received: truth.received as i64,
            unique_processed: truth.unique as i64,
            duplicate_dropped: truth.duplicates as i64,
            invalid: 0,
            rows: truth.unique as i64,
        }
    }

    /// Plus `events` distinct events sent besides the plan (a warm-up event, a sentinel).
    pub fn plus_distinct(self, events: i64) -> Self {
        Self {
            received: self.received + events,
            unique_processed: self.unique_processed + events,
            rows: self.rows + events,
            ..self
        }
    }

    /// Every figure of `counts` and `rows` that differs, as `name = got, expected want`.
    pub fn mismatches(&self, counts: &Counts, rows: i64) -> Vec<String> {
        [
            ("received", counts.received, self.received),
            (
                "unique_processed",
                counts.unique_processed,
                self.unique_processed,
            ),
            (
                "duplicate_dropped",
                counts.duplicate_dropped,
                self.duplicate_dropped,
            ),
            ("invalid", counts.invalid, self.invalid),
            ("rows in events", rows, self.rows),
        ]
        .into_iter()
        .filter(|(_, got, want)| got != want)
        .map(|(name, got, want)| format!("{name} = {got}, expected {want}"))
        .collect()
    }
}

/// All five counters in their order: (received, unique_processed, duplicate_dropped, invalid,
/// replayed), to compare a whole `Counts` with one tuple.
pub fn all(c: &Counts) -> (i64, i64, i64, i64, i64) {
    (
        c.received,
        c.unique_processed,
        c.duplicate_dropped,
        c.invalid,
        c.replayed,
    )
}

/// The fresh counters (received, unique_processed, duplicate_dropped, invalid): everything but
/// `replayed`, which rebalances may move.
pub fn fresh(c: &Counts) -> (i64, i64, i64, i64) {
    (
        c.received,
        c.unique_processed,
        c.duplicate_dropped,
        c.invalid,
    )
}

/// Asserts the counters of an API `/stats` answer equal `counts` (read from PostgreSQL).
pub fn assert_stats_match(stats: &logagg_core::contract::StatsResponse, counts: &Counts) {
    let served = Counts {
        received: stats.received,
        unique_processed: stats.unique_processed,
        duplicate_dropped: stats.duplicate_dropped,
        invalid: stats.invalid,
        replayed: stats.replayed,
        lost: stats.lost,
    };
    assert_eq!(served, *counts, "/stats vs the database: {stats:?}");
}

/// Asserts `letters` is exactly one dead letter, at `offset`, whose reason mentions `reason`.
pub fn assert_one_dead_letter(
    letters: &[logagg_core::db::dead_letters::StoredDeadLetter],
    offset: i64,
    reason: &str,
) {
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(letters[0].letter.kafka_offset, offset, "{letters:?}");
    assert!(
        letters[0].letter.error.contains(reason),
        "{}",
        letters[0].letter.error
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use logagg_producer::generator::LoadSpec;

    #[test]
    fn a_plan_with_30_percent_duplicates() {
        let plan = LoadPlan::new(LoadSpec {
            events: 1_000,
            duplicate_ratio: 0.3,
            topics: 4,
            payload_bytes: 8,
            seed: 1,
            topic_prefix: "t".into(),
        });
        let expected = Expected::of_plan(&plan).plus_distinct(1);
        assert_eq!(
            expected,
            Expected {
                received: 1_001,
                unique_processed: 701,
                duplicate_dropped: 300,
                invalid: 0,
                rows: 701
            }
        );
        let exact = Counts {
            received: 1_001,
            unique_processed: 701,
            duplicate_dropped: 300,
            invalid: 0,
            replayed: 5,
            lost: 0,
        };
        assert!(expected.mismatches(&exact, 701).is_empty());
        let off = Counts {
            duplicate_dropped: 299,
            ..exact
        };
        assert_eq!(
            expected.mismatches(&off, 700),
            [
                "duplicate_dropped = 299, expected 300",
                "rows in events = 700, expected 701"
            ]
        );
    }
}
