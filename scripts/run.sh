#!/usr/bin/env bash
# `make run`: builds the release binaries, starts one consumer and the API against the local
# services (make up ran first), publishes a demo load through the API with the golden check,
# prints /stats, then serves until Ctrl-C, which stops both children cleanly.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
cd "$LOGAGG_ROOT"

api_addr="${LOGAGG_API_ADDR:-127.0.0.1:8080}"
run_dir="$LOGAGG_LOCAL/run"
mkdir -p "$run_dir"

info "building release binaries (first time: several minutes)"
cargo build --release --bins --quiet
bin="$LOGAGG_ROOT/target/release"

pids=()
stop_children() {
  trap - INT TERM EXIT
  if ((${#pids[@]})); then
    info "stopping api and consumer"
    kill -TERM "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
  fi
  info "stopped (Kafka and PostgreSQL keep running; make down stops them)"
}
trap stop_children INT TERM EXIT

"$bin/logagg-consumer" >"$run_dir/consumer.log" 2>&1 &
pids+=($!)
"$bin/logagg-api" >"$run_dir/api.log" 2>&1 &
pids+=($!)
info "consumer log: ${run_dir#"$LOGAGG_ROOT"/}/consumer.log, api log: ${run_dir#"$LOGAGG_ROOT"/}/api.log"

health_ok() { curl -fsS "http://$api_addr/health" >/dev/null; }
wait_until 60 "the API at http://$api_addr/health" health_ok || {
  tail -n 20 "$run_dir/api.log" >&2
  exit 1
}

info "demo load: 20,000 events, 30% duplicates, through POST /publish, then the golden check"
"$bin/logagg-producer" load --events 20000 --duplicate-ratio 0.3 --via http \
  --api-url "http://$api_addr" --verify

echo
echo "GET /stats:"
curl -fsS "http://$api_addr/stats" | python3 -m json.tool
echo
info "serving on http://$api_addr (try: curl 'http://$api_addr/events?limit=3'); Ctrl-C stops"
wait "${pids[@]}"
