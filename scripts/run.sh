#!/usr/bin/env bash
# `make run`: builds the binaries, starts one consumer and the API against the local services
# (make up ran first), publishes a demo load through the API with the golden check, prints
# /stats, then serves until Ctrl-C (or SIGTERM), which stops everything within seconds.
#
# Refuses to start beside a running instance (its lock in .local/run/, or the API's or the
# consumer's port taken), without touching that instance's logs. When a service does not come
# up, prints that service's own last error line.
#
# Environment (besides every LOGAGG_* variable of docs/CONFIGURATION.md):
#   LOGAGG_RUN_PROFILE=debug       use debug binaries (cargo build) instead of release ones
#   LOGAGG_RUN_BUILD=no            use the binaries already built (the tests do: cargo is busy)
#   LOGAGG_RUN_DEMO_EVENTS=N       size of the demo load (default 20000; 0 skips it)
#   LOGAGG_RUN_START_TIMEOUT=SECS  how long the API may take to answer /health (default 60)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
cd "$LOGAGG_ROOT"

demo_events="${LOGAGG_RUN_DEMO_EVENTS:-20000}"
start_timeout="${LOGAGG_RUN_START_TIMEOUT:-60}"
mkdir -p "$RUN_DIR"

# --- one instance per checkout, and nothing else on our ports -----------------------------
# The lock is held (fd 9, inherited by the children) for as long as this instance runs; the
# pid file only serves the message.
exec 9>>"$RUN_DIR/run.lock"
if ! flock -n 9; then
  die "make run is already running from this checkout (pid $(read_pidfile "$RUN_DIR/run.pid")); stop it with Ctrl-C in its terminal first"
fi
for addr in "$API_ADDR" "$CONSUMER_ADDR"; do
  if port_open "${addr%:*}" "${addr##*:}"; then
    die "$addr is already in use (another make run, logagg-api or logagg-consumer?); stop it, or set LOGAGG_API_ADDR / LOGAGG_CONSUMER_ADDR"
  fi
done
echo "$$" >"$RUN_DIR/run.pid"

case "$RUN_PROFILE:${LOGAGG_RUN_BUILD:-yes}" in
  release:yes)
    info "building release binaries (first time: several minutes)"
    cargo build --release --bins --quiet
    ;;
  debug:yes) cargo build --bins --quiet ;;
  release:no | debug:no) ;;
  *) die "LOGAGG_RUN_PROFILE=$RUN_PROFILE LOGAGG_RUN_BUILD=${LOGAGG_RUN_BUILD:-}: expected release or debug, and yes or no" ;;
esac
bin="${CARGO_TARGET_DIR:-$LOGAGG_ROOT/target}/$RUN_PROFILE"

# last_error LOG: the service's own last error, on one line. A fatal start-up error is what
# the binary printed last (`Error: ...` and its `Caused by:` chain); otherwise the last ERROR
# (or WARN) log line. Never access-log lines.
last_error() {
  local log="$1" fatal
  fatal="$(sed 's/\x1b\[[0-9;]*m//g' "$log" | awk '/^Error: / { found = 1; line = "" } found && NF && !/^Caused by:/ { sub(/^ +([0-9]+: )?/, ""); line = line (line == "" ? "" : ": ") $0 } END { print line }')"
  if [[ -n "$fatal" ]]; then
    printf '%s\n' "$fatal"
  else
    sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -E ' (ERROR|WARN) ' | tail -n 1
  fi
}

pids=()
names=()
stop_children() {
  trap - INT TERM EXIT
  if ((${#pids[@]})); then
    info "stopping ${names[*]}"
    kill -TERM "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
  fi
  rm -f "$RUN_DIR/run.pid"
  info "stopped (Kafka and PostgreSQL keep running; make down stops them)"
}
trap stop_children INT TERM EXIT

start() {
  local name="$1"
  "$bin/logagg-$name" >"$RUN_DIR/$name.log" 2>&1 &
  pids+=($!)
  names+=("$name")
}
start consumer
start api
info "consumer log: ${RUN_DIR#"$LOGAGG_ROOT"/}/consumer.log, api log: ${RUN_DIR#"$LOGAGG_ROOT"/}/api.log"

# both_alive: neither child exited (a child that exits at start has said why in its log).
both_alive() { pid_alive "${pids[0]}" && pid_alive "${pids[1]}"; }
health_ok() { curl -fsS "http://$API_ADDR/health" >/dev/null; }
if ! LOGAGG_WAIT_ABORT_IF='! both_alive' wait_until "$start_timeout" "the API at http://$API_ADDR/health" health_ok; then
  for i in "${!names[@]}"; do
    if ! pid_alive "${pids[$i]}"; then
      warn "logagg-${names[$i]} exited: $(last_error "$RUN_DIR/${names[$i]}.log")"
    elif line="$(last_error "$RUN_DIR/${names[$i]}.log")" && [[ -n "$line" ]]; then
      warn "logagg-${names[$i]}: $line"
    fi
  done
  health="$(curl -sS "http://$API_ADDR/health" 2>&1 || true)"
  [[ -n "$health" ]] && warn "GET /health: $health"
  exit 1
fi

if ((demo_events > 0)); then
  info "demo load: $demo_events events, 30% duplicates, through POST /publish, then the golden check"
  "$bin/logagg-producer" load --events "$demo_events" --duplicate-ratio 0.3 --via http \
    --api-url "http://$API_ADDR" --verify
fi

echo
echo "GET /stats:"
curl -fsS "http://$API_ADDR/stats" | python3 -m json.tool
echo
info "serving on http://$API_ADDR (try: curl 'http://$API_ADDR/events?limit=3'); Ctrl-C stops"
# Returns when a child exits (Ctrl-C reaches both) or when a signal runs the trap.
wait -n "${pids[@]}" || true
