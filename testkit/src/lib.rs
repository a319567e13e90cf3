//! logagg's test kit, shared by the end-to-end tests (e2e/) and the benchmark (bench/): where
//! the services are, a per-test PostgreSQL database (cloned from a migrated template) with its
//! own Kafka topic and consumer group that are removed when the test ends, the real binaries as
//! child processes, polling with a deadline, an HTTP client for the API, the one ground truth a
//! load plan implies, and the parsers of what the operator tools print.
//!
//! - [`services`]: addresses of Kafka and PostgreSQL, the workspace, free ports;
//! - [`sandbox`]: [`Sandbox`], one isolated database + topic + group (fallible, for the bench);
//! - [`cluster`]: [`cluster::KafkaCluster`], a test's own three-node Kafka cluster;
//! - [`database`]: [`TestDatabase`], a database alone for the database tier of tests;
//! - [`env`]: [`TestEnv`], the same with panicking helpers, for tests;
//! - [`template`]: the migrated template database every sandbox is cloned from;
//! - [`kafka`]: topic creation (ready once every partition has a leader), raw records, offsets;
//! - [`process`]: spawned binaries ([`Service`]), scripts and shell text with a deadline;
//! - [`wait`]: [`wait_for`] / [`poll_until`], polling with a deadline;
//! - [`http`]: any request as raw bytes ([`http()`]) and the typed [`ApiClient`];
//! - [`truth`]: [`Expected`], the exact counters a load plan must leave;
//! - [`fixtures`]: valid events;
//! - [`tools`]: parsers of the Kafka CLI and kcat output;
//! - [`replica`]: [`replica::PrimaryWithStandby`], a test's own PostgreSQL primary and streaming standby;
//! - [`recipes`]: the README's operator recipes, extracted and aimed at a test's topic;
//! - [`openapi`]: structural checks of an OpenAPI document.

pub mod cluster;
pub mod database;
pub mod env;
pub mod fixtures;
pub mod http;
pub mod kafka;
pub mod openapi;
pub mod process;
pub mod recipes;
pub mod replica;
pub mod sandbox;
pub mod services;
pub mod template;
pub mod tools;
pub mod truth;
pub mod wait;

pub use database::TestDatabase;
pub use env::TestEnv;
pub use fixtures::{event, event_json, padded_event, sha256_hex};
pub use http::{http, ApiClient, HttpReply};
pub use process::Service;
pub use sandbox::Sandbox;
pub use services::{free_port, root, Services};
pub use truth::Expected;
pub use wait::{poll_until, wait_for};
