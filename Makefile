# logagg developer commands, all in this one file. `make help` lists them; README.md explains them.
# Every target is one line of `make help`: the text after `##` on the target's line.
.DEFAULT_GOAL := help
SHELL := /bin/bash

# Extra logagg-bench arguments for `make bench`/`make bench-smoke`, e.g. BENCH_ARGS="--events 200000".
BENCH_ARGS ?=
# Where `make install` puts the three binaries (cargo's default: ~/.cargo/bin, on PATH after rustup).
INSTALL_ROOT ?=

.PHONY: help check test run up down cluster-up cluster-down soak install bench bench-smoke deps test-deps build lint unit soak-retention

help: ## list the targets
	@awk 'BEGIN { FS = ":.*## " } /^[a-z-]+:.*## / { printf "make %-12s %s\n", $$1, $$2 }' $(firstword $(MAKEFILE_LIST))

check: lint unit ## fmt, clippy -D warnings and every test that needs no service (no apt, no network)

test: deps test-deps up lint build ## everything: installs and starts Kafka + PostgreSQL, then every test against them
	cargo test --workspace
	bash scripts/compose-check.sh
	bash scripts/bench.sh --smoke $(BENCH_ARGS)

run: deps up ## local Kafka + PostgreSQL, consumer, API on 127.0.0.1:8080, demo load; Ctrl-C stops
	@bash scripts/run.sh

up: ## start only the local Kafka broker and PostgreSQL (idempotent)
	@bash scripts/up.sh

down: ## stop the local Kafka broker and PostgreSQL (data in .local/ is kept)
	@bash scripts/down.sh

cluster-up: ## a local 3-broker Kafka cluster (KRaft) on 127.0.0.1:19092-19094, topic events RF 3, min.insync 2
	@bash scripts/kafka-cluster.sh up

cluster-down: ## stop the 3-broker cluster of `make cluster-up` (data in .local/kafka-cluster is kept)
	@bash scripts/kafka-cluster.sh down

soak: deps up ## 30 min of steady load with consumer restarts (SOAK_MINUTES); RSS and p99 per minute into docs/SOAK.md
	@bash scripts/soak.sh

install: ## release-build logagg-api, logagg-consumer, logagg-producer into cargo's bin dir (on PATH)
	@for crate in api consumer loadgen; do \
		cargo install --locked --path $$crate $(if $(INSTALL_ROOT),--root $(INSTALL_ROOT)) || exit 1; \
	done

bench: ## benchmarks at full size (release build); prints a table, rewrites docs/PERFORMANCE.md
	@bash scripts/bench.sh $(BENCH_ARGS)

bench-smoke: ## a few seconds of each benchmark at small sizes (debug build); checks counts only
	@bash scripts/bench.sh --smoke $(BENCH_ARGS)

soak-retention: ## 22 min steady ingest with a 3 min retention against make up's services; writes docs/RETENTION_SOAK.md (not in make test)
	cargo build --workspace --bins
	cargo test -p logagg-e2e --test main -- --ignored --nocapture soak_retention::

deps: ## install the Debian packages the build needs (apt; nothing when present)
	@bash scripts/build-deps.sh

test-deps: ## install what tests need beyond the build: Chromium + chromedriver, promtool (nothing when present)
	@bash scripts/test-deps.sh

build: deps ## debug-build every binary
	cargo build --workspace --bins

lint: ## cargo fmt --check and clippy -D warnings
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

unit: ## the tests that need no service: unit tests and the pure-logic test files
	cargo build --workspace --bins
	cargo test --workspace --lib --bins
	cargo test -p logagg-core --test config_doc
	cargo test -p logagg-api --test publish_validation
	cargo test -p logagg-e2e --test main -- first_hour_docs:: first_hour_config:: codebase_shape::
