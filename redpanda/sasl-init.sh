#!/usr/bin/env bash
# SASL for the compose stack (docker-compose.sasl.yml): creates the SCRAM-SHA-256 user
# "logagg" (password from the Docker secret), makes it a superuser, turns SASL on for the
# Kafka API (through the admin API, so it works on an existing cluster too), then runs
# create-topics.sh authenticated. Idempotent.
#
# Env: LOGAGG_REDPANDA_ADMIN (redpanda:9644), LOGAGG_SASL_USER (logagg),
#      LOGAGG_SASL_PASSWORD_FILE (/run/secrets/redpanda_sasl_password)
set -euo pipefail

ADMIN="${LOGAGG_REDPANDA_ADMIN:-redpanda:9644}"
USER_NAME="${LOGAGG_SASL_USER:-logagg}"
PASSWORD_FILE="${LOGAGG_SASL_PASSWORD_FILE:-/run/secrets/redpanda_sasl_password}"

log() { printf 'sasl-init: %s\n' "$*" >&2; }
[[ -s "$PASSWORD_FILE" ]] || { log "ERROR: $PASSWORD_FILE is missing or empty"; exit 1; }
password="$(tr -d '\n' <"$PASSWORD_FILE")"
admin=(-X "admin.hosts=$ADMIN")

if rpk security user list "${admin[@]}" 2>/dev/null | grep -qx "$USER_NAME"; then
  rpk security user update "$USER_NAME" --new-password "$password" --mechanism SCRAM-SHA-256 "${admin[@]}" >/dev/null
  log "user $USER_NAME: password updated"
else
  rpk security user create "$USER_NAME" --password "$password" --mechanism SCRAM-SHA-256 "${admin[@]}" >/dev/null
  log "user $USER_NAME created"
fi
rpk cluster config set superusers "[\"$USER_NAME\"]" "${admin[@]}" >/dev/null
rpk cluster config set enable_sasl true "${admin[@]}" >/dev/null
log "SASL (SCRAM-SHA-256) required on the Kafka API"

export RPK_USER="$USER_NAME" RPK_PASS="$password" RPK_SASL_MECHANISM=SCRAM-SHA-256
exec bash /opt/logagg/create-topics.sh
