//! Group membership: the rdkafka context (commits on revoke, assignment logs, the lag gauge fed
//! by librdkafka's statistics), creating the member, seeding the group's offsets from the
//! database, and committing, pausing and resuming the assignment. The batch loop (`worker`)
//! calls these and knows nothing of rebalances.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use logagg_core::config::{ConsumerConfig, KafkaConfig};
use logagg_core::db::progress::Progress;
use prometheus::IntGaugeVec;
use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer,
};
use rdkafka::statistics::Statistics;
use rdkafka::{ClientContext, Offset, TopicPartitionList};

/// Next offsets whose batches are committed in PostgreSQL, per partition: what a revoke commits.
type DbPositions = Arc<Mutex<BTreeMap<i32, i64>>>;

/// Commits stored positions when partitions are revoked, logs assignments, and sets the lag
/// gauge from librdkafka's periodic statistics (no broker round trip per `/metrics` scrape).
pub struct GroupContext {
    topic: String,
    positions: DbPositions,
    lag: IntGaugeVec,
}

impl ClientContext for GroupContext {
    fn stats(&self, statistics: Statistics) {
        self.lag.reset();
        let Some(topic) = statistics.topics.get(&self.topic) else {
            return;
        };
        // librdkafka reports every partition it knows; only fetched (assigned) ones have a lag,
        // measured from the committed offset, i.e. from what is stored in PostgreSQL.
        for (partition, stats) in &topic.partitions {
            if *partition >= 0 && stats.consumer_lag >= 0 && stats.fetch_state != "none" {
                self.lag
                    .with_label_values(&[&partition.to_string()])
                    .set(stats.consumer_lag);
            }
        }
    }
}

impl ConsumerContext for GroupContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(revoked) = rebalance {
            if consumer.assignment_lost() {
                // Session lost (broker unreachable, or we stalled): the group already gave the
                // partitions away, so a commit would be refused; and waiting on one here, with
                // no coordinator, would block the poll loop.
                tracing::warn!(partitions = ?partitions_of(revoked), "assignment lost");
                return;
            }
            let positions = self.positions.lock().expect("positions lock");
            let mut tpl = TopicPartitionList::new();
            for element in revoked.elements() {
                if let Some(next) = positions.get(&element.partition()) {
                    let _ = tpl.add_partition_offset(
                        &self.topic,
                        element.partition(),
                        Offset::Offset(*next),
                    );
                }
            }
            drop(positions);
            // Asynchronous: the database is the authority, so a commit that lands late only
            // makes the next owner re-read a few records (counted as replayed), while a
            // synchronous one could stall the rebalance on a slow coordinator.
            if tpl.count() > 0 {
                if let Err(error) = consumer.commit(&tpl, CommitMode::Async) {
                    tracing::warn!(%error, "commit on revoke failed; the next owner re-reads (counted as replayed)");
                }
            }
            tracing::info!(partitions = ?partitions_of(revoked), "partitions revoked");
        }
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(assigned) = rebalance {
            tracing::info!(partitions = ?partitions_of(assigned), "partitions assigned");
        }
    }
}

fn partitions_of(tpl: &TopicPartitionList) -> Vec<i32> {
    tpl.elements().iter().map(|e| e.partition()).collect()
}

/// The Kafka consumer type of the worker.
pub type GroupConsumer = StreamConsumer<GroupContext>;

/// Creates the group member (configuration: `logagg_core::kafka::group_consumer_config`);
/// `lag` is the gauge its statistics keep current.
pub fn create_consumer(
    kafka: &KafkaConfig,
    config: &ConsumerConfig,
    lag: IntGaugeVec,
) -> anyhow::Result<Arc<GroupConsumer>> {
    let context = GroupContext {
        topic: kafka.topic.clone(),
        positions: Arc::default(),
        lag,
    };
    let consumer: GroupConsumer =
        logagg_core::kafka::group_consumer_config(kafka, config).create_with_context(context)?;
    Ok(Arc::new(consumer))
}

/// Where no committed group offset exists for a partition (new group, expired offsets) but the
/// database knows how far it got (`stored`), commit the database's next offset, so the group
/// starts there rather than at the earliest record. Best effort: only works while the group has
/// no members.
pub fn seed_group_offsets(
    consumer: &GroupConsumer,
    topic: &str,
    stored: &[Progress],
) -> anyhow::Result<()> {
    if stored.is_empty() {
        return Ok(());
    }
    let mut wanted = TopicPartitionList::new();
    for row in stored {
        wanted.add_partition(topic, row.kafka_partition);
    }
    let committed = consumer.committed_offsets(wanted, Duration::from_secs(10))?;
    let mut seed = TopicPartitionList::new();
    for row in stored {
        let has_offset = committed
            .find_partition(topic, row.kafka_partition)
            .map(|e| matches!(e.offset(), Offset::Offset(_)))
            .unwrap_or(false);
        if !has_offset {
            seed.add_partition_offset(topic, row.kafka_partition, Offset::Offset(row.next_offset))?;
        }
    }
    if seed.count() > 0 {
        match consumer.commit(&seed, CommitMode::Sync) {
            Ok(()) => tracing::info!(
                partitions = seed.count(),
                "seeded group offsets from the database"
            ),
            Err(error) => {
                tracing::info!(%error, "group offsets not seeded (group has members); starting at the reset position")
            }
        }
    }
    Ok(())
}

/// Commits `next_offsets` (partition -> next offset, already stored in PostgreSQL) and
/// remembers them for a commit on revoke. `sync` when leaving: the commit must land first.
pub fn commit_offsets(
    consumer: &GroupConsumer,
    topic: &str,
    next_offsets: impl IntoIterator<Item = (i32, i64)>,
    sync: bool,
) {
    let mut tpl = TopicPartitionList::new();
    {
        let mut positions = consumer.context().positions.lock().expect("positions lock");
        for (partition, next) in next_offsets {
            positions.insert(partition, next);
            let _ = tpl.add_partition_offset(topic, partition, Offset::Offset(next));
        }
    }
    let mode = if sync {
        CommitMode::Sync
    } else {
        CommitMode::Async
    };
    if let Err(error) = consumer.commit(&tpl, mode) {
        // The database already holds the batch; a lost commit only means a harmless re-read.
        tracing::warn!(%error, "kafka offset commit failed");
    }
}

/// Stops fetching every assigned partition (while PostgreSQL refuses batches).
pub fn pause_all(consumer: &GroupConsumer) {
    if let Ok(assignment) = consumer.assignment() {
        if let Err(error) = consumer.pause(&assignment) {
            tracing::warn!(%error, "pause failed");
        }
    }
}

/// Fetches every assigned partition again.
pub fn resume_all(consumer: &GroupConsumer) {
    if let Ok(assignment) = consumer.assignment() {
        if let Err(error) = consumer.resume(&assignment) {
            tracing::warn!(%error, "resume failed");
        }
    }
}
