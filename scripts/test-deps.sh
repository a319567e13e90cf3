#!/usr/bin/env bash
# Installs what the tests need beyond the build, idempotently (nothing when present):
#   - chromium + chromium-driver (Debian packages, apt): the console's browser test
#     (e2e/tests/console_browser.rs) drives headless Chromium through chromedriver;
#   - promtool, from Debian's `prometheus` package: the rules/config check
#     (e2e/tests/observability.rs). Only the promtool binary is taken out of the package
#     (apt-get download + dpkg-deb) into .local/tools/, because installing the package would
#     start a Prometheus daemon; a system-wide /usr/bin/promtool is used when present;
#   - shellcheck (Debian package): `make lint` checks scripts/*.sh;
#   - schemathesis (PyPI, pinned) in the project-local venv .local/venv: the OpenAPI contract
#     test (e2e/tests/api_contract.rs) runs it against a live API.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PROMTOOL_DIR="$ROOT/.local/tools/prometheus"
say() { printf 'test-deps: %s\n' "$*" >&2; }
if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; else SUDO=; fi
# Another apt run on the machine (another checkout's script) holds the lock for a while.
APT_WAIT=(-o DPkg::Lock::Timeout=600)

needed=(chromium chromium-driver shellcheck)
missing=()
for package in "${needed[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
updated=false
if ((${#missing[@]})); then
  say "installing ${missing[*]}"
  $SUDO apt-get "${APT_WAIT[@]}" update -qq
  updated=true
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get "${APT_WAIT[@]}" install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi

if [[ ! -x /usr/bin/promtool && ! -x "$PROMTOOL_DIR/usr/bin/promtool" ]]; then
  say "extracting promtool from Debian's prometheus package into ${PROMTOOL_DIR#"$ROOT/"}"
  download="$(mktemp -d)"
  trap 'rm -rf "$download"' EXIT
  chmod 755 "$download" # apt's sandbox user writes the download here
  if ! (cd "$download" && apt-get download prometheus >/dev/null 2>&1); then
    $updated || $SUDO apt-get "${APT_WAIT[@]}" update -qq
    (cd "$download" && apt-get download prometheus >/dev/null)
  fi
  mkdir -p "$PROMTOOL_DIR"
  dpkg-deb --fsys-tarfile "$download"/prometheus_*.deb | tar -x -C "$PROMTOOL_DIR" ./usr/bin/promtool
  "$PROMTOOL_DIR/usr/bin/promtool" --version >/dev/null
fi

SCHEMATHESIS_VERSION=4.32.5
VENV="$ROOT/.local/venv"
if ! "$VENV/bin/schemathesis" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
  say "installing schemathesis $SCHEMATHESIS_VERSION into ${VENV#"$ROOT/"}"
  # Debian's interpreter first: a pyenv shim may point at a version without venv support.
  python=/usr/bin/python3
  [[ -x $python ]] || python=python3
  "$python" -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
  "$VENV/bin/schemathesis" --version >/dev/null
fi
