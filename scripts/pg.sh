#!/usr/bin/env bash
# Local PostgreSQL on 127.0.0.1:5432 (LOGAGG_PG_PORT), data in .local/pg/data.
#
#   scripts/pg.sh start|stop|restart|status
#
# start: installs Debian's postgresql when no server binaries exist, initialises the data
#        directory (once, as the OS user postgres), starts the server, waits until it answers,
#        creates role logagg (password logagg, LOGIN CREATEDB) and database logagg owned by it.
#        TLS is on (ssl = on, certificate from scripts/certs.sh, SAN DNS:localhost), and role
#        logagg_tls (LOGIN CREATEDB, password in .local/certs/pg-tls-password) may connect only
#        over TLS (hostssl). Reuses a running server (its configuration is rewritten and
#        reloaded, so TLS and the role appear without a restart).
# stop:  pg_ctl stop -m fast. Safe when not running.
# status: exit 0 when running and answering, 3 when not running, 1 when running but not
#        answering.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

# The OS user owning the data directory and running the server (initdb/pg_ctl refuse root),
# which is also the name of the bootstrap superuser role (peer auth on the unix socket).
if [[ $EUID -eq 0 ]]; then
  PG_OS_USER=postgres
else
  PG_OS_USER="$(id -un)"
fi

