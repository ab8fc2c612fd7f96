# shellcheck shell=bash disable=SC2034  # sourced: the variables are used by the scripts that source it
# Shared settings and helpers of up.sh, down.sh and join-peer.sh (sourced, not run).
#
# Settings (environment):
#   FABRIC_STATE_DIR      where the network keeps crypto material, ledgers, logs, pids, env
#                         (default <repo>/.chainfaas/fabric; up.sh/down.sh also take it as $1)
#   FABRIC_BASE_PORT      first of the ports below (default 7050); each can be set on its own:
#     FABRIC_ORDERER_PORT        = base      orderer: clients and Raft cluster traffic (TLS)
#     FABRIC_PEER_PORT           = base + 1  peer0: endorser, gateway, deliver, gossip (TLS)
#     FABRIC_PEER_CC_PORT        = base + 2  peer0: chaincode listener (unused by CCaaS, but bound)
#     FABRIC_ORDERER_ADMIN_PORT  = base + 3  orderer: channel participation API (mutual TLS)
#     FABRIC_ORDERER_OPS_PORT    = base + 4  orderer: operations (/healthz)
#     FABRIC_PEER_OPS_PORT       = base + 5  peer0: operations (/healthz)
#     FABRIC_CCAAS_PORT          = base + 6  the chaincode service the peers dial
#     FABRIC_PEER1_PORT          = base + 7  peer1 (join-peer.sh)
#     FABRIC_PEER1_CC_PORT       = base + 8
#     FABRIC_PEER1_OPS_PORT      = base + 9
#   FABRIC_CHANNEL        channel name (default chainfaas)
#   FABRIC_CHAINCODE      chaincode name (default chainfaas)
#   FABRIC_BATCH_TIMEOUT  how long the orderer waits to fill a block (default 250ms)
#   FABRIC_LOG_SPEC       FABRIC_LOGGING_SPEC of the orderer and peers (default info)

network_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
chaincode_dir=$(dirname "$network_dir")
repo_dir=$(dirname "$chaincode_dir")

state_dir="${FABRIC_STATE_DIR:-$repo_dir/.chainfaas/fabric}"
base_port="${FABRIC_BASE_PORT:-7050}"
orderer_port="${FABRIC_ORDERER_PORT:-$base_port}"
peer_port="${FABRIC_PEER_PORT:-$((base_port + 1))}"
peer_cc_port="${FABRIC_PEER_CC_PORT:-$((base_port + 2))}"
orderer_admin_port="${FABRIC_ORDERER_ADMIN_PORT:-$((base_port + 3))}"
orderer_ops_port="${FABRIC_ORDERER_OPS_PORT:-$((base_port + 4))}"
peer_ops_port="${FABRIC_PEER_OPS_PORT:-$((base_port + 5))}"
ccaas_port="${FABRIC_CCAAS_PORT:-$((base_port + 6))}"
peer1_port="${FABRIC_PEER1_PORT:-$((base_port + 7))}"
peer1_cc_port="${FABRIC_PEER1_CC_PORT:-$((base_port + 8))}"
peer1_ops_port="${FABRIC_PEER1_OPS_PORT:-$((base_port + 9))}"
channel="${FABRIC_CHANNEL:-chainfaas}"
chaincode_name="${FABRIC_CHAINCODE:-chainfaas}"
chaincode_label="${chaincode_name}_1.0"
batch_timeout="${FABRIC_BATCH_TIMEOUT:-250ms}"
log_spec="${FABRIC_LOG_SPEC:-info}"

# up.sh marks its state directory, so that neither it nor down.sh ever clears another directory.
state_marker=.chainfaas-fabric-state
orderer_domain=orderer.chainfaas.local
peer_domain=chainfaas.local
orderer_msp=OrdererMSP
peer_msp=ChainFaaSMSP

# Absolute state paths (the peer and orderer resolve relative paths against their config dir).
set_state_paths() {
  mkdir -p "$state_dir"
  state_dir=$(cd "$state_dir" && pwd)
  crypto="$state_dir/crypto"
  orderer_org="$crypto/ordererOrganizations/$orderer_domain"
  orderer_node="$orderer_org/orderers/orderer0.$orderer_domain"
  orderer_admin="$orderer_org/users/Admin@$orderer_domain"
  peer_org="$crypto/peerOrganizations/$peer_domain"
  peer_admin="$peer_org/users/Admin@$peer_domain"
  controller_user="$peer_org/users/User1@$peer_domain"
  other_user="$peer_org/users/User2@$peer_domain"
  orderer_tls_ca="$orderer_org/tlsca/tlsca.$orderer_domain-cert.pem"
  peer_tls_ca="$peer_org/tlsca/tlsca.$peer_domain-cert.pem"
  config_dir="$state_dir/config"
  logs="$state_dir/logs"
  pids="$state_dir/pids"
}

log() { echo "fabric: $*" >&2; }

# Starts a long-running process in its own process group, output to $logs/NAME.log, pid in
# $pids/NAME (the group leader's, so down.sh can stop the whole group).
start_process() {
  local name="$1"
  shift
  mkdir -p "$logs" "$pids"
  setsid "$@" >"$logs/$name.log" 2>&1 </dev/null &
  echo $! >"$pids/$name"
}

