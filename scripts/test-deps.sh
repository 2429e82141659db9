#!/usr/bin/env bash
# Installs what the test suite needs beyond npm packages, only when it is missing:
# Debian's chromium (console browser test), prometheus-alertmanager (real routing test),
# zstd (backup pipeline), prometheus (promtool for the alert rules). PostgreSQL and moto_server are on this project's machines.
set -euo pipefail
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v prometheus-alertmanager >/dev/null 2>&1 || missing+=(prometheus-alertmanager)
command -v zstd >/dev/null 2>&1 || missing+=(zstd)
# promtool checks and unit-tests deploy/prometheus/firebreak-rules.yml.
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v pg_dump >/dev/null 2>&1 || missing+=(postgresql-client)
# pgBackRest 2.45: physical backups and point-in-time recovery (src/pitr).
command -v pgbackrest >/dev/null 2>&1 || missing+=(pgbackrest)
if [ ${#missing[@]} -gt 0 ]; then
  echo "test-deps: installing ${missing[*]}" >&2
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null
  $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
