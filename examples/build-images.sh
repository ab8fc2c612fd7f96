#!/usr/bin/env bash
# Builds the example function images (static Go binaries in images FROM scratch), pushes them to
# the registry given as $1 (default $CHAINFAAS_REGISTRY, else 127.0.0.1:5000) and prints the
# digest-pinned references as JSON. Needs Go, a Docker engine and a running registry
# (local/registry.ts starts one).
set -euo pipefail
cd "$(dirname "$0")/.."
npm run build --silent
exec node dist/examples/images.js "${1:-${CHAINFAAS_REGISTRY:-127.0.0.1:5000}}"
