#!/usr/bin/env bash
# actionlint (with shellcheck on every run: script) and zizmor on every workflow. zizmor runs
# offline; a finding at medium severity or above fails.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN="$(bash test/workflows/setup.sh)"
export PATH="$BIN:$PATH"
shopt -s nullglob
workflows=(.github/workflows/*.yml .github/workflows/*.yaml)
[ ${#workflows[@]} -gt 0 ] || { echo "no workflows under .github/workflows" >&2; exit 1; }
echo "actionlint $(actionlint -version | head -1), shellcheck $(shellcheck --version | sed -n 2p | cut -d' ' -f2): ${#workflows[@]} workflows"
actionlint "${workflows[@]}"
zizmor --offline --min-severity medium --no-progress "${workflows[@]}"
echo "workflows: actionlint and zizmor found nothing in ${#workflows[@]} files"