# Stops every process group recorded under $pids (TERM, then KILL after 5 s).
stop_processes() {
  [ -d "$pids" ] || return 0
  local file pid alive waited
  for file in "$pids"/*; do
    [ -f "$file" ] || continue
    pid=$(cat "$file")
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  done
  for waited in $(seq 1 50); do
    alive=0
    for file in "$pids"/*; do
      [ -f "$file" ] || continue
      pid=$(cat "$file")
      if kill -0 -- "-$pid" 2>/dev/null; then alive=1; fi
    done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for file in "$pids"/*; do
    [ -f "$file" ] || continue
    pid=$(cat "$file")
    kill -KILL -- "-$pid" 2>/dev/null || true
    rm -f "$file"
  done
  : "$waited"
}

# True while some process recorded under $pids runs.
network_running() {
  [ -d "$pids" ] || return 1
  local file
  for file in "$pids"/*; do
    [ -f "$file" ] || continue
    if kill -0 -- "-$(cat "$file")" 2>/dev/null; then return 0; fi
  done
  return 1
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_for_port NAME PORT [SECONDS]: fails, showing the process's log, if nothing listens in time
# or the process died.
wait_for_port() {
  local name="$1" port="$2" limit="${3:-60}" i
  for i in $(seq 1 $((limit * 10))); do
    port_open "$port" && return 0
    if [ -f "$pids/$name" ] && ! kill -0 "$(cat "$pids/$name")" 2>/dev/null; then
      log "$name exited; the end of $logs/$name.log:"
      tail -n 30 "$logs/$name.log" >&2
      return 1
    fi
    sleep 0.1
  done
  : "$i"
  log "$name did not listen on 127.0.0.1:$port within $limit s; the end of $logs/$name.log:"
  tail -n 30 "$logs/$name.log" >&2
  return 1
}

# Fails if a port some component needs is taken already.
require_free_ports() {
  local port
  for port in "$@"; do
    if port_open "$port"; then
      log "port $port on 127.0.0.1 is in use (set FABRIC_BASE_PORT or the FABRIC_*_PORT variables)"
      return 1
    fi
  done
}

# Environment of a peer node: peer_node_env NAME PORT CC_PORT OPS_PORT (prints VAR=value lines).
peer_node_env() {
  local name="$1" port="$2" cc_port="$3" ops_port="$4"
  local node="$peer_org/peers/$name.$peer_domain"
  cat <<EOF
FABRIC_CFG_PATH=$config_dir
FABRIC_LOGGING_SPEC=$log_spec
CORE_PEER_ID=$name.$peer_domain
CORE_PEER_NETWORKID=chainfaas
CORE_PEER_LISTENADDRESS=127.0.0.1:$port
CORE_PEER_ADDRESS=127.0.0.1:$port
CORE_PEER_CHAINCODELISTENADDRESS=127.0.0.1:$cc_port
CORE_PEER_CHAINCODEADDRESS=127.0.0.1:$cc_port
CORE_PEER_GOSSIP_BOOTSTRAP=127.0.0.1:$peer_port
CORE_PEER_GOSSIP_EXTERNALENDPOINT=127.0.0.1:$port
CORE_PEER_GOSSIP_USELEADERELECTION=false
CORE_PEER_GOSSIP_ORGLEADER=true
CORE_PEER_LOCALMSPID=$peer_msp
CORE_PEER_MSPCONFIGPATH=$node/msp
CORE_PEER_TLS_ENABLED=true
CORE_PEER_TLS_CERT_FILE=$node/tls/server.crt
CORE_PEER_TLS_KEY_FILE=$node/tls/server.key
CORE_PEER_TLS_ROOTCERT_FILE=$node/tls/ca.crt
CORE_PEER_FILESYSTEMPATH=$state_dir/$name
CORE_LEDGER_SNAPSHOTS_ROOTDIR=$state_dir/$name/snapshots
CORE_OPERATIONS_LISTENADDRESS=127.0.0.1:$ops_port
CORE_VM_ENDPOINT=
CORE_CHAINCODE_EXTERNALBUILDERS=[{name: chainfaas-ccaas, path: $network_dir/ccaas-builder}]
EOF
}

# Runs the peer CLI ($bin/peer: the caller sets bin from fabric-bin.sh) as an identity of the
# peer org against one peer: peer_cli USER_DIR PEER_PORT ARGS...
peer_cli() {
  local user="$1" port="$2"
  shift 2
  env FABRIC_CFG_PATH="$config_dir" FABRIC_LOGGING_SPEC=warning \
    CORE_PEER_LOCALMSPID="$peer_msp" CORE_PEER_MSPCONFIGPATH="$user/msp" \
    CORE_PEER_ADDRESS="127.0.0.1:$port" CORE_PEER_TLS_ENABLED=true CORE_PEER_TLS_ROOTCERT_FILE="$peer_tls_ca" \
    CORE_PEER_TLS_CLIENTCERT_FILE="$user/tls/client.crt" CORE_PEER_TLS_CLIENTKEY_FILE="$user/tls/client.key" \
    "${bin:?}/peer" "$@"
}

orderer_flags=()
set_orderer_flags() { orderer_flags=(-o "127.0.0.1:$orderer_port" --tls --cafile "$orderer_tls_ca"); }
