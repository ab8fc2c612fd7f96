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
#     FABRIC_ORDERER_CLUSTER_PORT = base + 10 with three orderers (their Raft traffic, mutual TLS),
#                                  else the orderer port (one listener for clients and cluster)
#     FABRIC_ORDERER<N>_PORT, _ADMIN_PORT, _OPS_PORT, _CLUSTER_PORT (N = 1, 2; three orderers only)
#                                = base + 11 .. 14 (orderer1), base + 15 .. 18 (orderer2)
#   FABRIC_ORDERERS       Raft orderers: 1 (default) or 3; with 3 the channel's consenters are all
#                         three, so it keeps ordering while any one of them is down
#   FABRIC_ORDERER<N>_HOST  host orderer N (1, 2) advertises and its certificates carry
#                         (default: the host orderer0 advertises)
#   FABRIC_CHANNEL        channel name (default chainfaas)
#   FABRIC_CHAINCODE      chaincode name (default chainfaas)
#   FABRIC_BATCH_TIMEOUT  how long the orderer waits to fill a block (default 50ms: it only bounds
#                         the wait when fewer lanes than MaxMessageCount have a transaction in flight)
#   FABRIC_MAX_MESSAGE_COUNT  transactions that cut a block at once (default 8, the ledger writer's
#                         default lanes: LEDGER_WRITER_LANES_DEFAULT); set it to the number of
#                         transactions the writer keeps in flight (its lanes), so a block is cut as
#                         soon as every lane has submitted instead of when the timer fires
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
orderer_count="${FABRIC_ORDERERS:-1}"
case "$orderer_count" in 1 | 3) ;; *)
  echo "fabric: FABRIC_ORDERERS must be 1 or 3, got $orderer_count" >&2
  exit 2
  ;;
esac
if [ "$orderer_count" = 1 ]; then
  orderer_cluster_port="${FABRIC_ORDERER_CLUSTER_PORT:-$orderer_port}"
else
  orderer_cluster_port="${FABRIC_ORDERER_CLUSTER_PORT:-$((base_port + 10))}"
fi
channel="${FABRIC_CHANNEL:-chainfaas}"
chaincode_name="${FABRIC_CHAINCODE:-chainfaas}"
chaincode_label="${chaincode_name}_1.0"
batch_timeout="${FABRIC_BATCH_TIMEOUT:-50ms}"
max_message_count="${FABRIC_MAX_MESSAGE_COUNT:-8}"
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

# orderer_ports N HOST: sets o_name, o_host, o_port, o_admin_port, o_ops_port, o_cluster_port,
# o_node (its cryptogen directory) and o_data (its ledger) for orderer N (0, 1 or 2); HOST is what
# orderer0 advertises (orderers 1 and 2 default to it).
orderer_ports() {
  local n="$1" v
  o_name="orderer$n"
  [ "$n" = 0 ] && o_name=orderer
  o_node="$orderer_org/orderers/orderer$n.$orderer_domain"
  if [ "$n" = 0 ]; then
    o_host="$2" o_port="$orderer_port" o_admin_port="$orderer_admin_port" o_ops_port="$orderer_ops_port"
    o_cluster_port="$orderer_cluster_port" o_data="$state_dir/orderer"
    return
  fi
  local first=$((base_port + 11 + 4 * (n - 1)))
  v="FABRIC_ORDERER${n}_HOST" && o_host="${!v:-$2}"
  v="FABRIC_ORDERER${n}_PORT" && o_port="${!v:-$first}"
  v="FABRIC_ORDERER${n}_ADMIN_PORT" && o_admin_port="${!v:-$((first + 1))}"
  v="FABRIC_ORDERER${n}_OPS_PORT" && o_ops_port="${!v:-$((first + 2))}"
  v="FABRIC_ORDERER${n}_CLUSTER_PORT" && o_cluster_port="${!v:-$((first + 3))}"
  o_data="$state_dir/orderer$n"
}

