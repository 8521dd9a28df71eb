#!/usr/bin/env bash
# Makes $KIT_LOCAL_BASE_IMAGE (default mlflow-kit-local/python:3.11-bookworm), a stand-in for
# python:3.11-slim-bookworm built from Debian's packages, for machines that reach Debian's
# archive and PyPI but no image registry. Shaped like the official image where the Dockerfile
# relies on it: Debian bookworm, Python 3.11 with pip in /usr/local (python, python3, pip on
# PATH, packages in /usr/local/lib/python3.11/site-packages), LANG=C.UTF-8, useradd.
# Built from this host's CA bundle too (pip trusts it), so pip reaches PyPI through whatever
# TLS proxy the host trusts; that is why the image is test-only and never pushed.
#
# Idempotent: skipped when an image of the same recipe (this file's hash) exists. Needs root,
# debootstrap and a running Docker engine (test/image/docker.sh).
set -euo pipefail

TAG="${KIT_LOCAL_BASE_IMAGE:-mlflow-kit-local/python:3.11-bookworm}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
RECIPE="$(cat "${BASH_SOURCE[0]}" "$CA_BUNDLE" | sha256sum | cut -c1-16)"

log() { echo "[base-image] $*" >&2; }

if [ "$(docker image inspect -f '{{index .Config.Labels "mlflow-kit.recipe"}}' "$TAG" 2>/dev/null)" = "$RECIPE" ]; then
  log "$TAG present (recipe $RECIPE)"
  exit 0
fi
[ -s "$CA_BUNDLE" ] || { log "$CA_BUNDLE missing: install ca-certificates"; exit 1; }

work="$(mktemp -d /var/tmp/mlflow-kit-base.XXXXXX)"
trap 'rm -rf "$work"' EXIT
rootfs="$work/rootfs"
started=$(date +%s)
log "debootstrap bookworm (minbase + python3.11) from $MIRROR"
# python3-distutils: python3.11-venv needs it, and debootstrap does not resolve the virtual name.
if ! debootstrap --variant=minbase --include=python3.11,python3.11-venv,python3-distutils \
    bookworm "$rootfs" "$MIRROR" >"$work/debootstrap.log" 2>&1; then
  tail -n 30 "$work/debootstrap.log" >&2
  tail -n 30 "$rootfs/debootstrap/debootstrap.log" >&2 2>/dev/null || true
  exit 1
fi

# Python in /usr/local like the official image: a venv there puts python/python3/pip in
# /usr/local/bin and site-packages at /usr/local/lib/python3.11/site-packages, outside Debian's
# externally-managed system Python.
chroot "$rootfs" /usr/bin/python3.11 -m venv /usr/local
rm -f "$rootfs"/usr/local/bin/activate* "$rootfs"/usr/local/bin/Activate.ps1
install -m 0644 "$CA_BUNDLE" "$rootfs/etc/ssl/certs/ca-certificates.crt"
printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' >"$rootfs/etc/pip.conf"
# What a slim image drops: package caches and lists, docs, man pages.
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
  "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/debootstrap

tar -C "$rootfs" --numeric-owner -c . | docker import \
  --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change "LABEL mlflow-kit.recipe=$RECIPE" \
  --change 'CMD ["python3"]' - "$TAG" >/dev/null
log "built $TAG in $(($(date +%s) - started)) s"
