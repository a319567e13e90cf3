# shellcheck shell=bash disable=SC2034
# Shared helpers for the local-infrastructure scripts (kafka.sh, pg.sh, up.sh, down.sh,
# kafka-tool.sh). Source it; do not run it.
#
# Everything lives under "$LOGAGG_ROOT/.local" (git-ignored):
#   .local/kafka/{libs,config,data,logs,kafka.pid}   Apache Kafka (KRaft, single node)
#   .local/pg/{data,sock,postgres.log}               PostgreSQL

if [[ -n "${_LOGAGG_LIB_SOURCED:-}" ]]; then
  return 0
fi
_LOGAGG_LIB_SOURCED=1

# --- project root (the parent of scripts/), whatever the caller's cwd -------------------
LOGAGG_ROOT="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)"
LOGAGG_LOCAL="$LOGAGG_ROOT/.local"
LOGAGG_SCRIPTS="$LOGAGG_ROOT/scripts"

# --- defaults (every one overridable through the environment) ---------------------------
# Kafka
KAFKA_VERSION="${LOGAGG_KAFKA_VERSION:-4.1.1}"
KAFKA_HOST=127.0.0.1
KAFKA_PORT=9092
KAFKA_CONTROLLER_PORT=9093
KAFKA_LOCAL_BROKERS="$KAFKA_HOST:$KAFKA_PORT"
KAFKA_TOPIC="${LOGAGG_KAFKA_TOPIC:-events}"
KAFKA_PARTITIONS="${LOGAGG_KAFKA_PARTITIONS:-6}"
KAFKA_HEAP_OPTS="${LOGAGG_KAFKA_HEAP_OPTS:--Xmx512m -Xms256m}"
KAFKA_START_TIMEOUT="${LOGAGG_KAFKA_START_TIMEOUT:-90}"
KAFKA_STOP_TIMEOUT="${LOGAGG_KAFKA_STOP_TIMEOUT:-60}"
KAFKA_HOME="$LOGAGG_LOCAL/kafka"
KAFKA_LIBS="$KAFKA_HOME/libs"
KAFKA_CONFIG_DIR="$KAFKA_HOME/config"
KAFKA_DATA="$KAFKA_HOME/data"
KAFKA_LOGS="$KAFKA_HOME/logs"
KAFKA_PIDFILE="$KAFKA_HOME/kafka.pid"
KAFKA_PROPERTIES="$KAFKA_CONFIG_DIR/server.properties"

# PostgreSQL
PG_HOST=127.0.0.1
PG_PORT="${LOGAGG_PG_PORT:-5432}"
PG_USER=logagg
PG_PASSWORD=logagg
PG_DB=logagg
PG_START_TIMEOUT="${LOGAGG_PG_START_TIMEOUT:-60}"
PG_HOME="$LOGAGG_LOCAL/pg"
PG_DATA="$PG_HOME/data"
PG_LOG="$PG_HOME/postgres.log"
PG_SOCK="$PG_HOME/sock"
PG_LOCAL_URL="postgres://$PG_USER:$PG_PASSWORD@$PG_HOST:$PG_PORT/$PG_DB"

# --- logging ------------------------------------------------------------------------------
_ts() { date +%H:%M:%S; }
log()  { printf '[%s] %s\n' "$(_ts)" "$*" >&2; }
info() { log "$*"; }
warn() { printf '[%s] WARNING: %s\n' "$(_ts)" "$*" >&2; }
die()  { printf '[%s] ERROR: %s\n' "$(_ts)" "$*" >&2; exit 1; }

# --- waiting ------------------------------------------------------------------------------
# wait_until SECONDS DESCRIPTION CMD [ARGS...]
# Re-runs CMD (output discarded) every half second until it succeeds (returns 0) or the
# deadline passes (returns 1). If LOGAGG_WAIT_ABORT_IF is set to a command, and that
# command succeeds, waiting is aborted early (e.g. "the process died").
wait_until() {
  local secs="$1" what="$2"
  shift 2
  local deadline=$((SECONDS + secs))
  while true; do
    if "$@" >/dev/null 2>&1; then
      return 0
    fi
    if [[ -n "${LOGAGG_WAIT_ABORT_IF:-}" ]] && eval "$LOGAGG_WAIT_ABORT_IF" >/dev/null 2>&1; then
      info "stopped waiting for $what"
      return 1
    fi
    if ((SECONDS >= deadline)); then
      warn "timed out after ${secs}s waiting for $what"
      return 1
    fi
    sleep 0.5
  done
}

