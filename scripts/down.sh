#!/usr/bin/env bash
# Stops the local infrastructure started by scripts/up.sh (Kafka, then PostgreSQL).
# Safe when nothing runs. Data in .local/ is kept; delete .local/ for a clean slate.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

rc=0
"$LOGAGG_SCRIPTS/kafka.sh" stop || rc=1
"$LOGAGG_SCRIPTS/pg.sh" stop || rc=1
exit "$rc"
