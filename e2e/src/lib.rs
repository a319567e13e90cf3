//! logagg's end-to-end tests live in `e2e/tests/`, one module (file or directory) per concern,
//! each against a real Kafka broker and a real PostgreSQL with the real binaries (built by
//! `cargo build --bins`, which `make test` does first). They form two test binaries:
//! `main` (`tests/main.rs` declares every module; a new file needs its `mod` line there) and
//! `disruptive` (`tests/disruptive/`: stops the shared broker or PostgreSQL, so cargo runs it
//! after `main`, with nothing beside it). Run one concern with
//! `cargo test -p logagg-e2e --test main -- <module>::`. The harness they share (isolated
//! database/topic/group per test, binary runners, HTTP client, ground truth, tool-output
//! parsers) is the `logagg-testkit` crate; this library is intentionally empty.
//!
//! - `api_*`: the HTTP contract (publish shapes and refusals, reads, routes, fuzzing);
//! - `consumer_*`, `scaling`, `replay_command`: the consumer's guarantees;
//! - `db_*`: core's queries and the consumer's batch write, straight against PostgreSQL;
//! - `ops_recipes`, `producer_cli`, `seed_contract`, `walking_skeleton`, `schema`;
//! - `shutdown`: signals stop the binaries cleanly.
