#!/usr/bin/env bash
# Idempotent topic bootstrap for logagg, with rpk (works against Redpanda and
# any Kafka-API broker).
#
# Creates the events topic if it is missing; if it exists, re-applies the
# topic configuration and checks the partition count. Safe to run any number
# of times (docker-compose.yml runs it as the one-shot `redpanda-init` job).
#
# Environment (defaults in brackets):
#   LOGAGG_KAFKA_BROKERS        bootstrap brokers, comma separated   [127.0.0.1:9092]
#   LOGAGG_KAFKA_TOPIC          topic name                           [events]
#   LOGAGG_TOPIC_PARTITIONS     partition count                      [6]
#   LOGAGG_TOPIC_REPLICAS       replication factor                   [1]
#   LOGAGG_TOPIC_RETENTION_MS   retention.ms                         [604800000 = 7 days]
#   LOGAGG_TOPIC_CLEANUP_POLICY cleanup.policy                       [delete]
#   LOGAGG_TOPIC_ADD_PARTITIONS "true" to grow an existing topic that has
#                               fewer partitions than asked          [false]
#   LOGAGG_REDPANDA_ADMIN       Redpanda admin API (host:port); when set, the
#                               cluster property auto_create_topics_enabled
#                               is turned off so that no client can create a
#                               mis-sized topic by producing to it   [unset]
#   LOGAGG_WAIT_SECONDS         how long to wait for the broker      [60]
#   LOGAGG_WAIT_INTERVAL        seconds between two attempts         [1]
#
# Usage: redpanda/create-topics.sh            (uses the environment above)
#        LOGAGG_KAFKA_BROKERS=redpanda:9092 redpanda/create-topics.sh
set -euo pipefail

BROKERS="${LOGAGG_KAFKA_BROKERS:-127.0.0.1:9092}"
TOPIC="${LOGAGG_KAFKA_TOPIC:-events}"
PARTITIONS="${LOGAGG_TOPIC_PARTITIONS:-6}"
REPLICAS="${LOGAGG_TOPIC_REPLICAS:-1}"
RETENTION_MS="${LOGAGG_TOPIC_RETENTION_MS:-604800000}"
CLEANUP_POLICY="${LOGAGG_TOPIC_CLEANUP_POLICY:-delete}"
ADD_PARTITIONS="${LOGAGG_TOPIC_ADD_PARTITIONS:-false}"
ADMIN="${LOGAGG_REDPANDA_ADMIN:-}"
WAIT_SECONDS="${LOGAGG_WAIT_SECONDS:-60}"
WAIT_INTERVAL="${LOGAGG_WAIT_INTERVAL:-1}"

log() { printf 'create-topics: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

command -v rpk >/dev/null 2>&1 || die "rpk not found on PATH"
[[ "$PARTITIONS" =~ ^[1-9][0-9]*$ ]] || die "LOGAGG_TOPIC_PARTITIONS must be a positive integer, got '$PARTITIONS'"
[[ "$REPLICAS" =~ ^[1-9][0-9]*$ ]] || die "LOGAGG_TOPIC_REPLICAS must be a positive integer, got '$REPLICAS'"

# Every rpk call goes to the configured brokers, whatever rpk profile exists.
RPK_X=(-X "brokers=${BROKERS}")
if [[ -n "$ADMIN" ]]; then
  RPK_X+=(-X "admin.hosts=${ADMIN}")
fi
rpk_() { rpk "$@" "${RPK_X[@]}"; }

# 1. Wait until the broker answers metadata requests.
log "waiting up to ${WAIT_SECONDS}s for brokers ${BROKERS}"
deadline=$((SECONDS + WAIT_SECONDS))
until rpk_ cluster info >/dev/null 2>&1; do
  if ((SECONDS >= deadline)); then
    rpk_ cluster info || true
    die "brokers ${BROKERS} not reachable after ${WAIT_SECONDS}s"
  fi
  sleep "$WAIT_INTERVAL"
done

# 2. Optional (Redpanda only): no implicit topic creation.
if [[ -n "$ADMIN" ]]; then
  log "setting auto_create_topics_enabled=false through the admin API at ${ADMIN}"
  rpk_ cluster config set auto_create_topics_enabled false >/dev/null
fi

# Partition count of $TOPIC, empty when the topic does not exist.
# `rpk topic list` prints a table: NAME PARTITIONS REPLICAS.
current_partitions() {
  rpk_ topic list | awk -v t="$TOPIC" 'NR > 1 && $1 == t { print $2 }'
}

# 3. Create, or reconcile the existing topic.
existing="$(current_partitions)"
if [[ -z "$existing" ]]; then
  log "creating topic ${TOPIC}: partitions=${PARTITIONS} replicas=${REPLICAS} retention.ms=${RETENTION_MS} cleanup.policy=${CLEANUP_POLICY}"
  status=0
  output="$(rpk_ topic create "$TOPIC" \
    --partitions "$PARTITIONS" \
    --replicas "$REPLICAS" \
    --topic-config "retention.ms=${RETENTION_MS}" \
    --topic-config "cleanup.policy=${CLEANUP_POLICY}" 2>&1)" || status=$?
  printf '%s\n' "$output"
  if grep -q 'TOPIC_ALREADY_EXISTS' <<<"$output"; then
    # Another run created it between the list and the create.
    log "topic ${TOPIC} was created concurrently; reconciling"
    existing="$(current_partitions)"
  elif ((status != 0)); then
    die "could not create topic ${TOPIC}"
  fi
fi

if [[ -n "$existing" ]]; then
  log "topic ${TOPIC} exists with ${existing} partitions; applying retention.ms=${RETENTION_MS} cleanup.policy=${CLEANUP_POLICY}"
  rpk_ topic alter-config "$TOPIC" \
    --set "retention.ms=${RETENTION_MS}" \
    --set "cleanup.policy=${CLEANUP_POLICY}"
  if ((existing < PARTITIONS)); then
    if [[ "$ADD_PARTITIONS" == "true" ]]; then
      log "adding $((PARTITIONS - existing)) partitions to ${TOPIC} (keys move to new partitions from now on)"
      rpk_ topic add-partitions "$TOPIC" --num "$((PARTITIONS - existing))"
    else
      log "WARNING: ${TOPIC} has ${existing} partitions, ${PARTITIONS} asked; left unchanged."
      log "WARNING: adding partitions remaps keys (per-topic ordering breaks at the change);"
      log "WARNING: rerun with LOGAGG_TOPIC_ADD_PARTITIONS=true to do it anyway."
    fi
  elif ((existing > PARTITIONS)); then
    log "WARNING: ${TOPIC} has ${existing} partitions, more than the ${PARTITIONS} asked; Kafka cannot remove partitions, left unchanged."
  fi
fi

# 4. Check and show the result (some rpk versions exit 0 on a failed create).
[[ -n "$(current_partitions)" ]] || die "topic ${TOPIC} does not exist after creation"
rpk_ topic describe "$TOPIC" --print-summary --print-configs 2>/dev/null \
  || rpk_ topic describe "$TOPIC"
log "done"
