//! `logagg-consumer replay`: move the group's committed Kafka offsets (to the earliest or
//! latest record, to a point in time, or to explicit per-partition offsets) so the consumers
//! re-read history when they start again. The database's per-partition next offsets are left
//! alone, so re-read records count as `replayed` and the fresh counters stay exact.
//! `--rebuild` first empties the events, counters and dead letters of the group, so the log
//! rebuilds them from scratch (a lost or new database).

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

use anyhow::{bail, Context};
use chrono::{DateTime, Utc};
use diesel_async::AsyncConnection;
use logagg_core::config::KafkaConfig;
use logagg_core::db::{self, events, group_state, DbError};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::{Offset, TopicPartitionList};

const TIMEOUT: Duration = Duration::from_secs(15);

/// Where to move the group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplayTarget {
    Earliest,
    Latest,
    /// The first record at or after this time, per partition.
    Time(DateTime<Utc>),
    /// Explicit `partition -> offset`; other partitions keep their committed offset.
    Offsets(BTreeMap<i32, i64>),
}

impl FromStr for ReplayTarget {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "earliest" => return Ok(Self::Earliest),
            "latest" => return Ok(Self::Latest),
            _ => {}
        }
        if let Ok(time) = DateTime::parse_from_rfc3339(text) {
            return Ok(Self::Time(time.with_timezone(&Utc)));
        }
        let mut offsets = BTreeMap::new();
        for part in text.split(',') {
            let (partition, offset) = part
                .split_once(':')
                .and_then(|(p, o)| Some((p.trim().parse().ok()?, o.trim().parse().ok()?)))
                .ok_or_else(|| {
                    format!("{text:?}: expected earliest, latest, an RFC 3339 time or PARTITION:OFFSET[,...]")
                })?;
            offsets.insert(partition, offset);
        }
        Ok(Self::Offsets(offsets))
    }
}

/// Resets the group. Refuses while the group has live members: stop the consumers first.
/// Returns the new `partition -> offset` positions.
pub async fn replay(
    kafka: &KafkaConfig,
    pool: &db::Pool,
    target: &ReplayTarget,
    rebuild: bool,
) -> anyhow::Result<BTreeMap<i32, i64>> {
    let consumer: BaseConsumer = logagg_core::kafka::group_admin_config(kafka)
        .create()
        .context("creating the Kafka client")?;
    let groups = consumer
        .fetch_group_list(Some(&kafka.group), TIMEOUT)
        .context("describing the consumer group")?;
    if let Some(group) = groups.groups().iter().find(|g| g.name() == kafka.group) {
        if !group.members().is_empty() {
            bail!(
                "group {} has {} live member(s) (state {}): stop every logagg-consumer first",
                kafka.group,
                group.members().len(),
                group.state()
            );
        }
    }
    let target = if rebuild {
        &ReplayTarget::Earliest
    } else {
        target
    };
    let positions = target_offsets(&consumer, kafka, target)?;
    let mut tpl = TopicPartitionList::new();
    for (partition, offset) in &positions {
        tpl.add_partition_offset(&kafka.topic, *partition, Offset::Offset(*offset))?;
    }
    consumer
        .commit(&tpl, CommitMode::Sync)
        .context("committing the group's new offsets")?;
    if rebuild {
        let mut conn = pool.get().await?;
        let (group, topic) = (kafka.group.as_str(), kafka.topic.as_str());
        conn.transaction::<_, DbError, _>(async |conn| {
            events::delete_all(conn).await?;
            group_state::forget(conn, group, topic).await?;
            Ok(())
        })
        .await
        .context("emptying the database for the rebuild")?;
    }
    Ok(positions)
}

fn target_offsets(
    consumer: &BaseConsumer,
    kafka: &KafkaConfig,
    target: &ReplayTarget,
) -> anyhow::Result<BTreeMap<i32, i64>> {
    let partitions = logagg_core::kafka::partitions(consumer.client(), &kafka.topic, TIMEOUT)?;
    if partitions.is_empty() {
        bail!("topic {} has no partitions (does it exist?)", kafka.topic);
    }
    let mut out = BTreeMap::new();
    match target {
        ReplayTarget::Earliest | ReplayTarget::Latest => {
            for &p in &partitions {
                let (low, high) = consumer.fetch_watermarks(&kafka.topic, p, TIMEOUT)?;
                out.insert(
                    p,
                    if *target == ReplayTarget::Earliest {
                        low
                    } else {
                        high
                    },
                );
            }
        }
        ReplayTarget::Time(time) => {
            let mut query = TopicPartitionList::new();
            for &p in &partitions {
                query.add_partition_offset(
                    &kafka.topic,
                    p,
                    Offset::Offset(time.timestamp_millis()),
                )?;
            }
            let found = consumer.offsets_for_times(query, TIMEOUT)?;
            for element in found.elements() {
                let offset = match element.offset() {
                    Offset::Offset(o) => o,
                    // No record at or after the time: the partition's end.
                    _ => {
                        consumer
                            .fetch_watermarks(&kafka.topic, element.partition(), TIMEOUT)?
                            .1
                    }
                };
                out.insert(element.partition(), offset);
            }
        }
        ReplayTarget::Offsets(offsets) => {
            for (&p, &offset) in offsets {
                if !partitions.contains(&p) {
                    bail!("topic {} has no partition {p}", kafka.topic);
                }
                let (low, high) = consumer.fetch_watermarks(&kafka.topic, p, TIMEOUT)?;
                if !(low..=high).contains(&offset) {
                    bail!("partition {p}: offset {offset} is outside the log ({low}..={high})");
                }
                out.insert(p, offset);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_target_form() {
        assert_eq!("earliest".parse(), Ok(ReplayTarget::Earliest));
        assert_eq!("latest".parse(), Ok(ReplayTarget::Latest));
        assert!(matches!(
            "2026-11-25T12:00:00Z".parse(),
            Ok(ReplayTarget::Time(_))
        ));
        assert_eq!(
            "0:10, 2:7".parse(),
            Ok(ReplayTarget::Offsets(BTreeMap::from([(0, 10), (2, 7)])))
        );
        assert!("yesterday".parse::<ReplayTarget>().is_err());
        assert!("0:x".parse::<ReplayTarget>().is_err());
    }
}
