#!/usr/bin/env bash
# Installs the Debian packages needed to build logagg (librdkafka is built from source by the
# rdkafka crate's cmake-build feature). Does nothing when they are all present.
set -euo pipefail
needed=(cmake g++ make pkg-config libssl-dev libcurl4-openssl-dev libsasl2-dev zlib1g-dev python3-venv)
missing=()
for package in "${needed[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
  echo "installing build dependencies: ${missing[*]}" >&2
  if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