# The channel's configtx.yaml (configtxgen's input), with HOST as the address the orderer and the
# anchor peer advertise: configtx_yaml HOST (up.sh: 127.0.0.1; aws-node.sh: the node's DNS name).
# Every orderer (FABRIC_ORDERERS) is an orderer endpoint and a Raft consenter.
configtx_yaml() {
  local host="$1" n endpoints='' consenters=''
  for n in $(seq 0 $((orderer_count - 1))); do
    orderer_ports "$n" "$host"
    endpoints+="      - $o_host:$o_port"$'\n'
    consenters+="      - Host: $o_host"$'\n'"        Port: $o_cluster_port"$'\n'
    consenters+="        ClientTLSCert: $o_node/tls/server.crt"$'\n'"        ServerTLSCert: $o_node/tls/server.crt"$'\n'
  done
  cat <<EOF
Organizations:
  - &OrdererOrg
    Name: $orderer_msp
    ID: $orderer_msp
    MSPDir: $orderer_org/msp
    Policies:
      Readers: { Type: Signature, Rule: "OR('$orderer_msp.member')" }
      Writers: { Type: Signature, Rule: "OR('$orderer_msp.member')" }
      Admins: { Type: Signature, Rule: "OR('$orderer_msp.admin')" }
    OrdererEndpoints:
${endpoints%$'\n'}
  - &PeerOrg
    Name: $peer_msp
    ID: $peer_msp
    MSPDir: $peer_org/msp
    Policies:
      Readers: { Type: Signature, Rule: "OR('$peer_msp.admin', '$peer_msp.peer', '$peer_msp.client')" }
      Writers: { Type: Signature, Rule: "OR('$peer_msp.admin', '$peer_msp.client')" }
      Admins: { Type: Signature, Rule: "OR('$peer_msp.admin')" }
      Endorsement: { Type: Signature, Rule: "OR('$peer_msp.peer')" }
    AnchorPeers:
      - Host: $host
        Port: $peer_port

Capabilities:
  Channel: &ChannelCapabilities { V2_0: true }
  Orderer: &OrdererCapabilities { V2_0: true }
  Application: &ApplicationCapabilities { V2_5: true }

Application: &ApplicationDefaults
  Organizations:
  Policies:
    LifecycleEndorsement: { Type: ImplicitMeta, Rule: "MAJORITY Endorsement" }
    Endorsement: { Type: ImplicitMeta, Rule: "MAJORITY Endorsement" }
    Readers: { Type: ImplicitMeta, Rule: "ANY Readers" }
    Writers: { Type: ImplicitMeta, Rule: "ANY Writers" }
    Admins: { Type: ImplicitMeta, Rule: "MAJORITY Admins" }
  Capabilities: *ApplicationCapabilities

Orderer: &OrdererDefaults
  OrdererType: etcdraft
  BatchTimeout: $batch_timeout
  BatchSize:
    MaxMessageCount: $max_message_count
    AbsoluteMaxBytes: 10 MB
    PreferredMaxBytes: 2 MB
  EtcdRaft:
    Consenters:
${consenters%$'\n'}
    Options:
      TickInterval: 500ms
      ElectionTick: 10
      HeartbeatTick: 1
      MaxInflightBlocks: 5
      SnapshotIntervalSize: 16 MB
  Organizations:
  Policies:
    Readers: { Type: ImplicitMeta, Rule: "ANY Readers" }
    Writers: { Type: ImplicitMeta, Rule: "ANY Writers" }
    Admins: { Type: ImplicitMeta, Rule: "MAJORITY Admins" }
    BlockValidation: { Type: ImplicitMeta, Rule: "ANY Writers" }
  Capabilities: *OrdererCapabilities

Channel: &ChannelDefaults
  Policies:
    Readers: { Type: ImplicitMeta, Rule: "ANY Readers" }
    Writers: { Type: ImplicitMeta, Rule: "ANY Writers" }
    Admins: { Type: ImplicitMeta, Rule: "MAJORITY Admins" }
  Capabilities: *ChannelCapabilities

Profiles:
  ChainFaaSChannel:
    <<: *ChannelDefaults
    Orderer:
      <<: *OrdererDefaults
      Organizations: [*OrdererOrg]
    Application:
      <<: *ApplicationDefaults
      Organizations: [*PeerOrg]
EOF
}

