#!/usr/bin/env bash
# Regenerates requirements.lock, every package of the image pinned with its hashes, from
# requirements.txt (the packages the image asks for). The Dockerfile and the e2e test's venv
# both install the lock with --require-hashes, so what is tested is what ships.
# Run after changing requirements.txt; takes a few minutes (it fetches every hash).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tools="$(mktemp -d)"
trap 'rm -rf "$tools"' EXIT
python3 -m venv "$tools"
"$tools/bin/pip" install -q pip-tools
cd "$here"
"$tools/bin/pip-compile" -q --generate-hashes --strip-extras --allow-unsafe --no-emit-find-links \
  --no-emit-index-url --output-file requirements.lock requirements.txt
