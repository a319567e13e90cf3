//! logagg's end-to-end tests, one binary (one link of librdkafka) with a module per concern.
//! Each module talks to the real broker and database through `logagg_testkit`; run one concern
//! with `cargo test -p logagg-e2e --test main -- <module>::`.

// Shared by several concerns.
mod console_kit;
mod find_support;
mod first_hour;
mod retention_support;
mod security_kit;

// One module per concern.
mod api_fuzz;
mod api_publish;
mod api_reads;
mod api_routes;
mod codebase_shape;
mod console_browser;
mod consumer_guarantees;
mod db_write_batch;
mod failover;
mod find_explain;
mod find_export;
mod find_filters;
mod find_fuzz;
mod find_tail;
mod first_hour_config;
mod first_hour_docs;
mod first_hour_partitioner;
mod first_hour_run;
mod first_hour_topics;
mod internal_errors;
mod log_gap;
mod observability;
mod ops_recipes;
mod ops_seek_recipes;
mod overload;
mod producer_cli;
mod read_replica;
mod replay_command;
mod retention_dedup;
mod retention_delete;
mod retention_expiry;
mod retention_reindex;
mod scaling;
mod schema;
mod security_access;
mod security_failures;
mod security_mtls;
mod security_sasl;
mod security_secrets_in_logs;
mod seed_contract;
mod shutdown;
mod soak_retention;
mod walking_skeleton;
