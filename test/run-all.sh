#!/usr/bin/env bash
# npm test: every suite, one stage after the other. The installs that mostly wait on the network
# and the disk (test/prepare.sh) run in the background while the type check and the unit tests
# use the CPU; the suites that need them wait for them.
# Each stage's output is shown as it runs and kept in .cache/test-logs/<stage>.log; a failed
# stage (or a failed install) ends the run with its name, exit code and the tail of its log, and
# every run ends with the time each stage took.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
LOGS=.cache/test-logs
mkdir -p "$LOGS"
TAIL_LINES="${MLFLOW_KIT_TEST_LOG_TAIL:-80}"
declare -a TIMES=()

summary() {
  echo "[test] stage times:"
  local t
  for t in "${TIMES[@]}"; do echo "[test]   $t"; done
}

fail_stage() { # name exit-code seconds log
  echo "[test] FAILED: stage '$1' exited $2 after ${3}s; the last $TAIL_LINES lines of its log ($4):" >&2
  tail -n "$TAIL_LINES" "$4" >&2 || true
  echo "[test] FAILED: stage '$1' (full log: $4)" >&2
  summary >&2
  exit 1
}

# stage NAME COMMAND...: runs one stage, its output both shown and logged.
stage() {
  local name="$1" log="$LOGS/$1.log" start=$SECONDS rc=0
  shift
  echo "[test] stage '$name': $*"
  "$@" 2>&1 | tee "$log" || rc=$?
  TIMES+=("$name: $((SECONDS - start))s$([ "$rc" -eq 0 ] || echo " (failed)")")
  [ "$rc" -eq 0 ] || fail_stage "$name" "$rc" "$((SECONDS - start))" "$log"
  echo "[test] stage '$name' passed in $((SECONDS - start))s"
}

prep_log="$LOGS/prepare.log"
prep_time="$LOGS/prepare.seconds"
rm -f "$prep_time"
( start=$SECONDS; rc=0; bash test/prepare.sh || rc=$?; echo "$((SECONDS - start))" >"$prep_time"; exit "$rc" ) >"$prep_log" 2>&1 &
prep=$!
# Never leave an install half done: an early failure still waits for it.
trap 'wait "$prep" 2>/dev/null || true' EXIT

stage typecheck npm run typecheck
stage unit npm run test:unit
stage workflows npm run test:workflows
echo "[test] waiting for the installs of test/prepare.sh (background, log: $prep_log)"
wait_start=$SECONDS
rc=0
wait "$prep" || rc=$?
took="$(cat "$prep_time" 2>/dev/null || echo "?")"
TIMES+=("prepare (background): ${took}s, of which waited for: $((SECONDS - wait_start))s$([ "$rc" -eq 0 ] || echo " (failed)")")
[ "$rc" -eq 0 ] || fail_stage "prepare (test/prepare.sh)" "$rc" "$took" "$prep_log"
cat "$prep_log"
stage integration npm run test:integration
stage engine npm run test:engine
stage image npm run test:image
# The UI in a real browser (chromium) on the image, through the dev stack's public host name.
stage browser npm run test:browser
stage edge npm run test:edge
stage ops npm run test:ops
stage adopt npm run test:adopt
# The real Prometheus scraping the real server under a bounded load, and the ECS collector's scrape configuration (~1-2 min on 2 shared cores).
stage metrics npm run test:metrics
summary
