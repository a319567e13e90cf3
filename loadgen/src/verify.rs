//! `load --verify`: waits until the aggregator received this run's records, then compares the
//! growth of this run's own topics' counters (from `/stats`'s `per_topic`) with the plan's
//! [`Expected`]. Traffic on other topics cannot make it fail.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use logagg_core::contract::StatsResponse;
use logagg_producer::generator::{Counts, Expected};

use crate::http::ApiClient;

/// How long the counters must stay still, after a run that re-sent records, before the check:
/// a re-sent copy is in the log before the run ends, so it arrives while they still move.
const SETTLE: Duration = Duration::from_secs(2);
const POLL: Duration = Duration::from_millis(200);

/// Per-topic counters of a `/stats` body (`per_topic`).
pub fn per_topic(stats: &StatsResponse) -> BTreeMap<String, Counts> {
    let count = |n: i64| u64::try_from(n).unwrap_or(0);
    stats
        .per_topic
        .iter()
        .map(|(topic, c)| {
            let counts = Counts {
                received: count(c.received),
                unique: count(c.unique_processed),
                duplicates: count(c.duplicate_dropped),
            };
            (topic.clone(), counts)
        })
        .collect()
}

/// How much each of `expected`'s topics grew from `before` to `after`.
pub fn growth(
    expected: &Expected,
    before: &BTreeMap<String, Counts>,
    after: &BTreeMap<String, Counts>,
) -> BTreeMap<String, Counts> {
    expected
        .per_topic
        .keys()
        .map(|topic| {
            let was = before.get(topic).copied().unwrap_or_default();
            let now = after.get(topic).copied().unwrap_or_default();
            let counts = Counts {
                received: now.received.saturating_sub(was.received),
                unique: now.unique.saturating_sub(was.unique),
                duplicates: now.duplicates.saturating_sub(was.duplicates),
            };
            (topic.clone(), counts)
        })
        .collect()
}

/// Whether every topic of the plan received at least what was sent to it.
fn all_received(expected: &Expected, grown: &BTreeMap<String, Counts>) -> bool {
    expected.per_topic.iter().all(|(topic, want)| {
        grown
            .get(topic)
            .is_some_and(|got| got.received >= want.received)
    })
}

/// Polls `/stats` until every topic of the plan received what was sent to it (and, when the run
/// re-sent records, until the counters stop moving); returns the growth per topic.
pub async fn wait_received(
    client: &ApiClient,
    expected: &Expected,
    before: &BTreeMap<String, Counts>,
    resent: u64,
    timeout: Duration,
) -> anyhow::Result<BTreeMap<String, Counts>> {
    let deadline = Instant::now() + timeout;
    let mut last: Option<(BTreeMap<String, Counts>, Instant)> = None;
    loop {
        if let Ok(stats) = client.stats().await {
            let grown = growth(expected, before, &per_topic(&stats));
            if all_received(expected, &grown) {
                if resent == 0 {
                    return Ok(grown);
                }
                match &last {
                    Some((previous, since)) if *previous == grown => {
                        if since.elapsed() >= SETTLE {
                            return Ok(grown);
                        }
                    }
                    _ => last = Some((grown, Instant::now())),
                }
            }
        }
        if Instant::now() >= deadline {
            anyhow::bail!(
                "the consumer did not receive this run's {} records within {timeout:?} \
                 (is logagg-consumer running, on the same Kafka topic as the API?)",
                expected.received
            );
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The closing line of a verified run.
pub fn ok_line(grown: &BTreeMap<String, Counts>, resent: u64) -> String {
    let sum = grown.values().fold(Counts::default(), |a, c| Counts {
        received: a.received + c.received,
        unique: a.unique + c.unique,
        duplicates: a.duplicates + c.duplicates,
    });
    let retries = if resent > 0 {
        format!(" (re-sent after ambiguous failures: {resent})")
    } else {
        String::new()
    };
    format!(
        "verify      OK over this run's {} topic(s): received +{}, unique_processed +{}, duplicate_dropped +{}{retries}",
        grown.len(),
        sum.received,
        sum.unique,
        sum.duplicates
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use logagg_core::contract::TopicCounts;
    use logagg_producer::generator::{LoadPlan, LoadSpec};

    fn plan() -> LoadPlan {
        LoadPlan::new(LoadSpec {
            events: 100,
            duplicate_ratio: 0.2,
            topics: 2,
            payload_bytes: 0,
            seed: 1,
            topic_prefix: "run".into(),
        })
    }

    fn stats_for(counts: &[(&str, u64, u64, u64)]) -> StatsResponse {
        let per_topic = counts
            .iter()
            .map(|&(t, received, unique, duplicates)| {
                let c = TopicCounts {
                    received: received as i64,
                    unique_processed: unique as i64,
                    duplicate_dropped: duplicates as i64,
                    replayed: 0,
                    ..TopicCounts::default()
                };
                (t.to_string(), c)
            })
            .collect();
        StatsResponse {
            received: 999_999,
            per_topic,
            ..Default::default()
        }
    }

    #[test]
    fn other_topics_and_earlier_counts_do_not_matter() {
        let expected = plan().expected();
        let before = per_topic(&stats_for(&[("run.0", 5, 5, 0), ("other", 50, 40, 10)]));
        let want: Vec<_> = expected.per_topic.values().copied().collect();
        let after = per_topic(&stats_for(&[
            (
                "run.0",
                5 + want[0].received,
                5 + want[0].unique,
                want[0].duplicates,
            ),
            (
                "run.1",
                want[1].received,
                want[1].unique,
                want[1].duplicates,
            ),
            ("other", 900, 800, 100),
        ]));
        let grown = growth(&expected, &before, &after);
        assert!(all_received(&expected, &grown));
        assert!(expected.mismatches(&grown, 0).is_empty());
        assert!(!ok_line(&grown, 0).contains("re-sent"));
        assert!(ok_line(&grown, 0).contains("received +100"));
    }

    #[test]
    fn a_topic_not_seen_yet_is_not_received() {
        let expected = plan().expected();
        let grown = growth(&expected, &BTreeMap::new(), &BTreeMap::new());
        assert!(!all_received(&expected, &grown));
        assert_eq!(expected.mismatches(&grown, 0).len(), 4);
    }
}
