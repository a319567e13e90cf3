#!/usr/bin/env bash
# Retention storage design, measured (docs/RETENTION.md): today's events table with batched
# DELETEs (A) against a table partitioned by stored time whose partitions are dropped (B),
# at ROWS rows (default 10,000,000), on a PostgreSQL of your choice:
#
#   scripts/bench-retention-storage.sh [ROWS] [DATABASE_URL]
#
# It creates and drops its own tables (a_events, b_events, b_keys) in that database, needs
# a few GB of disk and takes ~15 min at 10M rows on 2 cores. Use a scratch instance, e.g.
# `LOGAGG_PG_PORT=55433 scripts/pg.sh start` (data under .local/), never a shared one.
# Prints `figure: name = value` lines (and keeps them in target/bench-retention-storage.txt).
set -euo pipefail
cd "$(dirname -- "${BASH_SOURCE[0]}")/.."
rows="${1:-10000000}"
url="${2:-postgres://logagg:logagg@127.0.0.1:55433/logagg}"
out=target/bench-retention-storage.txt
mkdir -p target
psql_run() { psql "$url" -X -q -v ON_ERROR_STOP=1 -v rows="$rows" "$@"; }

{
  echo "# rows=$rows $(date -u +%FT%TZ)"
  psql_run -f bench/retention/storage.sql
  # The oldest tenth, cut at an hour boundary so B can drop whole partitions.
  cutoff="$(psql_run -At -c "SELECT date_trunc('hour', bench_stored($rows / 10, $rows))")"
  echo "# cutoff $cutoff"
  for d in a b; do
    psql_run -c "CALL bench_size_figure('$d', 'before')" \
             -c "CALL bench_queries('$d', 'before', 200)" \
             -c "CALL bench_ingest('$d', 100000000, 40)"
    # Removal while ingest goes on in a second session: ingest rate with retention running.
    psql_run -c "CALL bench_ingest('$d', 200000000, 40)" 2>&1 | sed "s/${d}_ingest/${d}_ingest_during_removal/" &
    ingest=$!
    psql_run -c "CALL bench_remove('$d', '$cutoff')"
    wait "$ingest"
    psql_run -c "CALL bench_queries('$d', 'after', 200)" \
             -c "CALL bench_size_figure('$d', 'after_removal')"
    psql_run -c "VACUUM ${d}_events" -c "VACUUM $([[ $d == b ]] && echo b_keys || echo a_events)" \
             -c "CALL bench_size_figure('$d', 'after_vacuum')"
    psql_run -c "CALL bench_ingest('$d', 300000000, 100)" 2>&1 | sed "s/${d}_ingest/${d}_ingest_after_vacuum/"
    psql_run -c "CALL bench_size_figure('$d', 'after_500k_more')"
  done
  psql_run -c "DROP TABLE a_events, b_events, b_keys, bench_params CASCADE"
} 2>&1 | sed 's/^psql:[^ ]* NOTICE:  //; s/^NOTICE:  //' | tee "$out"