# Environment of orderer N (VAR=value lines), listening on LISTEN: orderer_node_env LISTEN [N]
# (N defaults to 0). With a cluster port of its own, Raft traffic has its own listener.
orderer_node_env() {
  orderer_ports "${2:-0}" 127.0.0.1
  cat <<EOF
FABRIC_CFG_PATH=$config_dir
FABRIC_LOGGING_SPEC=$log_spec
ORDERER_GENERAL_LISTENADDRESS=$1
ORDERER_GENERAL_LISTENPORT=$o_port
ORDERER_GENERAL_LOCALMSPID=$orderer_msp
ORDERER_GENERAL_LOCALMSPDIR=$o_node/msp
ORDERER_GENERAL_TLS_ENABLED=true
ORDERER_GENERAL_TLS_PRIVATEKEY=$o_node/tls/server.key
ORDERER_GENERAL_TLS_CERTIFICATE=$o_node/tls/server.crt
ORDERER_GENERAL_TLS_ROOTCAS=[$o_node/tls/ca.crt]
ORDERER_GENERAL_CLUSTER_CLIENTCERTIFICATE=$o_node/tls/server.crt
ORDERER_GENERAL_CLUSTER_CLIENTPRIVATEKEY=$o_node/tls/server.key
ORDERER_GENERAL_CLUSTER_ROOTCAS=[$o_node/tls/ca.crt]
ORDERER_GENERAL_BOOTSTRAPMETHOD=none
ORDERER_CHANNELPARTICIPATION_ENABLED=true
ORDERER_ADMIN_LISTENADDRESS=127.0.0.1:$o_admin_port
ORDERER_ADMIN_TLS_ENABLED=true
ORDERER_ADMIN_TLS_PRIVATEKEY=$o_node/tls/server.key
ORDERER_ADMIN_TLS_CERTIFICATE=$o_node/tls/server.crt
ORDERER_ADMIN_TLS_CLIENTAUTHREQUIRED=true
ORDERER_ADMIN_TLS_CLIENTROOTCAS=[$orderer_tls_ca]
ORDERER_OPERATIONS_LISTENADDRESS=127.0.0.1:$o_ops_port
ORDERER_FILELEDGER_LOCATION=$o_data
ORDERER_CONSENSUS_WALDIR=$o_data/etcdraft/wal
ORDERER_CONSENSUS_SNAPDIR=$o_data/etcdraft/snapshot
EOF
  if [ "$o_cluster_port" != "$o_port" ]; then
    cat <<EOF
ORDERER_GENERAL_CLUSTER_LISTENADDRESS=$1
ORDERER_GENERAL_CLUSTER_LISTENPORT=$o_cluster_port
ORDERER_GENERAL_CLUSTER_SERVERCERTIFICATE=$o_node/tls/server.crt
ORDERER_GENERAL_CLUSTER_SERVERPRIVATEKEY=$o_node/tls/server.key
EOF
  fi
}

# osnadmin channel ARGS... against orderer N's admin endpoint: osn_admin_at N ARGS... ($bin set).
osn_admin_at() {
  orderer_ports "$1" 127.0.0.1
  shift
  "${bin:?}/osnadmin" channel "$@" -o "127.0.0.1:$o_admin_port" --ca-file "$orderer_tls_ca" \
    --client-cert "$orderer_admin/tls/client.crt" --client-key "$orderer_admin/tls/client.key"
}

# Starts orderer N (0, 1, 2) of a local network (process `orderer`, `orderer1`, `orderer2`) with
# the environment up.sh wrote to $config_dir/<process>.env (its ports included), and waits for
# its admin and client ports.
start_orderer() {
  local name=orderer lines
  [ "$1" = 0 ] || name="orderer$1"
  mapfile -t lines <"$config_dir/$name.env"
  start_process "$name" env "${lines[@]}" "$bin/orderer"
  local admin port
  admin=$(sed -n 's/^ORDERER_ADMIN_LISTENADDRESS=.*://p' "$config_dir/$name.env")
  port=$(sed -n 's/^ORDERER_GENERAL_LISTENPORT=//p' "$config_dir/$name.env")
  wait_for_port "$name" "$admin"
  wait_for_port "$name" "$port"
}

# Environment of a peer node of this network (cryptogen's material in $peer_org):
# peer_node_env NAME PORT CC_PORT OPS_PORT (prints VAR=value lines).
peer_node_env() {
  local name="$1" port="$2" cc_port="$3" ops_port="$4"
  local node="$peer_org/peers/$name.$peer_domain"
  peer_env "$name.$peer_domain" "$peer_msp" "$node" "127.0.0.1:$port" "127.0.0.1:$port" "127.0.0.1:$cc_port" \
    "127.0.0.1:$ops_port" "127.0.0.1:$peer_port" "$state_dir/$name"
}

