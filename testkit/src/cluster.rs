//! [`KafkaCluster`]: a test's own three-node Kafka cluster (scripts/kafka-cluster.sh) on free
//! loopback ports, under target/, destroyed (every node SIGKILLed, its directory removed) when
//! dropped, also when the test panics. Nodes can be SIGKILLed and started again, and the
//! leaders of a topic's partitions read from the cluster's metadata.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::Context;
use rdkafka::consumer::{BaseConsumer, Consumer};

use crate::kafka::client_config;
use crate::process::run_checked;
use crate::services::{root, scratch_dir};

/// Nodes of the cluster, numbered 1..=3 (their Kafka node ids).
pub const NODES: [i32; 3] = [1, 2, 3];

/// A running three-node cluster; destroyed when dropped.
pub struct KafkaCluster {
    home: PathBuf,
    base_port: u16,
}

impl KafkaCluster {
    /// Starts the three nodes (about 30 s on two cores) on ports no one listens on.
    pub fn start(label: &str) -> anyhow::Result<Self> {
        let cluster = Self {
            home: scratch_dir("e2e-clusters", label),
            base_port: free_port_block()?,
        };
        cluster.script(&["up"])?;
        Ok(cluster)
    }

    /// The bootstrap list of the three brokers.
    pub fn brokers(&self) -> String {
        NODES
            .iter()
            .map(|n| format!("127.0.0.1:{}", self.base_port + *n as u16 - 1))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// SIGKILLs node `node`, as a crash would.
    pub fn kill(&self, node: i32) -> anyhow::Result<()> {
        self.script(&["kill", &node.to_string()])
    }

    /// Starts node `node` again (returns at once; it rejoins within seconds).
    pub fn start_node(&self, node: i32) -> anyhow::Result<()> {
        self.script(&["start", &node.to_string()])
    }

    /// `partition -> (leader, in-sync replicas)` of `topic` from the metadata. Blocking.
    pub fn partitions(&self, topic: &str) -> anyhow::Result<BTreeMap<i32, (i32, usize)>> {
        let consumer: BaseConsumer = client_config(&self.brokers()).create()?;
        let metadata = consumer.fetch_metadata(Some(topic), Duration::from_secs(5))?;
        let topic = metadata
            .topics()
            .iter()
            .find(|t| t.name() == topic)
            .context("topic missing from the metadata")?;
        Ok(topic
            .partitions()
            .iter()
            .map(|p| (p.id(), (p.leader(), p.isr().len())))
            .collect())
    }

    fn script(&self, args: &[&str]) -> anyhow::Result<()> {
        run_checked(
            Command::new(root().join("scripts/kafka-cluster.sh"))
                .args(args)
                .env("LOGAGG_CLUSTER_HOME", &self.home)
                .env("LOGAGG_CLUSTER_PORT", self.base_port.to_string()),
            &format!("scripts/kafka-cluster.sh {}", args.join(" ")),
        )
    }
}

impl Drop for KafkaCluster {
    fn drop(&mut self) {
        if let Err(error) = self.script(&["destroy"]) {
            eprintln!("warning: destroying the test cluster: {error:#}");
        }
    }
}

/// A port P such that P..P+3 and P+100..P+103 are free on 127.0.0.1 (what the script binds).
fn free_port_block() -> anyhow::Result<u16> {
    for _ in 0..50 {
        let base = 20_000 + (uuid::Uuid::new_v4().as_u128() % 20_000) as u16;
        let free = (0..3)
            .flat_map(|i| [base + i, base + 100 + i])
            .all(|port| std::net::TcpListener::bind(("127.0.0.1", port)).is_ok());
        if free {
            return Ok(base);
        }
    }
    anyhow::bail!("no free block of ports for the test cluster")
}
