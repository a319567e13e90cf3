#!/usr/bin/env bash
# Starts the local infrastructure: PostgreSQL (scripts/pg.sh) and Apache Kafka
# (scripts/kafka.sh). Idempotent: what already runs is reused.
#
# A service is skipped when the environment points elsewhere:
#   LOGAGG_KAFKA_BROKERS other than 127.0.0.1:9092 / localhost:9092  -> no local Kafka
#   DATABASE_URL at another address than 127.0.0.1:5432 / localhost:5432  -> no local PostgreSQL
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

t0=$SECONDS
brokers="${LOGAGG_KAFKA_BROKERS:-$KAFKA_LOCAL_BROKERS}"
db_url="${DATABASE_URL:-$PG_LOCAL_URL}"

pg_local=1
kafka_local=1
if ! is_local_pg "$db_url"; then
  pg_local=""
  info "DATABASE_URL points at another server than $PG_HOST:$PG_PORT; not starting the local PostgreSQL"
fi
if ! is_local_kafka "$brokers"; then
  kafka_local=""
  info "LOGAGG_KAFKA_BROKERS=$brokers is not the local broker; not starting the local Kafka"
fi

[[ -n "$pg_local" ]] && "$LOGAGG_SCRIPTS/pg.sh" start
[[ -n "$kafka_local" ]] && "$LOGAGG_SCRIPTS/kafka.sh" start

rel() { printf '%s' "${1#"$LOGAGG_ROOT"/}"; }
echo
echo "local infrastructure ready ($((SECONDS - t0))s):"
if [[ -n "$kafka_local" ]]; then
  echo "  Kafka       $KAFKA_LOCAL_BROKERS  topic $KAFKA_TOPIC ($KAFKA_PARTITIONS partitions)"
  echo "              logs: $(rel "$KAFKA_LOGS")/server.log (also controller.log, kafka.out)"
else
  echo "  Kafka       $brokers (external, not managed here)"
fi
if [[ -n "$pg_local" ]]; then
  echo "  PostgreSQL  $PG_LOCAL_URL_SHOWN"
  echo "              log:  $(rel "$PG_LOG")"
else
  echo "  PostgreSQL  DATABASE_URL (external, not managed here)"
fi
echo "  stop with: make down (scripts/down.sh)"