# Environment of any peer: peer_env ID MSP_ID NODE_DIR LISTEN ADVERTISED CC_LISTEN OPS_LISTEN BOOTSTRAP DATA_DIR
# NODE_DIR holds msp/ and tls/{server.crt,server.key,ca.crt} (cryptogen's layout; join-peer.sh
# --bundle writes the same). ADVERTISED is the endpoint other peers and clients dial; BOOTSTRAP the
# gossip bootstrap peer.
peer_env() {
  local id="$1" msp_id="$2" node="$3" listen="$4" advertised="$5" cc_listen="$6" ops_listen="$7" bootstrap="$8" data="$9"
  cat <<EOF
FABRIC_CFG_PATH=$config_dir
FABRIC_LOGGING_SPEC=$log_spec
CORE_PEER_ID=$id
CORE_PEER_NETWORKID=chainfaas
CORE_PEER_LISTENADDRESS=$listen
CORE_PEER_ADDRESS=$advertised
CORE_PEER_CHAINCODELISTENADDRESS=$cc_listen
CORE_PEER_CHAINCODEADDRESS=$cc_listen
CORE_PEER_GOSSIP_BOOTSTRAP=$bootstrap
CORE_PEER_GOSSIP_EXTERNALENDPOINT=$advertised
CORE_PEER_GOSSIP_USELEADERELECTION=false
CORE_PEER_GOSSIP_ORGLEADER=true
CORE_PEER_LOCALMSPID=$msp_id
CORE_PEER_MSPCONFIGPATH=$node/msp
CORE_PEER_TLS_ENABLED=true
CORE_PEER_TLS_CERT_FILE=$node/tls/server.crt
CORE_PEER_TLS_KEY_FILE=$node/tls/server.key
CORE_PEER_TLS_ROOTCERT_FILE=$node/tls/ca.crt
CORE_PEER_FILESYSTEMPATH=$data
CORE_LEDGER_SNAPSHOTS_ROOTDIR=$data/snapshots
CORE_OPERATIONS_LISTENADDRESS=$ops_listen
CORE_VM_ENDPOINT=
CORE_CHAINCODE_EXTERNALBUILDERS=[{name: chainfaas-ccaas, path: $network_dir/ccaas-builder}]
EOF
}

# Runs the peer CLI ($bin/peer: the caller sets bin from fabric-bin.sh) as an identity of the
# peer org against one peer: peer_cli USER_DIR PEER ARGS... (PEER: a port on 127.0.0.1, or host:port).
# USER_DIR holds msp/ (and tls/client.* when it has them). cli_msp_id, cli_tls_ca and cli_host_alias
# override the MSP id, the peers' TLS CA and the TLS server name (join-peer.sh --bundle sets them).
peer_cli() {
  local user="$1" address="$2"
  shift 2
  [[ "$address" == *:* ]] || address="127.0.0.1:$address"
  env FABRIC_CFG_PATH="$config_dir" FABRIC_LOGGING_SPEC=warning \
    CORE_PEER_LOCALMSPID="${cli_msp_id:-$peer_msp}" CORE_PEER_MSPCONFIGPATH="$user/msp" \
    CORE_PEER_ADDRESS="$address" CORE_PEER_TLS_ENABLED=true CORE_PEER_TLS_ROOTCERT_FILE="${cli_tls_ca:-$peer_tls_ca}" \
    ${cli_host_alias:+CORE_PEER_TLS_SERVERHOSTOVERRIDE="$cli_host_alias"} \
    CORE_PEER_TLS_CLIENTCERT_FILE="$user/tls/client.crt" CORE_PEER_TLS_CLIENTKEY_FILE="$user/tls/client.key" \
    "${bin:?}/peer" "$@"
}

# ---- the chaincode's definition (up.sh, aws-node.sh, upgrade-chaincode.sh; peer_cli as the peer
# org's admin against $peer_port, the orderer from set_orderer_flags)

# The label of the package for definition sequence SEQ: chaincode_label_for SEQ (1: chaincode_label).
chaincode_label_for() { echo "${chaincode_name}_$1.0"; }

# The sequence of the channel's committed definition of the chaincode, or nothing if none is.
committed_sequence() {
  local out
  out=$(peer_cli "$peer_admin" "$peer_port" lifecycle chaincode querycommitted -C "$channel" -n "$chaincode_name" --output json 2>/dev/null) || return 0
  sed -n 's/.*"sequence": *\([0-9]*\).*/\1/p' <<<"$out" | head -1
}

