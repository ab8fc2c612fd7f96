#!/usr/bin/env bash
# Adds a second peer (peer1 of the same organisation, whose crypto material up.sh generated) to a
# network up.sh started: starts it on FABRIC_PEER1_PORT, fetches the channel's first block from
# the orderer and joins it, installs the chaincode package (the committed definition already names
# it, so peer1 can endorse once it has it), and waits until peer1's ledger has caught up with
# peer0's. Appends FABRIC_PEER1_ENDPOINT to <state>/env and prints it. down.sh stops it too.
#
# usage: join-peer.sh [STATE_DIR]
set -euo pipefail
[ -n "${1:-}" ] && FABRIC_STATE_DIR="$1"
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
set_state_paths
if ! network_running || [ ! -f "$state_dir/env" ]; then
  log "no network is up in $state_dir (run up.sh first)"
  exit 1
fi
if [ -f "$pids/peer1" ] && kill -0 "$(cat "$pids/peer1")" 2>/dev/null; then
  log "peer1 runs already"
  grep '^FABRIC_PEER1_ENDPOINT=' "$state_dir/env"
  exit 0
fi
bin=$("$network_dir/fabric-bin.sh")
set_orderer_flags
require_free_ports "$peer1_port" "$peer1_cc_port" "$peer1_ops_port"
started=$(date +%s)

log "peer1 on 127.0.0.1:$peer1_port"
mapfile -t peer1_env < <(peer_node_env peer1 "$peer1_port" "$peer1_cc_port" "$peer1_ops_port")
start_process peer1 env "${peer1_env[@]}" "$bin/peer" node start
wait_for_port peer1 "$peer1_port"

# As an operator joining from elsewhere would: the channel's first block from the orderer.
peer_cli "$peer_admin" "$peer1_port" channel fetch oldest "$state_dir/channel/peer1-oldest.block" -c "$channel" \
  "${orderer_flags[@]}" 2>>"$logs/peer-cli.log"
peer_cli "$peer_admin" "$peer1_port" channel join -b "$state_dir/channel/peer1-oldest.block" 2>>"$logs/peer-cli.log"
package_id=$(sed -n 's/^FABRIC_PACKAGE_ID=//p' "$state_dir/env")
peer_cli "$peer_admin" "$peer1_port" lifecycle chaincode install "$state_dir/channel/$chaincode_label.tgz" 2>>"$logs/peer-cli.log"
if ! peer_cli "$peer_admin" "$peer1_port" lifecycle chaincode queryinstalled --output json 2>>"$logs/peer-cli.log" | grep -q "\"$package_id\""; then
  log "peer1 did not install $package_id"
  exit 1
fi

height() { peer_cli "$peer_admin" "$1" channel getinfo -c "$channel" 2>/dev/null | sed -n 's/.*"height":\([0-9]*\).*/\1/p'; }
target=$(height "$peer_port")
log "peer1 catching up to block height $target"
for i in $(seq 1 600); do
  [ "$(height "$peer1_port")" -ge "$target" ] 2>/dev/null && break
  [ "$i" = 600 ] && { log "peer1 did not reach height $target within 60 s (at $(height "$peer1_port"))"; exit 1; }
  sleep 0.1
done

sed -i '/^FABRIC_PEER1_ENDPOINT=/d' "$state_dir/env"
echo "FABRIC_PEER1_ENDPOINT=127.0.0.1:$peer1_port" >>"$state_dir/env"
log "peer1 joined $channel and caught up in $(($(date +%s) - started)) s"
echo "FABRIC_PEER1_ENDPOINT=127.0.0.1:$peer1_port"
