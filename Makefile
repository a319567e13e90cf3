# logagg developer commands. `make run` and `make test` are the two that matter; see README.md.
.DEFAULT_GOAL := help
SHELL := /bin/bash

include Makefile.infra
include Makefile.bench

.PHONY: help deps run test lint build

help:
	@echo "make run         local Kafka + PostgreSQL, consumer, API on 127.0.0.1:8080, demo load; Ctrl-C stops"
	@echo "make test        make up, fmt check, clippy -D warnings, every test against the real services"
	@echo "make up / down   only the local Kafka broker and PostgreSQL"
	@echo "make bench       benchmarks (prints a table, writes docs/PERFORMANCE.md)"

deps:
	@bash scripts/build-deps.sh

run: deps up
	@bash scripts/run.sh

build: deps
	cargo build --workspace --bins

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

test: deps up lint build
	cargo test --workspace
	bash scripts/compose-check.sh
	$(MAKE) --no-print-directory bench-smoke
