#!/usr/bin/env bash
# Runs logagg's benchmarks (bench/, binary logagg-bench) against the local Kafka and PostgreSQL.
#
#   scripts/bench.sh            full run: release build, >= 500,000 events per ingest, prints the
#                               table and rewrites the generated section of docs/PERFORMANCE.md
#   scripts/bench.sh --smoke    a few seconds of each measurement at small sizes (debug build,
#                               the one `make test` already built); never touches the docs
#
# Extra arguments go to logagg-bench (see `logagg-bench --help`), e.g. `--events 200000`.
# Nothing about timings is asserted: the run fails only when a measurement produced no number or
# a golden count is off. Services' logs: target/<profile>/../bench-logs/.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

mode=full
if [[ "${1:-}" == "--smoke" ]]; then
  mode=smoke
  shift
fi

cd "$LOGAGG_ROOT"
bash "$LOGAGG_SCRIPTS/build-deps.sh"
bash "$LOGAGG_SCRIPTS/up.sh" >&2

target_dir="${CARGO_TARGET_DIR:-$LOGAGG_ROOT/target}"
# The same selection as `make build`, so smoke reuses its artifacts (no feature-set rebuild).
packages=(--workspace)
t0=$SECONDS
if [[ "$mode" == smoke ]]; then
  info "bench-smoke: building (debug)"
  cargo build --quiet "${packages[@]}" --bins
  "$target_dir/debug/logagg-bench" --smoke "$@"
else
  info "bench: building (release)"
  cargo build --release "${packages[@]}" --bins
  info "bench: built in $((SECONDS - t0))s; measuring"
  "$target_dir/release/logagg-bench" --write "$LOGAGG_ROOT/docs/PERFORMANCE.md" --command "make bench" "$@"
fi
info "bench ($mode) finished in $((SECONDS - t0))s"
