#!/usr/bin/env bash
# A peer joins the channel, catches up on the ledger and installs the chaincode package (the
# committed definition already names it, so the peer can endorse once it has it). Two ways in:
#
# join-peer.sh [STATE_DIR]
#   peer1 of the same organisation, with the crypto material up.sh generated in STATE_DIR, on
#   FABRIC_PEER1_PORT of the network up.sh started there. Appends FABRIC_PEER1_ENDPOINT to
#   <state>/env and prints it. down.sh stops it with the network.
#
# join-peer.sh --bundle BUNDLE.json --key SIGN_KEY.pem --tls-key TLS_KEY.pem --listen HOST:PORT
#              [--state DIR] [--chaincode-listen HOST:PORT] [--operations-listen HOST:PORT]
#   a peer operator's peer, enrolled through the controller (POST /peers): BUNDLE.json is the
#   controller's answer (certificates the organisation's CAs issued for the operator's CSRs, the
#   CA certificates, orderer, channel, chaincode); the two keys never left this machine. The peer
#   listens on --listen (chaincode listener and operations: the next two ports unless given) and
#   advertises the endpoint it was enrolled with. State, logs and pid go to DIR (default
#   <repo>/.chainfaas/peers/<peerId>); `down.sh DIR` stops it and removes DIR. Needs jq and openssl.
#   The peer is its own local administrator (its certificate in its local MSP's admincerts, node
#   OUs off locally): it carries the `peer` node OU, so to the channel it is a peer, never an
#   admin or a client.
set -euo pipefail

bundle='' sign_key='' tls_key='' listen='' cc_listen='' ops_listen='' operator_state=''
if [ "${1:-}" != '' ] && [ "${1#--}" = "$1" ]; then
  FABRIC_STATE_DIR="$1"
  shift
fi
while [ $# -gt 0 ]; do
  case "$1" in
    --bundle) bundle="${2:?--bundle needs a file}" ;;
    --key) sign_key="${2:?--key needs a file}" ;;
    --tls-key) tls_key="${2:?--tls-key needs a file}" ;;
    --listen) listen="${2:?--listen needs HOST:PORT}" ;;
    --chaincode-listen) cc_listen="${2:?--chaincode-listen needs HOST:PORT}" ;;
    --operations-listen) ops_listen="${2:?--operations-listen needs HOST:PORT}" ;;
    --state) operator_state="${2:?--state needs a directory}" ;;
    *)
      echo "usage: join-peer.sh [STATE_DIR] | --bundle B.json --key K.pem --tls-key T.pem --listen HOST:PORT [--state DIR]" >&2
      exit 2
      ;;
  esac
  shift 2
done
[ -n "$operator_state" ] && FABRIC_STATE_DIR="$operator_state"
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

# ------------------------------------------------------------------ the steps both ways share
# join_and_install USER_DIR PEER BLOCK_FILE: fetch the channel's oldest block from the orderer (as
# an operator joining from elsewhere would), join, install the CCaaS package (rebuilt from its
# address and label: it is reproducible) and check the peer reports the expected package id.
join_and_install() {
  local user="$1" peer="$2" block="$3" package="$state_dir/channel/$chaincode_label.tgz"
  mkdir -p "$(dirname "$block")"
  peer_cli "$user" "$peer" channel fetch oldest "$block" -c "$channel" "${orderer_flags[@]}" 2>>"$logs/peer-cli.log"
  peer_cli "$user" "$peer" channel join -b "$block" 2>>"$logs/peer-cli.log"
  if [ "$("$network_dir/package-ccaas.sh" "$package" "$ccaas_address" "$chaincode_label")" != "$package_id" ]; then
    log "the chaincode package for $ccaas_address is not $package_id"
    return 1
  fi
  peer_cli "$user" "$peer" lifecycle chaincode install "$package" 2>>"$logs/peer-cli.log"
  local installed
  installed=$(peer_cli "$user" "$peer" lifecycle chaincode queryinstalled --output json 2>>"$logs/peer-cli.log")
  if ! grep -q "\"$package_id\"" <<<"$installed"; then
    log "the peer did not install $package_id"
    return 1
  fi
}

# ------------------------------------------------------------------ peer1 of up.sh's network
if [ -z "$bundle" ]; then
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
  package_id=$(sed -n 's/^FABRIC_PACKAGE_ID=//p' "$state_dir/env")
  ccaas_address="127.0.0.1:$ccaas_port"

  log "peer1 on 127.0.0.1:$peer1_port"
  mapfile -t peer1_env < <(peer_node_env peer1 "$peer1_port" "$peer1_cc_port" "$peer1_ops_port")
  start_process peer1 env "${peer1_env[@]}" "$bin/peer" node start
  wait_for_port peer1 "$peer1_port"
  join_and_install "$peer_admin" "$peer1_port" "$state_dir/channel/peer1-oldest.block"

  target=$(channel_height "$peer_admin" "$peer_port")
  log "peer1 catching up to block height $target"
  wait_caught_up "$peer_admin" "$peer1_port" "$target"

  sed -i '/^FABRIC_PEER1_ENDPOINT=/d' "$state_dir/env"
  echo "FABRIC_PEER1_ENDPOINT=127.0.0.1:$peer1_port" >>"$state_dir/env"
  log "peer1 joined $channel and caught up in $(($(date +%s) - started)) s"
  echo "FABRIC_PEER1_ENDPOINT=127.0.0.1:$peer1_port"
  exit 0
fi

# ------------------------------------------------------------------ a peer operator's peer
command -v jq >/dev/null || { log "join-peer.sh --bundle needs jq"; exit 1; }
command -v openssl >/dev/null || { log "join-peer.sh --bundle needs openssl"; exit 1; }
for file in "$bundle" "$sign_key" "$tls_key"; do
  if [ -z "$file" ] || [ ! -f "$file" ]; then log "--bundle, --key and --tls-key must name files"; exit 2; fi