# Unix socket paths are limited to ~107 bytes: fall back to /tmp for very deep project paths.
if ((${#PG_SOCK} + 20 > 100)); then
  PG_SOCK="/tmp/logagg-pg-$(printf '%s' "$LOGAGG_ROOT" | sha256sum | cut -c1-12)"
fi

# Run a command as the PostgreSQL OS user, from / (its cwd may be unreadable to it).
as_pg() {
  if [[ $EUID -eq 0 ]]; then
    (cd / && runuser -u "$PG_OS_USER" -- "$@")
  else
    (cd / && "$@")
  fi
}

# Directory with the server binaries: matching the data directory's major version when it
# exists, else the newest installed.
find_bindir() {
  local want="" d
  [[ -f "$PG_DATA/PG_VERSION" ]] && want="$(cat "$PG_DATA/PG_VERSION")"
  if [[ -n "$want" ]]; then
    d="/usr/lib/postgresql/$want/bin"
    [[ -x "$d/postgres" && -x "$d/pg_ctl" ]] && {
      printf '%s' "$d"
      return 0
    }
  fi
  for d in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -t/ -k5,5 -n -r); do
    if [[ -x "$d/postgres" && -x "$d/pg_ctl" && -x "$d/initdb" && -x "$d/psql" ]]; then
      printf '%s' "$d"
      return 0
    fi
  done
  return 1
}

# Debian clusters (pg_lsclusters) online on our port: stop them (a fresh `apt-get install
# postgresql` creates and may start cluster <ver>/main on 5432).
stop_debian_clusters_on_port() {
  command -v pg_lsclusters >/dev/null 2>&1 || return 0
  local ver name port status
  while read -r ver name port status _; do
    if [[ "$port" == "$PG_PORT" && "$status" == online* ]]; then
      warn "Debian's PostgreSQL cluster $ver/$name is running on port $PG_PORT; stopping it (pg_ctlcluster $ver $name stop) so that ours can use the port"
      as_root pg_ctlcluster "$ver" "$name" stop || warn "could not stop cluster $ver/$name"
    fi
  done < <(pg_lsclusters -h 2>/dev/null || true)
}

ensure_installed() {
  if BINDIR="$(find_bindir)"; then
    return 0
  fi
  info "no PostgreSQL server binaries under /usr/lib/postgresql/*/bin; installing Debian's postgresql"
  apt_install postgresql
  BINDIR="$(find_bindir)" || die "PostgreSQL server binaries still missing after installing postgresql"
  stop_debian_clusters_on_port
}

# The OS user postgres must be able to reach .local/pg through the (root-owned) parents.
ensure_traversable() {
  [[ $EUID -eq 0 ]] || return 0
  if as_pg test -x "$PG_HOME" -a -r "$PG_HOME"; then
    return 0
  fi
  local d="$PG_HOME" dirs=()
  while [[ "$d" != "/" && -n "$d" ]]; do
    dirs=("$d" "${dirs[@]}")
    d="$(dirname -- "$d")"
  done
  for d in "${dirs[@]}"; do
    if ! as_pg test -x "$d"; then
      info "chmod o+x $d (so that the postgres user can reach $PG_HOME)"
      chmod o+x "$d"
    fi
  done
  as_pg test -x "$PG_HOME" || die "user $PG_OS_USER cannot reach $PG_HOME"
}

prepare_dirs() {
  mkdir -p "$PG_HOME"
  ensure_traversable
  mkdir -p "$PG_SOCK"
  if [[ $EUID -eq 0 ]]; then
    chown "$PG_OS_USER:" "$PG_HOME" "$PG_SOCK"
    [[ -d "$PG_DATA" ]] && chown -R "$PG_OS_USER:" "$PG_DATA"
    [[ -f "$PG_LOG" ]] && chown "$PG_OS_USER:" "$PG_LOG"
  fi
  chmod 755 "$PG_HOME" "$PG_SOCK"
}

init_cluster() {
  [[ -f "$PG_DATA/PG_VERSION" ]] && return 0
  info "initialising PostgreSQL data directory $PG_DATA ($("$BINDIR/postgres" --version))"
  rm -rf "$PG_DATA"
  as_pg "$BINDIR/initdb" -D "$PG_DATA" -U "$PG_OS_USER" -E UTF8 --locale=C.UTF-8 \
    --auth-local=peer --auth-host=scram-sha-256 >"$PG_HOME/initdb.log" 2>&1 || {
    tail_log "$PG_HOME/initdb.log"
    die "initdb failed"
  }
  printf "\n# logagg: local settings, written by scripts/pg.sh\ninclude_if_exists = 'logagg.conf'\n" |
    as_pg tee -a "$PG_DATA/postgresql.conf" >/dev/null
}

# The server's certificate, key and CA, copied into the data directory: PostgreSQL wants its
# key owned by the server's OS user and private.
install_tls_files() {
  "$LOGAGG_SCRIPTS/certs.sh" ensure >/dev/null
  local -a owner=()
  [[ $EUID -eq 0 ]] && owner=(-o "$PG_OS_USER")
  install "${owner[@]}" -m 600 "$CERTS_DIR/server.key" "$PG_DATA/logagg-server.key"
  install "${owner[@]}" -m 644 "$CERTS_DIR/server.pem" "$PG_DATA/logagg-server.pem"
  install "${owner[@]}" -m 644 "$CERTS_DIR/ca.pem" "$PG_DATA/logagg-ca.pem"
}

write_config() {
  install_tls_files
  as_pg tee "$PG_DATA/logagg.conf" >/dev/null <<EOF
# Written by scripts/pg.sh on every start (edit the script, not this file).
listen_addresses = '$PG_HOST'
port = $PG_PORT
unix_socket_directories = '$PG_SOCK'
max_connections = 200
shared_buffers = 256MB
# crash safety is tested: keep durability on
fsync = on
synchronous_commit = on
full_page_writes = on
password_encryption = 'scram-sha-256'
timezone = 'UTC'
log_timezone = 'UTC'
logging_collector = off
log_line_prefix = '%m [%p] %q%u@%d '
# TLS (files copied from .local/certs by scripts/pg.sh)
ssl = on
ssl_cert_file = 'logagg-server.pem'
ssl_key_file = 'logagg-server.key'
ssl_ca_file = 'logagg-ca.pem'
EOF
  as_pg tee "$PG_DATA/pg_hba.conf" >/dev/null <<EOF
# Written by scripts/pg.sh on every start.
# TYPE  DATABASE  USER          ADDRESS        METHOD
local   all       $PG_OS_USER                  peer
local   all       $PG_TLS_USER                 reject
local   all       all                          scram-sha-256
hostssl all       $PG_TLS_USER  127.0.0.1/32   scram-sha-256
host    all       $PG_TLS_USER  0.0.0.0/0      reject
host    all       all           127.0.0.1/32   scram-sha-256
EOF
}

pg_running() {
  [[ -f "$PG_DATA/PG_VERSION" ]] || return 1
  as_pg "$BINDIR/pg_ctl" status -D "$PG_DATA" >/dev/null 2>&1
}

pg_answers() {
  "$BINDIR/pg_isready" -q -h "$PG_HOST" -p "$PG_PORT" -d postgres
}

# Bootstrap SQL over the unix socket as the superuser (peer auth).
psql_super() {
  as_pg "$BINDIR/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$PG_SOCK" -p "$PG_PORT" -U "$PG_OS_USER" -d postgres
}

ensure_role_and_db() {
  local tls_password
  tls_password="$(cat "$CERTS_DIR/pg-tls-password")"
  psql_super >/dev/null <<EOF
DO \$\$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_USER') THEN
    CREATE ROLE $PG_USER LOGIN CREATEDB PASSWORD '$PG_PASSWORD';
  ELSE
    ALTER ROLE $PG_USER LOGIN CREATEDB PASSWORD '$PG_PASSWORD';
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_TLS_USER') THEN
    CREATE ROLE $PG_TLS_USER LOGIN CREATEDB PASSWORD '$tls_password';
  ELSE
    ALTER ROLE $PG_TLS_USER LOGIN CREATEDB PASSWORD '$tls_password';
  END IF;
END
\$\$;
SELECT 'CREATE DATABASE $PG_DB OWNER $PG_USER'
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$PG_DB') \gexec
EOF
}

# A real query over TCP with the application's credentials.
check_app_login() {
  local got
  got="$(PGPASSWORD="$PG_PASSWORD" PGCONNECT_TIMEOUT=5 "$BINDIR/psql" -X -At \
    "postgresql://$PG_USER@$PG_HOST:$PG_PORT/$PG_DB" -c 'select 1' 2>&1)" || true
  if [[ "$got" != "1" ]]; then
    printf '%s\n' "$got" >&2
    return 1
  fi
}

# A query as the TLS-only role over TLS with full verification (the certificate names
# localhost), and the same role refused without TLS.
check_tls_login() {
  local got password
  password="$(cat "$CERTS_DIR/pg-tls-password")"
  got="$(PGPASSWORD="$password" PGCONNECT_TIMEOUT=5 "$BINDIR/psql" -X -At \
    "postgresql://$PG_TLS_USER@localhost:$PG_PORT/$PG_DB?sslmode=verify-full&sslrootcert=$CERTS_DIR/ca.pem" \
    -c 'select ssl from pg_stat_ssl where pid = pg_backend_pid()' 2>&1)" || true
  if [[ "$got" != "t" ]]; then
    printf '%s\n' "$got" >&2
    return 1
  fi
  if PGPASSWORD="$password" PGCONNECT_TIMEOUT=5 "$BINDIR/psql" -X -At \
    "postgresql://$PG_TLS_USER@$PG_HOST:$PG_PORT/$PG_DB?sslmode=disable" -c 'select 1' >/dev/null 2>&1; then
    warn "role $PG_TLS_USER connected without TLS: pg_hba.conf is not the one scripts/pg.sh writes"
    return 1
  fi
}

cmd_start() {
  ensure_installed
  prepare_dirs
  local reuse=""
  if pg_running; then
    if ! pg_answers; then
      info "PostgreSQL is running but not answering yet; waiting"
      LOGAGG_WAIT_ABORT_IF="! pg_running" wait_until "$PG_START_TIMEOUT" "PostgreSQL to accept connections" pg_answers || true
    fi
    if pg_answers; then
      reuse=1
      info "PostgreSQL already running on $PG_HOST:$PG_PORT (data $PG_DATA)"
      # Settings of this script may have changed (TLS, pg_hba): rewrite and reload them.
      write_config
      as_pg "$BINDIR/pg_ctl" reload -D "$PG_DATA" -s || warn "pg_ctl reload failed"
    elif pg_running; then
      tail_log "$PG_LOG"
      die "PostgreSQL is running but does not answer on $PG_HOST:$PG_PORT"
    else
      info "PostgreSQL died; starting it again"
    fi
  fi
  if [[ -z "$reuse" ]] && port_open "$PG_HOST" "$PG_PORT" &&
    psql "$PG_LOCAL_URL" -qAtc 'select 1' >/dev/null 2>&1; then
    # Another checkout's server with logagg's role and database: use it rather than fail.
    info "a PostgreSQL not started from this checkout already serves $PG_LOCAL_URL_SHOWN; using it"
    return 0
  fi
  if [[ -z "$reuse" ]]; then
    if port_open "$PG_HOST" "$PG_PORT"; then
      stop_debian_clusters_on_port
      wait_until 10 "port $PG_PORT to be released" eval "! port_open $PG_HOST $PG_PORT" ||
        die "port $PG_PORT on $PG_HOST is already in use by another process (not our server in $PG_DATA)"
    fi
    init_cluster
    write_config
    info "starting PostgreSQL ($BINDIR) on $PG_HOST:$PG_PORT, log $PG_LOG"
    touch "$PG_LOG"
    [[ $EUID -eq 0 ]] && chown "$PG_OS_USER:" "$PG_LOG"
    as_pg bash -c "$EXEC_CLEAN" pg_ctl "$BINDIR/pg_ctl" start -D "$PG_DATA" -l "$PG_LOG" \
      -w -t "$PG_START_TIMEOUT" -s </dev/null || {
      tail_log "$PG_LOG"
      die "PostgreSQL did not start"
    }
    wait_until "$PG_START_TIMEOUT" "PostgreSQL to accept connections" pg_answers ||
      {
        tail_log "$PG_LOG"
        die "PostgreSQL does not answer on $PG_HOST:$PG_PORT"
      }
  fi
  ensure_role_and_db
  check_app_login || die "cannot run a query as $PG_USER on $PG_LOCAL_URL_SHOWN"
  check_tls_login || die "role $PG_TLS_USER cannot connect over TLS (verify-full) or can without it"
  info "PostgreSQL up: $PG_LOCAL_URL_SHOWN"
}

cmd_stop() {
  BINDIR="$(find_bindir)" || {
    info "PostgreSQL not installed; nothing to stop"
    return 0
  }
  if ! pg_running; then
    info "PostgreSQL not running"
    return 0
  fi
  info "stopping PostgreSQL ($PG_DATA)"
  as_pg "$BINDIR/pg_ctl" stop -D "$PG_DATA" -m fast -w -t 60 -s || die "pg_ctl stop failed"
  info "PostgreSQL stopped"
}

cmd_status() {
  BINDIR="$(find_bindir)" || {
    echo "postgres: not installed"
    return 3
  }
  if ! pg_running; then
    echo "postgres: not running"
    return 3
  fi
  if pg_answers; then
    echo "postgres: running on $PG_HOST:$PG_PORT (data $PG_DATA, log $PG_LOG); $PG_LOCAL_URL_SHOWN"
    return 0
  fi
  echo "postgres: running but not answering on $PG_HOST:$PG_PORT"
  return 1
}

service_main "$@"
