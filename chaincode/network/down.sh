#!/usr/bin/env bash
# Stops the network up.sh started in STATE_DIR (orderer, peers, chaincode service: the process
# groups recorded in STATE_DIR/pids) and removes STATE_DIR with its ledgers, crypto material and
# logs. KEEP_LOGS=1 keeps STATE_DIR/logs.
#
# usage: down.sh [STATE_DIR]
set -euo pipefail
[ -n "${1:-}" ] && FABRIC_STATE_DIR="$1"
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
if [ ! -d "$state_dir" ]; then
  log "nothing in $state_dir"
  exit 0
fi
set_state_paths
if [ ! -f "$state_dir/$state_marker" ]; then
  log "$state_dir was not made by up.sh; leaving it alone"
  exit 1
fi
# up.sh's watchdog (FABRIC_WATCH_PID) runs this script itself when its process is gone.
if [ -f "$state_dir/watchdog" ] && [ "$(cat "$state_dir/watchdog")" != "$$" ]; then
  kill "$(cat "$state_dir/watchdog")" 2>/dev/null || true
fi
stop_processes
if [ "${KEEP_LOGS:-0}" = 1 ]; then
  find "$state_dir" -mindepth 1 -maxdepth 1 ! -name logs ! -name "$state_marker" -exec rm -rf {} +
  log "stopped; logs kept in $logs"
else
  rm -rf "$state_dir"
  log "stopped and removed $state_dir"
fi
