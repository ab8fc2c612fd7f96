#!/usr/bin/env bash
# Starts a Fabric network for ChainFaaS on 127.0.0.1 from native binaries, without Docker:
# one Raft orderer (three with FABRIC_ORDERERS=3, all consenters of the channel) and one peer (TLS everywhere), a channel created through the orderer's channel
# participation API (no system channel), and the chaincode deployed as a service (CCaaS): packaged
# by package-ccaas.sh, installed, approved and committed with the peer CLI, run by serve.sh
# (fabric-chaincode-node server). Finally InitLedger runs as the controller (User1), which makes
# it the chaincode's controller identity.
#
# Writes <state>/env: the FABRIC_* variables createLedger/FabricLedger read (and a few more for
# tests and join-peer.sh), and prints it on stdout. Progress goes to stderr; the processes log to
# <state>/logs/. If the network in <state> is up already, only prints its env.
#
# usage: up.sh [STATE_DIR]      (settings: see lib.sh; down.sh STATE_DIR stops and removes it)
#        FABRIC_WATCH_PID=PID up.sh ...   also stops the network when process PID exits
set -euo pipefail
[ -n "${1:-}" ] && FABRIC_STATE_DIR="$1"
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
set_state_paths

if network_running && [ -f "$state_dir/env" ]; then
  log "already up in $state_dir"
  cat "$state_dir/env"
  exit 0
fi
# Only a directory up.sh made (or an empty one) is cleared: STATE may be mistyped.
if [ -n "$(ls -A "$state_dir")" ] && [ ! -f "$state_dir/$state_marker" ]; then
  log "$state_dir is not empty and was not made by up.sh; refusing to clear it"
  exit 1
fi
stop_processes
find "$state_dir" -mindepth 1 -delete
touch "$state_dir/$state_marker"
started=$(date +%s)

up_ok=0
on_exit() {
  if [ "$up_ok" != 1 ]; then
    log "start-up failed; stopping what was started (logs kept in $logs)"
    stop_processes
  fi
}
trap on_exit EXIT

bin=$("$network_dir/fabric-bin.sh")
require_free_ports "$orderer_port" "$peer_port" "$peer_cc_port" "$orderer_admin_port" "$orderer_ops_port" "$peer_ops_port" "$ccaas_port"
orderer_specs=''
for n in $(seq 0 $((orderer_count - 1))); do
  orderer_ports "$n" 127.0.0.1
  [ "$n" = 0 ] || require_free_ports "$o_port" "$o_admin_port" "$o_ops_port"
  [ "$o_cluster_port" = "$o_port" ] || require_free_ports "$o_cluster_port"
  orderer_specs+="      - Hostname: orderer$n"$'\n'"        SANS: [localhost, 127.0.0.1]"$'\n'
done

log "compiling the chaincode"
(cd "$repo_dir" && npx --no-install tsc -p chaincode/tsconfig.json)

# ------------------------------------------------------------------ crypto material
log "crypto material (cryptogen)"
mkdir -p "$config_dir" "$logs" "$pids" "$state_dir/channel"
cat >"$config_dir/crypto-config.yaml" <<EOF
OrdererOrgs:
  - Name: Orderer
    Domain: $orderer_domain
    EnableNodeOUs: true
    Specs:
${orderer_specs%$'\n'}
PeerOrgs:
  - Name: ChainFaaS
    Domain: $peer_domain
    EnableNodeOUs: true
    Template:
      Count: 2
      SANS: [localhost, 127.0.0.1]
    Users:
      Count: 2
EOF
"$bin/cryptogen" generate --config "$config_dir/crypto-config.yaml" --output "$crypto" >/dev/null

# ------------------------------------------------------------------ configuration
# core.yaml and orderer.yaml are Fabric's sampleconfig, overridden by environment variables below;
# configtx.yaml is written here (Fabric's sample shows every section; only what differs is set).
cp "$bin/sampleconfig/core.yaml" "$bin/sampleconfig/orderer.yaml" "$config_dir/"
configtx_yaml 127.0.0.1 >"$config_dir/configtx.yaml"
FABRIC_CFG_PATH="$config_dir" "$bin/configtxgen" -profile ChainFaaSChannel -channelID "$channel" \
  -outputBlock "$state_dir/channel/genesis.block" 2>"$logs/configtxgen.log"

# ------------------------------------------------------------------ orderers
# Each orderer's environment goes to config/<process>.env, so start_orderer can start it again.
for n in $(seq 0 $((orderer_count - 1))); do
  orderer_ports "$n" 127.0.0.1
  orderer_node_env 127.0.0.1 "$n" >"$config_dir/$o_name.env"
  log "$o_name on 127.0.0.1:$o_port (admin $o_admin_port, cluster $o_cluster_port)"
  start_orderer "$n"
