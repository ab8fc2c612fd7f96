#!/usr/bin/env bash
# Upgrades the chaincode of a network up.sh started, without stopping it: packages the current
# chaincode/ as a new CCaaS package (label <name>_<sequence>.0) whose service listens on ADDRESS,
# installs it, starts that service, approves and commits the definition at the next sequence, and
# only then stops the service of the previous definition. Ledger state is untouched (an upgrade
# changes the code, never the world state). Prints the new sequence and package id.
#
# usage: upgrade-chaincode.sh [--address HOST:PORT] [STATE_DIR]
#   --address  where the new chaincode service listens (default: FABRIC_CCAAS_NEXT_ADDRESS, else
#              127.0.0.1 on the port after the current service's); it must differ from the running one's
#   STATE_DIR  the network's state (default FABRIC_STATE_DIR, as up.sh)
set -euo pipefail
address="${FABRIC_CCAAS_NEXT_ADDRESS:-}"
while [ $# -gt 0 ]; do
  case "$1" in
    --address) address="${2:?--address needs HOST:PORT}"; shift 2 ;;
    -*) echo "usage: upgrade-chaincode.sh [--address HOST:PORT] [STATE_DIR]" >&2; exit 2 ;;
    *) FABRIC_STATE_DIR="$1"; shift ;;
  esac
done
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
set_state_paths
[ -f "$state_dir/env" ] || { log "no network in $state_dir (up.sh writes $state_dir/env)"; exit 1; }
# The ports and paths the network was started with.
# shellcheck disable=SC1091
. "$state_dir/env"
bin="$FABRIC_BIN_DIR"
peer_port="${FABRIC_PEER_ENDPOINT##*:}"
orderer_port="${FABRIC_ORDERER_ENDPOINT##*:}"
set_orderer_flags
current_address="$FABRIC_CCAAS_ADDRESS"
[ -n "$address" ] || address="127.0.0.1:$((${current_address##*:} + 1))"
[ "$address" != "$current_address" ] || { log "the new service must listen elsewhere than the running one ($current_address)"; exit 1; }

sequence=$(committed_sequence)
[ -n "$sequence" ] || { log "no committed definition of $chaincode_name on channel $channel"; exit 1; }
next=$((sequence + 1))
label=$(chaincode_label_for "$next")
log "chaincode $chaincode_name: sequence $sequence -> $next, package $label served on $address"

package_id=$("$network_dir/package-ccaas.sh" "$state_dir/channel/$label.tgz" "$address" "$label")
install_package "$state_dir/channel/$label.tgz" "$package_id" 2>>"$logs/peer-cli.log"

# The new service first (the committed definition still names the old one), under its own pid file.
start_process "chaincode-$next" "$network_dir/serve.sh" "$package_id" "$address"
wait_for_port "chaincode-$next" "${address##*:}" 120

commit_definition "$next" "$package_id" 2>>"$logs/peer-cli.log"

# The old service is no longer named by the definition: stop it; the new one takes its pid file.
if [ -f "$pids/chaincode" ]; then
  old=$(cat "$pids/chaincode")
  kill -TERM -- "-$old" 2>/dev/null || kill -TERM "$old" 2>/dev/null || true
fi
mv "$pids/chaincode-$next" "$pids/chaincode"
sed -i -e "s|^FABRIC_PACKAGE_ID=.*|FABRIC_PACKAGE_ID=$package_id|" -e "s|^FABRIC_CCAAS_ADDRESS=.*|FABRIC_CCAAS_ADDRESS=$address|" "$state_dir/env"
echo "sequence=$next"
echo "package_id=$package_id"