# install_package TGZ PACKAGE_ID: installs the package on the peer unless it has it; fails if the
# peer names it otherwise.
install_package() {
  local installed
  installed=$(peer_cli "$peer_admin" "$peer_port" lifecycle chaincode queryinstalled --output json 2>/dev/null) || installed=''
  grep -qF "\"$2\"" <<<"$installed" && return 0
  peer_cli "$peer_admin" "$peer_port" lifecycle chaincode install "$1" >&2 || true
  installed=$(peer_cli "$peer_admin" "$peer_port" lifecycle chaincode queryinstalled --output json 2>/dev/null) || installed=''
  grep -qF "\"$2\"" <<<"$installed" || { log "the peer did not install $2: $installed"; return 1; }
}

# ordered COMMAND...: a peer CLI transaction, tried again each second (`ordered_tries` times, default
# 120) while the channel has no Raft leader yet: the channel participation API says "active" as soon
# as an orderer joins, but three orderers elect a leader only once a majority of them runs and
# talks. Any other failure returns at once. The command's output goes to stderr.
ordered() {
  local out i
  for i in $(seq 1 "${ordered_tries:-120}"); do
    if out=$("$@" 2>&1); then
      printf '%s\n' "$out" >&2
      return 0
    fi
    grep -qE 'no Raft leader|SERVICE_UNAVAILABLE' <<<"$out" || break
    sleep 1
  done
  printf '%s\n' "$out" >&2
  return 1
}

# commit_definition SEQ PACKAGE_ID: approves the definition at sequence SEQ (version SEQ.0) for the
# org unless it has, then commits it. Safe to run again after a crash between the two.
commit_definition() {
  local definition=(--channelID "$channel" --name "$chaincode_name" --version "$1.0" --sequence "$1") ready
  ready=$(peer_cli "$peer_admin" "$peer_port" lifecycle chaincode checkcommitreadiness "${definition[@]}" --output json 2>/dev/null) || ready=''
  if ! grep -qF "\"$peer_msp\": true" <<<"$ready"; then
    ordered peer_cli "$peer_admin" "$peer_port" lifecycle chaincode approveformyorg "${orderer_flags[@]}" "${definition[@]}" --package-id "$2"
  fi
  ordered peer_cli "$peer_admin" "$peer_port" lifecycle chaincode commit "${orderer_flags[@]}" "${definition[@]}" \
    --peerAddresses "127.0.0.1:$peer_port" --tlsRootCertFiles "$peer_tls_ca"
}

# A digest of the chaincode's code (src/, package.json, tsconfig.json under $chaincode_dir): what
# changes when a new definition is due; the CCaaS package holds no code, only an address.
chaincode_fingerprint() {
  (cd "$chaincode_dir" && find src package.json tsconfig.json -type f -print0 2>/dev/null | LC_ALL=C sort -z | xargs -0 sha256sum) | sha256sum | cut -d' ' -f1
}

# The block height of the channel on one peer (peer_cli's USER_DIR and PEER), or nothing.
channel_height() {
  peer_cli "$1" "$2" channel getinfo -c "$channel" 2>/dev/null | sed -n 's/.*"height":\([0-9]*\).*/\1/p'
}

# wait_caught_up USER_DIR PEER TARGET: until PEER's height reaches TARGET (60 s at most).
wait_caught_up() {
  local i
  for i in $(seq 1 600); do
    [ "$(channel_height "$1" "$2")" -ge "$3" ] 2>/dev/null && return 0
    sleep 0.1
  done
  : "$i"
  log "the peer at $2 did not reach block height $3 within 60 s (at $(channel_height "$1" "$2"))"
  return 1
}

# With FABRIC_WATCH_PID (a test runner's pid, say), a watchdog runs down.sh once that process is
# gone, so a killed test run leaves no Fabric processes behind (up.sh, join-peer.sh --bundle).
start_watchdog() {
  [ -n "${FABRIC_WATCH_PID:-}" ] || return 0
  # shellcheck disable=SC2016  # expanded by the watchdog's own shell
  setsid bash -c 'while kill -0 "$1" 2>/dev/null; do sleep 2; done; exec "$2/down.sh" "$3"' watchdog \
    "$FABRIC_WATCH_PID" "$network_dir" "$state_dir" >>"$logs/watchdog.log" 2>&1 </dev/null &
  echo $! >"$state_dir/watchdog"
}

orderer_flags=()
set_orderer_flags() { orderer_flags=(-o "127.0.0.1:$orderer_port" --tls --cafile "$orderer_tls_ca"); }
