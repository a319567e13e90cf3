#!/usr/bin/env bash
# `make soak` (not part of `make test`): SOAK_MINUTES (default 30) of steady load through the
# API against the local services (make up ran first), with one logagg-api and two
# logagg-consumer processes; a consumer is restarted (SIGTERM, start) every
# SOAK_RESTART_MINUTES (default 4), alternating. Every minute it records each process's RSS and
# the minute's publish p99 (the load generator's ack latency) into docs/SOAK.md, then checks the
# counters' invariant and the logs for errors. Exit status 1 when an error was seen.
#
# Environment: SOAK_MINUTES, SOAK_RESTART_MINUTES, SOAK_RATE (events/s, default 500),
# LOGAGG_SOAK_PORT (API port; consumers use the next two; default 18080), LOGAGG_RUN_PROFILE
# (release, the default, or debug).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
cd "$LOGAGG_ROOT"

minutes="${SOAK_MINUTES:-30}"
restart_every="${SOAK_RESTART_MINUTES:-4}"
rate="${SOAK_RATE:-500}"
port="${LOGAGG_SOAK_PORT:-18080}"
profile="$RUN_PROFILE"
run_id="soak-$(date +%Y%m%d%H%M%S)"
work="$LOGAGG_LOCAL/soak/$run_id"
report="$LOGAGG_ROOT/docs/SOAK.md"
mkdir -p "$work"

if [[ "$profile" == release ]]; then
  cargo build --release --bins -q
  bin="$LOGAGG_ROOT/target/release"
else
  cargo build --bins -q
  bin="$LOGAGG_ROOT/target/debug"
fi

# Its own topic and group, so the run measures only its own records.
export LOGAGG_KAFKA_TOPIC="$run_id" LOGAGG_KAFKA_GROUP="$run_id" RUST_LOG=info
brokers="${LOGAGG_KAFKA_BROKERS:-$KAFKA_LOCAL_BROKERS}"
"$LOGAGG_SCRIPTS/kafka-tool.sh" topics --bootstrap-server "$brokers" --create \
  --topic "$run_id" --partitions 6 --replication-factor 1 >/dev/null
declare -A pids=()

start_api() {
  LOGAGG_API_ADDR="127.0.0.1:$port" "$bin/logagg-api" >>"$work/api.log" 2>&1 &
  pids[api]=$!
}

start_consumer() {
  local n="$1"
  LOGAGG_CONSUMER_ADDR="127.0.0.1:$((port + n))" "$bin/logagg-consumer" >>"$work/consumer$n.log" 2>&1 &
  pids[consumer$n]=$!
}

stop_all() {
  local name
  for name in "${!pids[@]}"; do kill -TERM "${pids[$name]}" 2>/dev/null || true; done
  wait 2>/dev/null || true
  "$LOGAGG_SCRIPTS/kafka-tool.sh" topics --bootstrap-server "$brokers" --delete \
    --topic "$run_id" >/dev/null 2>&1 || true
}
trap stop_all EXIT

rss_mb() {
  awk '/^VmRSS:/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || echo "-"
}

start_api
start_consumer 1
start_consumer 2
wait_until 60 "the soak API" curl -fsS "http://127.0.0.1:$port/health" || die "API did not come up (log: $work/api.log)"
info "soak $run_id: $minutes min at $rate events/s, consumer restart every $restart_every min; logs in $work"

{
  printf '# Soak run %s\n\n' "$run_id"
  printf '%s min of steady load through the API (%s events/s, 20%% duplicates, %s build), one\n' "$minutes" "$rate" "$profile"
  printf 'logagg-api and two logagg-consumer processes, a consumer restarted every %s min\n' "$restart_every"
  printf '(`make soak`, scripts/soak.sh). RSS sampled at the end of each minute; p99 is the\n'
  printf 'publish ack latency of that minute'"'"'s requests (logagg-producer --via http).\n\n'
  printf '| minute | api RSS MB | consumer1 RSS MB | consumer2 RSS MB | publish p99 ms | load errors | note |\n'
  printf '| --- | --- | --- | --- | --- | --- | --- |\n'
} >"$work/table.md"

errors=0
for ((minute = 1; minute <= minutes; minute++)); do
  note=""
  if ((minute > 1 && (minute - 1) % restart_every == 0)); then
    n=$(((minute - 1) / restart_every % 2 + 1))
    kill -TERM "${pids[consumer$n]}"
    wait "${pids[consumer$n]}" || { note="consumer$n exit non-zero"; errors=$((errors + 1)); }
    start_consumer "$n"
    note="${note:-consumer$n restarted}"
  fi
  out="$work/load-$minute.out"
  load_rc=0
  "$bin/logagg-producer" load --via http --api-url "http://127.0.0.1:$port" \
    --events "$((rate * 55))" --rate "$rate" --duplicate-ratio 0.2 --quiet \
    --topic-prefix "$run_id.m$minute" >"$out" 2>&1 || load_rc=$?
  p99="$(sed -n 's/.*p99 \([0-9.]*\) ms.*/\1/p' "$out" | tail -n1)"
  ((load_rc == 0)) || errors=$((errors + 1))
  sleep 5
  printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$minute" "$(rss_mb "${pids[api]}")" \
    "$(rss_mb "${pids[consumer1]}")" "$(rss_mb "${pids[consumer2]}")" "${p99:--}" \
    "$((load_rc == 0 ? 0 : 1))" "$note" | tee -a "$work/table.md"
done

stats="$(curl -fsS "http://127.0.0.1:$port/stats")"
invariant="$(python3 -c 'import json,sys; s=json.load(sys.stdin); print(s["received"] == s["unique_processed"] + s["duplicate_dropped"] + s["invalid"], s["received"], s["unique_processed"], s["duplicate_dropped"], s["invalid"], s["lost"])' <<<"$stats")"
logged_errors="$(cat "$work"/*.log | grep -c ' ERROR ' || true)"
{
  printf '\nAfter the run: invariant received = unique + duplicates + invalid holds: %s\n' "$invariant"
  printf '(received, unique, duplicates, invalid, lost); ERROR lines in the services'"'"' logs: %s;\n' "$logged_errors"
  printf 'minutes with a load error or unclean consumer exit: %s.\n' "$errors"
} >>"$work/table.md"
cp "$work/table.md" "$report"
info "wrote $report"
[[ "$errors" == 0 && "$logged_errors" == 0 && "$invariant" == True* ]]