done

log "channel $channel (osnadmin channel join, $orderer_count orderer(s))"
for n in $(seq 0 $((orderer_count - 1))); do
  osn_admin_at "$n" join --channelID "$channel" --config-block "$state_dir/channel/genesis.block" >>"$logs/osnadmin-join.log"
done

# ------------------------------------------------------------------ peer
log "peer0 on 127.0.0.1:$peer_port"
mapfile -t peer0_env < <(peer_node_env peer0 "$peer_port" "$peer_cc_port" "$peer_ops_port")
start_process peer0 env "${peer0_env[@]}" "$bin/peer" node start
wait_for_port peer0 "$peer_port"

set_orderer_flags
# The channel must be active before the peer joins it; the chaincode's transactions below also
# need a Raft leader, which `commit_definition` waits for (lib.sh#ordered).
channel_active() {
  local out
  out=$(osn_admin_at 0 list --channelID "$channel" 2>&1) || return 1
  grep -q '"status": "active"' <<<"$out"
}
for i in $(seq 1 100); do
  channel_active && break
  [ "$i" = 100 ] && { log "the orderer did not make channel $channel active"; exit 1; }
  sleep 0.2
done
peer_cli "$peer_admin" "$peer_port" channel join -b "$state_dir/channel/genesis.block" 2>>"$logs/peer-cli.log"

# ------------------------------------------------------------------ chaincode as a service
log "chaincode $chaincode_name: package, install, serve on 127.0.0.1:$ccaas_port, approve, commit"
package_id=$("$network_dir/package-ccaas.sh" "$state_dir/channel/$chaincode_label.tgz" "127.0.0.1:$ccaas_port" "$chaincode_label")
peer_cli "$peer_admin" "$peer_port" lifecycle chaincode install "$state_dir/channel/$chaincode_label.tgz" 2>>"$logs/peer-cli.log"
installed=$(peer_cli "$peer_admin" "$peer_port" lifecycle chaincode queryinstalled --output json 2>>"$logs/peer-cli.log")
if ! grep -q "\"$package_id\"" <<<"$installed"; then
  log "the peer installed the package under another id than $package_id: $installed"
  exit 1
fi
start_process chaincode "$network_dir/serve.sh" "$package_id" "127.0.0.1:$ccaas_port"
wait_for_port chaincode "$ccaas_port" 120

commit_definition 1 "$package_id" 2>>"$logs/peer-cli.log"

log "InitLedger as the controller (User1@$peer_domain)"
peer_cli "$controller_user" "$peer_port" chaincode invoke "${orderer_flags[@]}" -C "$channel" -n "$chaincode_name" \
  --peerAddresses "127.0.0.1:$peer_port" --tlsRootCertFiles "$peer_tls_ca" --waitForEvent \
  -c '{"function":"MonitoringContract:InitLedger","Args":[]}' 2>>"$logs/peer-cli.log"

# ------------------------------------------------------------------ connection settings
cat >"$state_dir/env" <<EOF
FABRIC_PEER_ENDPOINT=127.0.0.1:$peer_port
FABRIC_PEER_HOST_ALIAS=peer0.$peer_domain
FABRIC_TLS_CERT_PATH=$peer_tls_ca
FABRIC_MSP_ID=$peer_msp
FABRIC_CERT_PATH=$controller_user/msp/signcerts/User1@$peer_domain-cert.pem
FABRIC_KEY_PATH=$controller_user/msp/keystore
FABRIC_CHANNEL=$channel
FABRIC_CHAINCODE=$chaincode_name
FABRIC_OTHER_CERT_PATH=$other_user/msp/signcerts/User2@$peer_domain-cert.pem
FABRIC_OTHER_KEY_PATH=$other_user/msp/keystore
FABRIC_ORDERER_ENDPOINT=127.0.0.1:$orderer_port
FABRIC_ORDERER_TLS_CERT_PATH=$orderer_tls_ca
FABRIC_ORDERERS=$orderer_count
FABRIC_PACKAGE_ID=$package_id
FABRIC_STATE_DIR=$state_dir
FABRIC_BIN_DIR=$bin
FABRIC_CA_CERT_PATH=$peer_org/ca/ca.$peer_domain-cert.pem
FABRIC_CA_KEY_PATH=$peer_org/ca/priv_sk
FABRIC_TLS_CA_KEY_PATH=$peer_org/tlsca/priv_sk
FABRIC_CCAAS_ADDRESS=127.0.0.1:$ccaas_port
EOF
start_watchdog
up_ok=1
log "up in $(($(date +%s) - started)) s; settings in $state_dir/env; stop with down.sh $state_dir"
cat "$state_dir/env"
