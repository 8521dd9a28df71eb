#!/usr/bin/env bash
# npm test: every suite. The installs that mostly wait on the network and the disk
# (test/prepare.sh) run in the background while the type check and the unit tests use the CPU;
# the suites that need them wait for them, and a failed install fails the run with its log.
# On a fresh 2-core machine this saves the minutes of apt, pip, debootstrap and docker build.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
mkdir -p .cache
log=.cache/prepare.log
bash test/prepare.sh >"$log" 2>&1 &
prep=$!
# Never leave an install half done: an early failure still waits for it.
trap 'wait "$prep" 2>/dev/null || true' EXIT

npm run typecheck
npm run test:unit
npm run test:workflows
echo "[test] waiting for the installs of test/prepare.sh"
if ! wait "$prep"; then
  echo "[test] test/prepare.sh failed:" >&2
  cat "$log" >&2
  exit 1
fi
cat "$log"
npm run test:integration
npm run test:image
# The UI in a real browser (chromium) on the image, through the dev stack's public host name.
npm run test:browser
npm run test:edge
