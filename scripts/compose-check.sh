#!/usr/bin/env bash
# Check docker-compose.yml, the Dockerfile and redpanda/ without Docker:
# validates the compose file against the official Compose Specification JSON
# schema and checks the project's rules (tests/compose/).
#
# Creates (once) a Python venv at .local/venv-compose with the pinned packages
# of tests/compose/requirements.txt; later runs reuse it and skip pip unless
# that file (or the Python interpreter) changed.
#
# Usage: scripts/compose-check.sh [pytest args...]     e.g. -k ports, -x, -v
# Env:   PYTHON=python3.12           interpreter used to create the venv
#        LOGAGG_COMPOSE_VENV=DIR     venv location (default .local/venv-compose)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

ROOT="$LOGAGG_ROOT"
VENV="${LOGAGG_COMPOSE_VENV:-$LOGAGG_LOCAL/venv-compose}"
REQ="$ROOT/tests/compose/requirements.txt"
PY="${PYTHON:-python3}"
MARKER="$VENV/.logagg-compose-ready"

command -v "$PY" >/dev/null 2>&1 || die "$PY not found (set PYTHON=/path/to/python3.11+)"
"$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || die "$("$PY" -V 2>&1) is too old: Python 3.11 or newer is needed (check-jsonschema, tomllib)"

# The venv is valid for one requirements file and one interpreter.
stamp="$(
  {
    cat "$REQ"
    "$PY" -c 'import sys; print(sys.version, sys.executable)'
  } | sha256sum | cut -d' ' -f1
)"

if [[ ! -x "$VENV/bin/python" || ! -f "$MARKER" || "$(cat "$MARKER" 2>/dev/null)" != "$stamp" ]]; then
  info "compose-check: setting up $VENV"
  rm -rf "$VENV"
  mkdir -p "$(dirname "$VENV")"
  if ! "$PY" -m venv "$VENV" 2>/tmp/compose-check-venv.$$; then
    cat /tmp/compose-check-venv.$$ >&2
    rm -f /tmp/compose-check-venv.$$
    rm -rf "$VENV"
    # Debian's system Python keeps venv/ensurepip in a separate package.
    if [[ $EUID -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
      pyver="$("$PY" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
      info "compose-check: installing python${pyver}-venv with apt-get"
      apt-get install -y -q "python${pyver}-venv" >/dev/null || apt-get install -y -q python3-venv >/dev/null
      "$PY" -m venv "$VENV"
    else
      die "could not create a venv with $PY (on Debian: apt-get install python3-venv)"
    fi
  fi
  rm -f /tmp/compose-check-venv.$$
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input -r "$REQ" \
    || die "pip install -r tests/compose/requirements.txt failed"
  printf '%s\n' "$stamp" >"$MARKER"
fi

cd "$ROOT"
export PYTHONDONTWRITEBYTECODE=1
exec "$VENV/bin/python" -m pytest -c tests/compose/pytest.ini tests/compose "$@"
