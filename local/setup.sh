#!/usr/bin/env bash
# Sets up this machine for ChainFaaS's local platform and tests (Debian 12, run as root):
# Docker's engine (docker.io, started in the background), Debian's docker-registry, a Java
# runtime for DynamoDB Local, Go for the sample functions and Fabric's binaries, Chromium for the
# portal's browser tests, openssl, and the locked npm packages.
# Idempotent: installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
say() { echo "[setup] $*"; }

need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v docker-registry >/dev/null || need+=(docker-registry)
command -v java >/dev/null || need+=(openjdk-17-jre-headless)
command -v go >/dev/null || need+=(golang-go)
command -v chromium >/dev/null || need+=(chromium)
command -v openssl >/dev/null || need+=(openssl)
python3 -c "import venv, ensurepip" >/dev/null 2>&1 || need+=(python3-venv)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then echo "[setup] missing ${need[*]}: run as root or install them with apt-get" >&2; exit 1; fi
  say "installing ${need[*]}"
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  say "starting dockerd (log: /tmp/chainfaas-dockerd.log)"
  (dockerd >/tmp/chainfaas-dockerd.log 2>&1 &)
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  if ! docker info >/dev/null 2>&1; then
    say "dockerd failed with the default storage driver; retrying with vfs"
    pkill dockerd || true; sleep 2
    (dockerd --storage-driver vfs >/tmp/chainfaas-dockerd.log 2>&1 &)
    for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  fi
  docker info >/dev/null 2>&1 || { tail -20 /tmp/chainfaas-dockerd.log >&2; echo "[setup] dockerd did not start" >&2; exit 1; }
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "npm ci"
  npm ci --no-audit --no-fund >/tmp/chainfaas-npm.log 2>&1 || { tail -30 /tmp/chainfaas-npm.log >&2; exit 1; }
fi
# schemathesis for the OpenAPI fuzzing of test/security, pinned, in its own virtualenv.
SCHEMATHESIS_VERSION=4.32.5
venv="${CHAINFAAS_VENV:-$HOME/.cache/chainfaas/venv}"
if [ "$("$venv/bin/schemathesis" --version 2>/dev/null)" != "schemathesis, version $SCHEMATHESIS_VERSION" ]; then
  say "installing schemathesis $SCHEMATHESIS_VERSION into $venv"
  { python3 -m venv "$venv" && "$venv/bin/pip" install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"; } >/tmp/chainfaas-pip.log 2>&1 \
    || { tail -30 /tmp/chainfaas-pip.log >&2; exit 1; }
fi
say "ready"