done
[[ "$listen" =~ ^[A-Za-z0-9.:-]+:[0-9]+$ ]] || { log "--listen must be HOST:PORT, got '$listen'"; exit 2; }
field() {
  local value
  value=$(jq -er "$1 // empty" "$bundle") || { log "the bundle has no $1"; return 1; }
  printf '%s\n' "$value"
}
peer_id=$(field .peerId)
[[ "$peer_id" =~ ^[A-Za-z0-9_-]+$ ]] || { log "the bundle's peerId is not an id: $peer_id"; exit 1; }
[ -n "$operator_state" ] || FABRIC_STATE_DIR="$repo_dir/.chainfaas/peers/$peer_id"
state_dir="$FABRIC_STATE_DIR"
set_state_paths
if network_running; then
  log "a peer runs already in $state_dir (stop it with down.sh $state_dir)"
  exit 1
fi
if [ -n "$(ls -A "$state_dir")" ] && [ ! -f "$state_dir/$state_marker" ]; then
  log "$state_dir is not empty and was not made by join-peer.sh; refusing to clear it"
  exit 1
fi
find "$state_dir" -mindepth 1 -delete
touch "$state_dir/$state_marker"
mkdir -p "$logs" "$pids" "$config_dir" "$state_dir/channel"

msp_id=$(field .mspId)
endpoint=$(field .endpoint)
channel=$(field .channel)
chaincode_name=$(field .chaincode.name)
chaincode_label=$(field .chaincode.label)
package_id=$(field .chaincode.packageId)
ccaas_address=$(field .chaincode.address)
orderer=$(field .orderer.endpoint)
bootstrap=$(field .gossipBootstrap.endpoint)
listen_port="${listen##*:}"
listen_host="${listen%:*}"
cc_listen="${cc_listen:-$listen_host:$((listen_port + 1))}"
ops_listen="${ops_listen:-$listen_host:$((listen_port + 2))}"

# The node directory in cryptogen's layout. The local MSP lists the peer's own certificate as its
# administrator, with node OUs off: it is the operator's MSP, for channel join and chaincode install.
node="$state_dir/node"
mkdir -p "$node/msp/signcerts" "$node/msp/keystore" "$node/msp/cacerts" "$node/msp/tlscacerts" "$node/msp/admincerts" "$node/tls"
field .certificates.sign >"$node/msp/signcerts/peer.pem"
cp "$node/msp/signcerts/peer.pem" "$node/msp/admincerts/peer.pem"
field .caCertificate >"$node/msp/cacerts/ca.pem"
field .tlsCaCertificate >"$node/msp/tlscacerts/tlsca.pem"
field .tlsCaCertificate >"$node/tls/ca.crt"
field .certificates.tls >"$node/tls/server.crt"
field .orderer.tlsCaCertificate >"$state_dir/orderer-tls-ca.pem"
install -m 0600 "$sign_key" "$node/msp/keystore/key.pem"
install -m 0600 "$tls_key" "$node/tls/server.key"
same_key() { [ "$(openssl x509 -noout -pubkey -in "$1")" = "$(openssl pkey -pubout -in "$2")" ]; }
same_key "$node/msp/signcerts/peer.pem" "$sign_key" || { log "--key is not the key of the bundle's signing certificate"; exit 1; }
same_key "$node/tls/server.crt" "$tls_key" || { log "--tls-key is not the key of the bundle's TLS certificate"; exit 1; }

bin=$("$network_dir/fabric-bin.sh")
cp "$bin/sampleconfig/core.yaml" "$config_dir/"
orderer_flags=(-o "$orderer" --tls --cafile "$state_dir/orderer-tls-ca.pem")
orderer_alias=$(jq -r '.orderer.hostAlias // empty' "$bundle")
[ -n "$orderer_alias" ] && orderer_flags+=(--ordererTLSHostnameOverride "$orderer_alias")
cli_msp_id="$msp_id"
cli_tls_ca="$node/tls/ca.crt"
started=$(date +%s)

log "peer $peer_id: listening on $listen, advertised as $endpoint"
mapfile -t node_env < <(peer_env "$peer_id" "$msp_id" "$node" "$listen" "$endpoint" "$cc_listen" "$ops_listen" "$bootstrap" "$state_dir/ledger")
start_process peer env "${node_env[@]}" "$bin/peer" node start
start_watchdog
local_peer="127.0.0.1:$listen_port"
[ "$listen_host" = 0.0.0.0 ] || local_peer="$listen"
wait_for_port peer "$listen_port"
cli_host_alias="${endpoint%:*}"
join_and_install "$node" "$local_peer" "$state_dir/channel/oldest.block"

# Caught up: the height the bootstrap peer reports (asked as this peer: a channel reader).
cli_host_alias=$(jq -r '.gossipBootstrap.hostAlias // empty' "$bundle")
target=$(channel_height "$node" "$bootstrap")
cli_host_alias="${endpoint%:*}"
if [ -n "$target" ]; then
  log "catching up to block height $target"
  wait_caught_up "$node" "$local_peer" "$target"
fi
cat >"$state_dir/env" <<EOF
PEER_ID=$peer_id
PEER_ENDPOINT=$endpoint
PEER_LISTEN=$listen
PEER_OPERATIONS=$ops_listen
PEER_HEIGHT=$(channel_height "$node" "$local_peer")
EOF
log "peer $peer_id joined $channel in $(($(date +%s) - started)) s; stop it with: $network_dir/down.sh $state_dir"
cat "$state_dir/env"
