#!/usr/bin/env bash
# Installs what the browser test needs beside the image test's (test/image/setup.sh: PostgreSQL,
# the venv with moto): Debian's chromium (puppeteer-core, an npm devDependency, downloads no
# browser of its own, and none could be downloaded here) and openssl for the edge's throwaway
# certificate. Idempotent and quiet when done; runs as root in CI with no stdin.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

log() { echo "[browser-setup] $*"; }
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n "$@"; fi
}

# One run at a time (prepare.sh and run.sh may both call this): apt holds its own lock, but two
# runs would both update the lists.
exec 9<"${BASH_SOURCE[0]}"
flock 9

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing ${missing[*]} from apt"
  as_root apt-get update -q >/dev/null
  as_root apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null >/dev/null
fi
log "ready: $(/usr/bin/chromium --version 2>/dev/null | head -n 1)"
