#!/usr/bin/env bash
# Builds the real Pulumi engine for test:engine from the Go module proxy (the CLI's release
# downloads are on hosts these machines cannot reach): the CLI and the Node.js language host,
# into .cache/pulumi/<versions>/bin, with the `pulumi-resource-pulumi-nodejs` script that the
# CLI's own distribution ships for dynamic providers. Cached by version: a second run costs
# nothing. .cache/pulumi/bin points at the current build.
#   - CLI: package github.com/pulumi/pulumi/pkg/v3/cmd/pulumi, built in a scratch module that
#     `go get`s the package path and repeats pkg's own `replace` lines (a dependency's replace
#     directives do not apply to the module that requires it).
#   - Language host: github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs, in sdk
#     up to v3.68.0 (later it moved into a module of its own that the proxy does not serve).
# About 5.5 min of compile on 2 cores when Go's build cache is cold; test/prepare.sh runs it in
# the background. Idempotent and locked; a half-done build is never taken for a finished one.
set -euo pipefail
umask 022

PULUMI_CLI_VERSION="${PULUMI_CLI_VERSION:-v3.274.1}"
PULUMI_NODEJS_HOST_VERSION="${PULUMI_NODEJS_HOST_VERSION:-v3.68.0}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BASE="$ROOT/.cache/pulumi"
KEY="cli-${PULUMI_CLI_VERSION}_nodejs-${PULUMI_NODEJS_HOST_VERSION}"
DEST="$BASE/$KEY"

log() { echo "[engine-install] $*"; }

mkdir -p "$BASE"
exec 9>"$BASE/.lock"
flock 9

# The scripts the CLI's distribution ships beside it, pointed at this project's Node.js and
# @pulumi/pulumi (the folder is <project>/.cache/pulumi/<key>/bin): dynamic providers
# (pulumi-resource-pulumi-nodejs) and policy packs (pulumi-analyzer-policy). Written on every
# run: they cost nothing, and a change to them needs no rebuild.
write_scripts() {
  local bin="$1" name target
  for name in pulumi-resource-pulumi-nodejs:dynamic-provider pulumi-analyzer-policy:run-policy-pack; do
    target="${name#*:}"
    cat >"$bin/${name%%:*}.tmp" <<SH
#!/bin/sh
# <project>/.cache/pulumi/<key>/bin, reached through the .cache/pulumi/bin link or not.
root="\$(cd "\$(dirname "\$(readlink -f "\$0")")/../../../.." && pwd)"
node="\$root/node_modules/.bin/node"
[ -x "\$node" ] || node=node
exec "\$node" "\$root/node_modules/@pulumi/pulumi/cmd/$target" "\$@"
SH
    chmod 0755 "$bin/${name%%:*}.tmp"
    mv "$bin/${name%%:*}.tmp" "$bin/${name%%:*}"
  done
}

if [ -x "$DEST/bin/pulumi" ] && [ -x "$DEST/bin/pulumi-language-nodejs" ] && [ -f "$DEST/.complete" ]; then
  write_scripts "$DEST/bin"
  ln -sfn "$KEY/bin" "$BASE/bin"
  log "pulumi $PULUMI_CLI_VERSION and pulumi-language-nodejs $PULUMI_NODEJS_HOST_VERSION up to date ($DEST/bin)"
  exit 0
fi

command -v go >/dev/null || { log "Go is needed to build the Pulumi CLI: install Go 1.26 or later (https://go.dev/doc/install)" >&2; exit 1; }

# Only this build's settings: no -mod=vendor or similar from the environment; the caches where
# Go keeps them, or in the project when this user has none.
export GOFLAGS="-mod=mod -buildvcs=false"
export GOWORK=off CGO_ENABLED=0
[ -n "$(go env GOCACHE 2>/dev/null)" ] || export GOCACHE="$BASE/go-build"
[ -n "$(go env GOMODCACHE 2>/dev/null)" ] || export GOMODCACHE="$BASE/go-mod"

work="$(mktemp -d "$BASE/.build.XXXXXX")"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin" "$work/cli" "$work/host"
ldflags() { echo "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$1"; }
start=$SECONDS

# The language host first: it takes seconds, and a proxy problem shows before the long build.
log "building pulumi-language-nodejs $PULUMI_NODEJS_HOST_VERSION"
(
  cd "$work/host"
  go mod init mlflow-kit/pulumi-language-nodejs >/dev/null 2>&1
  go get "github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs@$PULUMI_NODEJS_HOST_VERSION"
  go build -trimpath -ldflags "$(ldflags "$PULUMI_NODEJS_HOST_VERSION")" -o "$work/bin/pulumi-language-nodejs" \
    github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs
)

log "building pulumi $PULUMI_CLI_VERSION (minutes on a cold Go build cache)"
(
  cd "$work/cli"
  go mod init mlflow-kit/pulumi-cli >/dev/null 2>&1
  pkg_mod="$(go mod download -json "github.com/pulumi/pulumi/pkg/v3@$PULUMI_CLI_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')"
  [ -f "$pkg_mod" ] || { log "go mod download gave no go.mod for pkg $PULUMI_CLI_VERSION" >&2; exit 1; }
  # pkg's replace lines that point at another module (not its ../sdk folder), e.g. atotto/clipboard.
  replaces="$(sed -n 's/^replace[[:space:]]\+\([^[:space:]]\+\)[[:space:]]\+=>[[:space:]]\+\([^.[:space:]][^[:space:]]*\)[[:space:]]\+\(v[^[:space:]]\+\)[[:space:]]*$/\1=\2@\3/p' "$pkg_mod")"
  for r in $replaces; do go mod edit -replace "$r"; done
  # golang.org/x/text pinned where pkg pins it: the scratch module's MVS would otherwise move it.
  text="$(sed -n 's/^[[:space:]]*golang.org\/x\/text[[:space:]]\+\(v[^[:space:]]\+\).*/\1/p' "$pkg_mod" | head -n1)"
  [ -z "$text" ] || go mod edit -replace "golang.org/x/text=golang.org/x/text@$text"
  go get "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi@$PULUMI_CLI_VERSION"
  go build -trimpath -ldflags "$(ldflags "$PULUMI_CLI_VERSION")" -o "$work/bin/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
)

write_scripts "$work/bin"
"$work/bin/pulumi" version >/dev/null
rm -rf "$DEST"
mkdir -p "$DEST"
mv "$work/bin" "$DEST/bin"
touch "$DEST/.complete"
ln -sfn "$KEY/bin" "$BASE/bin"
log "built in $((SECONDS - start))s: $("$DEST/bin/pulumi" version) into $DEST/bin"
