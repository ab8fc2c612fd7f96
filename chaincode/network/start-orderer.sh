#!/usr/bin/env bash
# Starts again one orderer of a network up.sh started (after a crash, or after stopping it on
# purpose), with the environment up.sh recorded for it; with FABRIC_ORDERERS=3 it rejoins the Raft
# cluster and catches up on the blocks it missed from the other consenters.
#
# usage: start-orderer.sh N [STATE_DIR]    N: 0, 1 or 2 (the process `orderer`, `orderer1`, `orderer2`)
set -euo pipefail
n="${1:?usage: start-orderer.sh N [STATE_DIR]}"
[[ "$n" =~ ^[0-2]$ ]] || { echo "usage: start-orderer.sh N [STATE_DIR] (N: 0, 1 or 2)" >&2; exit 2; }
[ -n "${2:-}" ] && FABRIC_STATE_DIR="$2"
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
set_state_paths
[ -f "$state_dir/env" ] || { log "no network in $state_dir (up.sh writes $state_dir/env)"; exit 1; }
bin=$(sed -n 's/^FABRIC_BIN_DIR=//p' "$state_dir/env")
name=orderer
[ "$n" = 0 ] || name="orderer$n"
[ -f "$config_dir/$name.env" ] || { log "the network in $state_dir has no $name"; exit 1; }
if [ -f "$pids/$name" ] && kill -0 -- "-$(cat "$pids/$name")" 2>/dev/null; then
  log "$name runs already"
  exit 0
fi
start_orderer "$n"
log "$name started"