# port_open HOST PORT: something accepts TCP connections there.
port_open() {
  (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

# --- processes ------------------------------------------------------------------------------
# pid_alive PID: the process exists (and is not a zombie).
pid_alive() {
  local pid="$1"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  local state
  state="$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || true)"
  [[ "$state" != "Z" ]]
}

# pid_cmdline_has PID STRING: the process's command line contains STRING.
pid_cmdline_has() {
  [[ -r "/proc/$1/cmdline" ]] || return 1
  tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF -- "$2"
}

# Script for `bash -c "$EXEC_CLEAN" ARG0 CMD ARGS...`: closes every inherited file descriptor
# above 2, then execs CMD. Used for long-lived daemons, so they do not hold on to pipes of
# whoever started them (a CI runner or `make ... | tee` would otherwise wait for EOF forever).
# shellcheck disable=SC2016
EXEC_CLEAN='for fd in /proc/$$/fd/*; do fd=${fd##*/}; case $fd in 0|1|2) ;; *) exec {fd}>&- 2>/dev/null || true ;; esac; done; exec "$@"'

# read_pidfile FILE: prints the pid in FILE (empty when missing or garbage).
read_pidfile() {
  local pid=""
  [[ -f "$1" ]] && pid="$(tr -dc '0-9' <"$1" 2>/dev/null || true)"
  printf '%s' "$pid"
}

# --- packages -----------------------------------------------------------------------------
as_root() {
  if [[ $EUID -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo -n "$@"
  else
    die "need root to run: $* (run as root or install it yourself)"
  fi
}

# apt_install PKG...: installs Debian packages. Runs apt-get update first unless this
# project did so less than an hour ago (stamp in .local/), and again if the install fails.
# apt's output goes to .local/apt.log (shown on failure).
apt_install() {
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found; please install: $*"
  mkdir -p "$LOGAGG_LOCAL"
  local stamp="$LOGAGG_LOCAL/.apt-updated" aptlog="$LOGAGG_LOCAL/apt.log"
  local -a apt=(env DEBIAN_FRONTEND=noninteractive apt-get -y -q -o Dpkg::Use-Pty=0)
  if [[ -z "$(find "$stamp" -mmin -60 2>/dev/null)" ]]; then
    info "apt-get update"
    as_root "${apt[@]}" update >>"$aptlog" 2>&1 || {
      tail_log "$aptlog" 20
      die "apt-get update failed"
    }
    touch "$stamp"
  fi
  info "apt-get install $* (output in $aptlog)"
  if ! as_root "${apt[@]}" install --no-install-recommends "$@" >>"$aptlog" 2>&1; then
    info "apt-get install failed; retrying after apt-get update"
    as_root "${apt[@]}" update >>"$aptlog" 2>&1 || true
    as_root "${apt[@]}" install --no-install-recommends "$@" >>"$aptlog" 2>&1 || {
      tail_log "$aptlog" 20
      die "apt-get install $* failed"
    }
    touch "$stamp"
  fi
}

# need_cmd CMD PKG: makes sure CMD is on PATH, installing Debian package PKG if not.
need_cmd() {
  command -v "$1" >/dev/null 2>&1 && return 0
  apt_install "$2"
  command -v "$1" >/dev/null 2>&1 || die "$1 still missing after installing $2"
}

# --- misc -----------------------------------------------------------------------------------
# is_local_kafka BROKERS: the broker list designates our local broker.
is_local_kafka() {
  case "$1" in
    "$KAFKA_LOCAL_BROKERS" | "localhost:$KAFKA_PORT" | "PLAINTEXT://$KAFKA_LOCAL_BROKERS" | "PLAINTEXT://localhost:$KAFKA_PORT") return 0 ;;
    *) return 1 ;;
  esac
}

# is_local_pg URL: the database URL designates our local PostgreSQL's address (user, password
# and database may differ: a wrong password is then the server's to report, by name).
is_local_pg() {
  local rest="${1#*://}" hostport h
  rest="${rest#*@}"
  hostport="${rest%%/*}"
  for h in "$PG_HOST" localhost; do
    [[ "$hostport" == "$h:$PG_PORT" ]] && return 0
  done
  return 1
}

# tail_log FILE [N]: prints the last N lines of FILE to stderr (for failure diagnostics).
tail_log() {
  local f="$1" n="${2:-40}"
  if [[ -f "$f" ]]; then
    printf -- '----- last %s lines of %s -----\n' "$n" "$f" >&2
    tail -n "$n" "$f" >&2 || true
    printf -- '-----\n' >&2
  fi
}
