#!/usr/bin/env bash
# Installs what the metrics test needs on a fresh Debian machine, idempotent: the image test's
# venv (the server's own lock, PostgreSQL, moto: test/image/setup.sh) and the real Prometheus
# server from Debian's `prometheus` package (its binary only; the packaged service is not used).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export DEBIAN_FRONTEND=noninteractive
log() { echo "[metrics-setup] $*"; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n "$@"; fi; }

bash "$ROOT/test/image/setup.sh"

if [ -x /usr/bin/prometheus ]; then
  log "prometheus present ($(/usr/bin/prometheus --version 2>&1 | head -1))"
else
  log "installing prometheus from apt"
  # The package's postinst starts its own service where systemd runs; policy-rc.d keeps it from
  # starting in a container, and the test runs its own instance on a free port either way.
  as_root apt-get update -q
  as_root apt-get install -y -q --no-install-recommends prometheus </dev/null
fi
log "ready"
