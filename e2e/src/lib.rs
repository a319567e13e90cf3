//! logagg's end-to-end tests live in `e2e/tests/`, one file (or directory) per concern, each
//! against a real Kafka broker and a real PostgreSQL with the real binaries (built by
//! `cargo build --bins`, which `make test` does first). The harness they share (isolated
//! database/topic/group per test, binary runners, HTTP client, ground truth, tool-output
//! parsers) is the `logagg-testkit` crate; this library is intentionally empty.
//!
//! - `api_*`: the HTTP contract (publish shapes and refusals, reads, routes, fuzzing);
//! - `consumer_*`, `scaling`, `replay_command`: the consumer's guarantees;
//! - `db_*`: core's queries and the consumer's batch write, straight against PostgreSQL;
//! - `ops_recipes`, `producer_cli`, `seed_contract`, `walking_skeleton`, `schema`;
//! - `disruptive_*`, `shutdown`: stop shared services or processes; the lead runs them.
