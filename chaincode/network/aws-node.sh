#!/usr/bin/env bash
# The Fabric node of the CDK FabricNetwork construct (lib/constructs/fabric-network.ts): its default
# start command, run as root from the unpacked repository asset on the instance's first boot, and
# safe to run again. It starts the network up.sh starts — one Raft orderer, peer0, the chaincode as
# a service (CCaaS), a channel made through channel participation, InitLedger as User1 — from the
# same pieces (lib.sh's settings and helpers, fabric-bin.sh, package-ccaas.sh, serve.sh, the ccaas
# builder), with what up.sh cannot give a node in a VPC:
#
# - the peer and the orderer listen on FABRIC_LISTEN_ADDRESS and advertise FABRIC_PEER_HOST (the
#   instance's private DNS name), which every TLS certificate carries, so the Lambdas in the VPC
#   reach the peer by that name; admin, operations and chaincode ports stay on 127.0.0.1;
# - the orderer, the peer and the chaincode service are enabled systemd units, so they come back
#   after a reboot; they run as an unprivileged user and log to the journal
#   (journalctl -u chainfaas-peer0);
# - state is never wiped: each step looks at what is there (crypto material, genesis block, channel
#   membership, chaincode install / approval / commit, the recorded controller) and does the rest;
# - a run whose chaincode code differs from what the committed definition was recorded with
#   upgrades it: the next sequence, approved and committed (lib.sh's commit_definition, as
#   upgrade-chaincode.sh), the service restarted under the new package id; state is kept.
#
# Contract (exported by the construct's user data; see FabricNetworkProps.startCommand):
#   FABRIC_LISTEN_ADDRESS    must be 0.0.0.0 (the admin CLI below reaches the peer on 127.0.0.1)
#   FABRIC_PEER_HOST         name the Lambdas dial; in every TLS certificate (required)
#   FABRIC_PEER_PORT, FABRIC_ORDERER_PORT, FABRIC_CHANNEL, FABRIC_CHAINCODE (lib.sh's defaults otherwise)
#   CHAINFAAS_DATA_DIR       persistent state: binaries, crypto material, ledgers, configuration (required)
#   CHAINFAAS_IDENTITY_DIR   receives the controller's client identity: msp-id, cert.pem, key.pem
#                            (PKCS#8), tls-ca.pem (required; the construct copies it to Secrets Manager)
# Optional:
#   FABRIC_BIN_DIR           prebuilt binaries (peer orderer configtxgen cryptogen osnadmin, sampleconfig/)
#                            to use instead of building them with fabric-bin.sh from the Go module proxy
#   FABRIC_EXTRA_SANS        more host names or IP addresses for the TLS certificates, comma-separated
#   CHAINFAAS_SYSTEMD_DIR    where the units go (default /etc/systemd/system)
#   CHAINFAAS_SERVICE_USER   who runs the services (default chainfaas, created as a system user)
# Exits 0 only once the peer answers a chaincode query on FABRIC_PEER_HOST:FABRIC_PEER_PORT over TLS
# (name, binding and certificate all checked) and the chaincode names User1 as its controller.
# Writes <data>/network/env (the FABRIC_* settings, as up.sh does) and prints it.
#
# Three Raft orderers (FABRIC_ORDERERS=3, lib.sh): this node runs orderer0 and the peer; orderers 1
# and 2 run on hosts of their own, as `aws-node.sh --orderer N`. The node then also needs
#   FABRIC_ORDERER1_HOST, FABRIC_ORDERER2_HOST   the names the other orderers advertise (and their
#                            certificates carry); their ports as lib.sh reads them
# and writes, besides the identity, CHAINFAAS_IDENTITY_DIR/orderers/orderer<N>.b64: orderer N's
# material (its MSP and TLS key pair, the orderer admin's TLS client pair for osnadmin on its host,
# the genesis block), a base64 tar.gz that the construct hands to host N through a secret only
# that host reads. An orderer host takes it from CHAINFAAS_ORDERER_BUNDLE (that file), starts its
# orderer as a unit, joins the channel and exits 0 once the orderer lists the channel.
#
# usage: aws-node.sh [--dry-run]              start or resume the node (as root, or as CHAINFAAS_SERVICE_USER)
#        aws-node.sh --orderer N [--dry-run]  start or resume orderer N (1, 2) on its own host
#   --dry-run    write the configuration, environment files and units; start nothing
set -euo pipefail
dry_run=0
orderer_index=0
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) dry_run=1 && shift ;;
    --orderer)
      [[ "${2:-}" =~ ^[12]$ ]] || { echo "aws-node: --orderer takes 1 or 2" >&2; exit 2; }
      orderer_index="$2" && shift 2
      ;;
    *)
      echo "usage: aws-node.sh [--orderer N] [--dry-run]" >&2
      exit 2
      ;;
  esac
done

fail() {
  echo "aws-node: $*" >&2
  exit 1
}
say() { echo "aws-node: $*" >&2; }

# An orderer host has no peer: the name it stands for is its orderer's.
if [ "$orderer_index" != 0 ] && [ -z "${FABRIC_PEER_HOST:-}" ]; then
  v="FABRIC_ORDERER${orderer_index}_HOST" && FABRIC_PEER_HOST="${!v:-}"
fi
[ -n "${FABRIC_PEER_HOST:-}" ] || fail "FABRIC_PEER_HOST is not set (the name the Lambdas dial)"
[ -n "${CHAINFAAS_DATA_DIR:-}" ] || fail "CHAINFAAS_DATA_DIR is not set"
[ "$orderer_index" != 0 ] || [ -n "${CHAINFAAS_IDENTITY_DIR:-}" ] || fail "CHAINFAAS_IDENTITY_DIR is not set"
if [ "${FABRIC_ORDERERS:-1}" = 3 ]; then
  for n in 1 2; do
    v="FABRIC_ORDERER${n}_HOST"
    [[ "${!v:-}" =~ ^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$ ]] || fail "$v is not a host name (three orderers need the names orderers 1 and 2 advertise)"
  done
elif [ "$orderer_index" != 0 ]; then
  fail "--orderer $orderer_index needs FABRIC_ORDERERS=3"
fi
if [ "$orderer_index" != 0 ]; then
  [ "$dry_run" = 1 ] || [ -f "${CHAINFAAS_ORDERER_BUNDLE:-}" ] || fail "CHAINFAAS_ORDERER_BUNDLE is not a file (orderer $orderer_index's material from the node)"
fi
listen_address="${FABRIC_LISTEN_ADDRESS:-0.0.0.0}"
[ "$listen_address" = 0.0.0.0 ] || fail "FABRIC_LISTEN_ADDRESS must be 0.0.0.0, got $listen_address"
peer_host="$FABRIC_PEER_HOST"
[[ "$peer_host" =~ ^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$ ]] || fail "FABRIC_PEER_HOST $peer_host is not a host name or IPv4 address"
extra_sans=()
if [ -n "${FABRIC_EXTRA_SANS:-}" ]; then
  IFS=, read -r -a extra_sans <<<"$FABRIC_EXTRA_SANS"
  for san in "${extra_sans[@]}"; do
    [[ "$san" =~ ^[A-Za-z0-9.:-]+$ ]] || fail "FABRIC_EXTRA_SANS entry '$san' is not a host name or address"
  done
fi
systemd_dir="${CHAINFAAS_SYSTEMD_DIR:-/etc/systemd/system}"
service_user="${CHAINFAAS_SERVICE_USER:-chainfaas}"

mkdir -p "$CHAINFAAS_DATA_DIR"
data_dir=$(cd "$CHAINFAAS_DATA_DIR" && pwd)
identity_dir="${CHAINFAAS_IDENTITY_DIR:-}"
export FABRIC_STATE_DIR="$data_dir/network"
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
set_state_paths
bin="$data_dir/bin"
units=(chainfaas-orderer chainfaas-peer0 chainfaas-chaincode)
[ "$orderer_index" = 0 ] || units=(chainfaas-orderer)

# Cloud-init runs user data with a bare environment: no HOME, a short PATH.
export HOME="${HOME:-/root}"
export PATH="$PATH:/usr/local/bin:/usr/bin:/bin"

# ------------------------------------------------------------------ Node.js for the chaincode service
# Amazon Linux's versioned packages name the binaries node-24, npm-24, npx-24 unless alternatives
# point node at one of them: the units get a directory where node, npm and npx exist by those names.
node_dir() {
  if command -v node >/dev/null && command -v npx >/dev/null; then
    dirname "$(command -v node)"
    return
  fi
  local version
  for version in 24 22; do
    if command -v "node-$version" >/dev/null; then
      mkdir -p "$data_dir/node-bin"
      local tool
      for tool in node npm npx; do ln -sfn "$(command -v "$tool-$version")" "$data_dir/node-bin/$tool"; done
      echo "$data_dir/node-bin"
      return
    fi
  done
  [ "$dry_run" = 1 ] && { echo /usr/bin; return; }
  fail "no node on PATH (nor node-24 / node-22)"
}
service_path="$(node_dir):/usr/local/bin:/usr/bin:/bin"

# ------------------------------------------------------------------ rendering
# Writes stdin to FILE if its content differs; records FILE in `changed`.
changed=()
put_file() {
  local file="$1" mode="${2:-0644}" tmp
  mkdir -p "$(dirname "$file")"
  tmp=$(mktemp "$file.XXXXXX")
  cat >"$tmp"
  chmod "$mode" "$tmp"
  if [ -f "$file" ] && cmp -s "$tmp" "$file"; then
    rm -f "$tmp"
  else
    mv -f "$tmp" "$file"
    changed+=("$file")
  fi
}

# KEY=value lines on stdin -> a systemd EnvironmentFile (KEY="value"). systemd expands nothing in
# these files; values that would need escaping are refused rather than mangled.
env_file() {
  local line key value out=''
  while IFS= read -r line; do
    [ -n "$line" ] || continue
    key="${line%%=*}"
    value="${line#*=}"
    [[ "$key" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || fail "bad environment variable name in '$line'"
    case "$value" in *[\"\\\$\`]*) fail "value of $key needs escaping: $value" ;; esac
    out+="$key=\"$value\""$'\n'
  done
  put_file "$1" 0640 < <(printf '%s' "$out")
}

sans="[localhost, 127.0.0.1, $peer_host"
for san in "${extra_sans[@]+"${extra_sans[@]}"}"; do sans+=", $san"; done
sans+="]"
# Orderers 1 and 2 (three orderers): certificates for the names their hosts advertise.
other_orderer_specs() {
  local n
  [ "$orderer_count" = 3 ] || return 0
  for n in 1 2; do
    orderer_ports "$n" "$peer_host"
    printf '      - Hostname: orderer%s\n        SANS: [localhost, 127.0.0.1, %s]\n' "$n" "$o_host"
  done
}
render_crypto_config() {
  put_file "$config_dir/crypto-config.yaml" <<EOF
OrdererOrgs:
  - Name: Orderer
    Domain: $orderer_domain
    EnableNodeOUs: true
    Specs:
      - Hostname: orderer0
        SANS: $sans
$(other_orderer_specs)
PeerOrgs:
  - Name: ChainFaaS
    Domain: $peer_domain
    EnableNodeOUs: true
    Template:
      Count: 2
      SANS: $sans
    Users:
      Count: 2
EOF
}

# lib.sh's configtx.yaml, with the advertised host where up.sh has 127.0.0.1.
render_configtx() { put_file "$config_dir/configtx.yaml" < <(configtx_yaml "$peer_host"); }

# The processes' environments: up.sh's, with the listen and advertised addresses of a VPC node.
render_env_files() {
  env_file "$config_dir/orderer.env" < <(orderer_node_env "$listen_address" "$orderer_index")
  [ "$orderer_index" = 0 ] || return 0
  env_file "$config_dir/peer0.env" < <(
    peer_node_env peer0 "$peer_port" "$peer_cc_port" "$peer_ops_port" |
      grep -Ev '^CORE_PEER_(LISTENADDRESS|ADDRESS|GOSSIP_BOOTSTRAP|GOSSIP_EXTERNALENDPOINT)='
    cat <<EOF
CORE_PEER_LISTENADDRESS=$listen_address:$peer_port
CORE_PEER_ADDRESS=$peer_host:$peer_port
CORE_PEER_GOSSIP_BOOTSTRAP=$peer_host:$peer_port
CORE_PEER_GOSSIP_EXTERNALENDPOINT=$peer_host:$peer_port
EOF
  )
  env_file "$config_dir/chaincode.env" <<EOF
PATH=$service_path
HOME=$state_dir/home
npm_config_cache=$state_dir/home/.npm
npm_config_update_notifier=false
CORE_CHAINCODE_LOGGING_LEVEL=WARNING
EOF
}

# unit NAME DESCRIPTION AFTER WORKDIR EXEC...
unit() {
  local name="$1" description="$2" after="$3" workdir="$4"
  shift 4
  put_file "$systemd_dir/$name.service" <<EOF
# Written by chaincode/network/aws-node.sh; rerun it rather than editing this file.
[Unit]
Description=$description
After=network-online.target$after
Wants=network-online.target

[Service]
Type=simple
User=$service_user
Group=$service_group
WorkingDirectory=$workdir
EnvironmentFile=$config_dir/${name#chainfaas-}.env
ExecStart=$*
Restart=always
RestartSec=5
TimeoutStopSec=30
LimitNOFILE=65536
NoNewPrivileges=yes
ProtectSystem=full
ProtectHome=yes
PrivateTmp=yes

[Install]
WantedBy=multi-user.target
EOF
}

# useradd --user-group (below) names the group after the user.
service_group="$service_user"
if id "$service_user" >/dev/null 2>&1; then service_group=$(id -gn "$service_user"); fi

render_units() {
  unit chainfaas-orderer "ChainFaaS Fabric orderer (orderer$orderer_index.$orderer_domain, Raft)" '' "$state_dir" "$bin/orderer"
  [ "$orderer_index" = 0 ] || return 0
  unit chainfaas-peer0 "ChainFaaS Fabric peer (peer0.$peer_domain)" ' chainfaas-orderer.service' "$state_dir" "$bin/peer" node start
  unit chainfaas-chaincode "ChainFaaS chaincode service ($served_label, CCaaS)" ' chainfaas-peer0.service' "$chaincode_dir" \
    /bin/bash "$network_dir/serve.sh" "$package_id" "127.0.0.1:$ccaas_port"
}

mkdir -p "$config_dir" "$state_dir/channel" "$state_dir/home"
# No up.sh marker in this state directory: down.sh (which stops nothing systemd runs) leaves it alone.
# The chaincode definition this node last committed, and the digest of the code it serves
# (chaincode_fingerprint): recorded after each commit, so a run with changed code upgrades.
definition_record="$state_dir/channel/chaincode-definition"
recorded() { [ -f "$definition_record" ] && sed -n "s/^$1=//p" "$definition_record"; }
# package_for SEQ: the CCaaS package of definition SEQ (served_label, package_id).
package_for() {
  served_label=$(chaincode_label_for "$1")
  package_id=$("$network_dir/package-ccaas.sh" "$state_dir/channel/$served_label.tgz" "127.0.0.1:$ccaas_port" "$served_label")
}
package_id='' served_label=''
if [ "$orderer_index" = 0 ]; then
  render_crypto_config
  render_configtx
  served_sequence=$(recorded sequence || true)
  package_for "${served_sequence:-1}"
fi
render_env_files
render_units
# This run's inputs, so an operator can run the script again without the user data's environment:
#   sudo bash -c 'set -a; . <data>/network/config/node.env; exec bash <this script>'
env_file "$config_dir/node.env" <<EOF
FABRIC_LISTEN_ADDRESS=$listen_address
FABRIC_PEER_HOST=$peer_host
FABRIC_EXTRA_SANS=${FABRIC_EXTRA_SANS:-}
FABRIC_ORDERERS=$orderer_count
FABRIC_ORDERER_PORT=$orderer_port
FABRIC_ORDERER_CLUSTER_PORT=$orderer_cluster_port
FABRIC_ORDERER1_HOST=${FABRIC_ORDERER1_HOST:-}
FABRIC_ORDERER1_PORT=${FABRIC_ORDERER1_PORT:-}
FABRIC_ORDERER1_CLUSTER_PORT=${FABRIC_ORDERER1_CLUSTER_PORT:-}
FABRIC_ORDERER2_HOST=${FABRIC_ORDERER2_HOST:-}
FABRIC_ORDERER2_PORT=${FABRIC_ORDERER2_PORT:-}
FABRIC_ORDERER2_CLUSTER_PORT=${FABRIC_ORDERER2_CLUSTER_PORT:-}
CHAINFAAS_ORDERER_BUNDLE=${CHAINFAAS_ORDERER_BUNDLE:-}
FABRIC_PEER_PORT=$peer_port
FABRIC_PEER_CC_PORT=$peer_cc_port
FABRIC_ORDERER_ADMIN_PORT=$orderer_admin_port
FABRIC_ORDERER_OPS_PORT=$orderer_ops_port
FABRIC_PEER_OPS_PORT=$peer_ops_port
FABRIC_CCAAS_PORT=$ccaas_port
FABRIC_CHANNEL=$channel
FABRIC_CHAINCODE=$chaincode_name
FABRIC_BATCH_TIMEOUT=$batch_timeout
FABRIC_LOG_SPEC=$log_spec
CHAINFAAS_DATA_DIR=$data_dir
CHAINFAAS_IDENTITY_DIR=$identity_dir
CHAINFAAS_SYSTEMD_DIR=$systemd_dir
CHAINFAAS_SERVICE_USER=$service_user
EOF
if [ "$dry_run" = 1 ]; then
  say "dry run: rendered ${#changed[@]} files; nothing started"
  if [ "$orderer_index" = 0 ]; then
    printf '%s\n' "$config_dir"/{crypto-config.yaml,configtx.yaml,orderer.env,peer0.env,chaincode.env,node.env}
  else
    printf '%s\n' "$config_dir"/{orderer.env,node.env}
  fi
  for name in "${units[@]}"; do echo "$systemd_dir/$name.service"; done
  exit 0
fi

# ------------------------------------------------------------------ from here on, for real
started=$(date +%s)
command -v systemctl >/dev/null || fail "needs systemd (systemctl)"
# Zip assets may drop the executable bits.
chmod +x "$network_dir"/*.sh "$network_dir"/ccaas-builder/bin/*

if [ "$service_user" != "$(id -un)" ]; then
  [ "$(id -u)" = 0 ] || fail "run as root (or set CHAINFAAS_SERVICE_USER to the current user)"
  if ! id "$service_user" >/dev/null 2>&1; then
    say "creating system user $service_user"
    useradd --system --user-group --home-dir "$state_dir/home" --no-create-home --shell /sbin/nologin "$service_user"
  fi
fi

# has [-x] TEXT COMMAND...: COMMAND succeeds and its output contains TEXT (-x: as a whole line). The
# output is captured before grep reads it, so grep stopping early never SIGPIPEs COMMAND into a
# failure under pipefail.
has() {
  local whole=() out
  if [ "$1" = -x ]; then
    whole=(-x)
    shift
  fi
  local text="$1"
  shift
  out=$("$@" 2>/dev/null) || return 1
  grep -qF "${whole[@]+"${whole[@]}"}" -- "$text" <<<"$out"
}

# Binaries: copied into the data directory, so the units name one path whatever built them.
fabric_tools=(peer orderer configtxgen cryptogen osnadmin)
binaries_complete() {
  local tool
  for tool in "${fabric_tools[@]}"; do [ -f "$1/$tool" ] || return 1; done
  [ -f "$1/sampleconfig/core.yaml" ] && [ -f "$1/sampleconfig/orderer.yaml" ]
}
if ! binaries_complete "$bin" || [ ! -x "$bin/peer" ]; then
  if [ -n "${FABRIC_BIN_DIR:-}" ]; then
    source_bin="$FABRIC_BIN_DIR"
    say "Fabric binaries from $source_bin"
  else
    say "building Fabric's binaries from the Go module proxy (fabric-bin.sh)"
    source_bin=$(XDG_CACHE_HOME="$data_dir/cache" GOPATH="$data_dir/go" GOCACHE="$data_dir/cache/go-build" "$network_dir/fabric-bin.sh")
  fi
  binaries_complete "$source_bin" || fail "$source_bin lacks some of peer orderer configtxgen cryptogen osnadmin sampleconfig/"
  rm -rf "$bin.tmp"
  cp -a "$source_bin" "$bin.tmp"
  chmod -R a+rX "$bin.tmp"
  (cd "$bin.tmp" && chmod 755 "${fabric_tools[@]}") # a zip may have dropped the executable bits
  rm -rf "$bin"
  mv "$bin.tmp" "$bin"
fi
"$bin/peer" version >/dev/null || fail "$bin/peer does not run on this machine ($(uname -m)); were the binaries built for another architecture?"

# start_unit NAME: (re)start NAME if its unit or environment changed, else make sure it runs.
start_unit() {
  local name="$1" file restart=0
  for file in "${changed[@]+"${changed[@]}"}"; do
    case "$file" in "$systemd_dir/$name.service" | "$config_dir/${name#chainfaas-}.env") restart=1 ;; esac
  done
  systemctl enable --quiet "$name.service"
  if [ "$restart" = 1 ]; then systemctl restart "$name.service"; else systemctl start "$name.service"; fi
}

# wait_listening UNIT HOST PORT [SECONDS]: fails with the unit's journal if it dies or stays deaf.
wait_listening() {
  local name="$1" host="$2" port="$3" limit="${4:-90}" i
  for i in $(seq 1 $((limit * 5))); do
    (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null && return 0
    if systemctl is-failed --quiet "$name.service"; then break; fi
    sleep 0.2
  done
  : "$i"
  say "$name is not listening on $host:$port; the end of its journal:"
  journalctl -u "$name.service" -n 40 --no-pager >&2 || true
  return 1
}

osn_admin() { osn_admin_at "$orderer_index" "$@"; }

# ------------------------------------------------------------------ an orderer host (--orderer N)
if [ "$orderer_index" != 0 ]; then
  orderer_ports "$orderer_index" "$peer_host"
  if [ ! -f "$crypto/.complete" ]; then
    say "orderer $orderer_index's material from $CHAINFAAS_ORDERER_BUNDLE"
    rm -rf "$crypto" "$state_dir/channel/genesis.block"
    base64 -d <"$CHAINFAAS_ORDERER_BUNDLE" | tar -xz -C "$state_dir"
    [ -f "$state_dir/channel/genesis.block" ] && [ -d "$o_node/tls" ] || fail "the bundle lacks orderer $orderer_index's TLS pair or the genesis block"
    touch "$crypto/.complete"
  fi
  cp "$bin/sampleconfig/orderer.yaml" "$config_dir/"
  mkdir -p "$o_data"
  [ "$service_user" = "$(id -un)" ] || chown -R "$service_user:$service_group" "$state_dir"
  systemctl daemon-reload
  say "orderer$orderer_index on $listen_address:$o_port (cluster $o_cluster_port, admin 127.0.0.1:$o_admin_port)"
  start_unit chainfaas-orderer
  wait_listening chainfaas-orderer 127.0.0.1 "$o_admin_port"
  wait_listening chainfaas-orderer 127.0.0.1 "$o_port"
  if ! has "\"name\": \"$channel\"" osn_admin list --channelID "$channel"; then
    say "channel $channel (osnadmin channel join)"
    osn_admin join --channelID "$channel" --config-block "$state_dir/channel/genesis.block" >&2
  fi
  say "orderer$orderer_index up in $(($(date +%s) - started)) s; it orders once a majority of the three runs"
  exit 0
fi

# The chaincode's dependencies (fabric-contract-api, fabric-shim, and tsc for serve.sh).
if [ ! -d "$repo_dir/node_modules/fabric-shim" ] && [ ! -d "$chaincode_dir/node_modules/fabric-shim" ]; then
  say "npm ci (the chaincode's dependencies)"
  (cd "$repo_dir" && PATH="$service_path" npm_config_cache="$data_dir/cache/npm" npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
fi

# Crypto material, once. A node whose name changed cannot reuse certificates issued for the old one.
if [ ! -f "$crypto/.complete" ]; then
  say "crypto material (cryptogen), TLS names: $sans"
  rm -rf "$crypto"
  "$bin/cryptogen" generate --config "$config_dir/crypto-config.yaml" --output "$crypto" >/dev/null
  touch "$crypto/.complete"
elif command -v openssl >/dev/null; then
  has "$peer_host" openssl x509 -in "$peer_org/peers/peer0.$peer_domain/tls/server.crt" -noout -ext subjectAltName ||
    fail "the certificates in $crypto were issued for another host name than $peer_host"
fi
cp "$bin/sampleconfig/core.yaml" "$bin/sampleconfig/orderer.yaml" "$config_dir/"
if [ ! -f "$state_dir/channel/genesis.block" ]; then
  FABRIC_CFG_PATH="$config_dir" "$bin/configtxgen" -profile ChainFaaSChannel -channelID "$channel" \
    -outputBlock "$state_dir/channel/genesis.block.tmp" 2>"$state_dir/channel/configtxgen.log"
  mv "$state_dir/channel/genesis.block.tmp" "$state_dir/channel/genesis.block"
fi
# Three orderers: each other orderer's material, for the construct to hand to its host.
if [ "$orderer_count" = 3 ]; then
  mkdir -p "$identity_dir/orderers"
  chmod 700 "$identity_dir" "$identity_dir/orderers"
  for n in 1 2; do
    orderer_ports "$n" "$peer_host"
    tar -C "$state_dir" -cz "${o_node#"$state_dir/"}" "${orderer_admin#"$state_dir/"}/tls" "${orderer_tls_ca#"$state_dir/"}" channel/genesis.block |
      base64 -w0 | put_file "$identity_dir/orderers/orderer$n.b64" 0600
    # On AWS the orderer hosts wait for their material in a secret each: published now, since the
    # channel below becomes active only once one of them runs.
    v="CHAINFAAS_ORDERER${n}_SECRET_ARN"
    if [ -n "${!v:-}" ]; then
      jq -n --rawfile bundle "$identity_dir/orderers/orderer$n.b64" '{bundle: $bundle}' >"$identity_dir/orderers/orderer$n.json"
      aws secretsmanager put-secret-value --secret-id "${!v}" --secret-string "file://$identity_dir/orderers/orderer$n.json" >/dev/null
      rm -f "$identity_dir/orderers/orderer$n.json"
    fi
  done
fi
mkdir -p "$state_dir/orderer" "$state_dir/peer0" "$state_dir/home"
[ "$service_user" = "$(id -un)" ] || chown -R "$service_user:$service_group" "$state_dir" "$chaincode_dir"

systemctl daemon-reload
say "orderer on $listen_address:$orderer_port (admin 127.0.0.1:$orderer_admin_port)"
start_unit chainfaas-orderer
wait_listening chainfaas-orderer 127.0.0.1 "$orderer_admin_port"
wait_listening chainfaas-orderer 127.0.0.1 "$orderer_port"
if ! has "\"name\": \"$channel\"" osn_admin list --channelID "$channel"; then
  say "channel $channel (osnadmin channel join)"
  osn_admin join --channelID "$channel" --config-block "$state_dir/channel/genesis.block" >&2
fi
# The channel is active on this orderer once it joined. A Raft leader (needed by the chaincode's
# transactions below) follows within a few ticks for one orderer; three need a majority running,
# and the other hosts may still be building Fabric: `commit_definition` waits up to 45 minutes then
# (lib.sh#ordered).
tries=150
[ "$orderer_count" = 1 ] || { ordered_tries=2700; say "the chaincode's definition waits for a majority of the three orderers (orderer1, orderer2 on their hosts)"; }
for i in $(seq 1 "$tries"); do
  has '"status": "active"' osn_admin list --channelID "$channel" && break
  [ "$i" = "$tries" ] && fail "the orderer did not make channel $channel active"
  sleep 0.2
done

say "peer0 on $listen_address:$peer_port, advertised as $peer_host:$peer_port"
start_unit chainfaas-peer0
wait_listening chainfaas-peer0 127.0.0.1 "$peer_port"
set_orderer_flags
if ! has -x "$channel" peer_cli "$peer_admin" "$peer_port" channel list; then
  peer_cli "$peer_admin" "$peer_port" channel join -b "$state_dir/channel/genesis.block" >&2
fi

# The definition: sequence 1 on a new channel; the next sequence (upgrade-chaincode.sh's steps:
# package, install, serve, approve, commit) when the code differs from what the committed one was
# recorded with, or nothing was recorded (a node from before the record); else unchanged. The
# service keeps its address and restarts under the new package id, so transactions fail for the
# few seconds until the commit; the ledger's state is untouched.
committed=$(committed_sequence)
fingerprint=$(chaincode_fingerprint)
if [ -z "$committed" ]; then
  target=1
elif [ "$(recorded sequence || true)" = "$committed" ] && [ "$(recorded fingerprint || true)" = "$fingerprint" ]; then
  target="$committed"
else
  target=$((committed + 1))
  say "chaincode upgrade: sequence $committed -> $target (the code in $chaincode_dir changed)"
fi
if [ "$(chaincode_label_for "$target")" != "$served_label" ]; then
  package_for "$target"
  render_units
  systemctl daemon-reload
fi
say "chaincode $chaincode_name ($package_id) served on 127.0.0.1:$ccaas_port"
install_package "$state_dir/channel/$served_label.tgz" "$package_id" || fail "the peer installed the package under another id than $package_id"
start_unit chainfaas-chaincode
wait_listening chainfaas-chaincode 127.0.0.1 "$ccaas_port" 180
[ "$target" = "$committed" ] || commit_definition "$target" "$package_id"
put_file "$definition_record" <<EOF
sequence=$target
fingerprint=$fingerprint
package_id=$package_id
EOF

# The peer CLI as User1 against the advertised address: what the Lambdas dial, TLS name checked.
controller_query() {
  env FABRIC_CFG_PATH="$config_dir" FABRIC_LOGGING_SPEC=warning \
    CORE_PEER_LOCALMSPID="$peer_msp" CORE_PEER_MSPCONFIGPATH="$controller_user/msp" \
    CORE_PEER_ADDRESS="$peer_host:$peer_port" CORE_PEER_TLS_ENABLED=true CORE_PEER_TLS_ROOTCERT_FILE="$peer_tls_ca" \
    "$bin/peer" chaincode query -C "$channel" -n "$chaincode_name" -c '{"function":"MonitoringContract:GetController","Args":[]}'
}
controller_id() {
  local out i
  for i in $(seq 1 30); do
    if out=$(controller_query 2>&1); then
      printf '%s' "$out"
      return 0
    fi
    sleep 1
  done
  : "$i"
  say "the peer does not answer on $peer_host:$peer_port: $out"
  return 1
}
controller=$(controller_id)
if ! grep -q "CN=User1@$peer_domain" <<<"$controller"; then
  if [ -n "$(tr -d '[:space:]' <<<"$controller" | sed 's/^null$//')" ]; then
    fail "the chaincode's controller is not User1@$peer_domain: $controller (redeploy the chaincode under a new name)"
  fi
  say "InitLedger as the controller (User1@$peer_domain)"
  peer_cli "$controller_user" "$peer_port" chaincode invoke "${orderer_flags[@]}" -C "$channel" -n "$chaincode_name" \
    --peerAddresses "127.0.0.1:$peer_port" --tlsRootCertFiles "$peer_tls_ca" --waitForEvent \
    -c '{"function":"MonitoringContract:InitLedger","Args":[]}' >&2
  controller=$(controller_id)
  grep -q "CN=User1@$peer_domain" <<<"$controller" || fail "after InitLedger the chaincode's controller is $controller"
fi

# The controller's client identity, where the construct picks it up for Secrets Manager.
mkdir -p "$identity_dir"
chmod 700 "$identity_dir"
key_file=$(find "$controller_user/msp/keystore" -type f -print -quit)
grep -q -- '-----BEGIN PRIVATE KEY-----' "$key_file" || fail "$key_file is not a PKCS#8 PEM key"
printf '%s\n' "$peer_msp" | put_file "$identity_dir/msp-id" 0600
put_file "$identity_dir/cert.pem" 0600 <"$controller_user/msp/signcerts/User1@$peer_domain-cert.pem"
put_file "$identity_dir/key.pem" 0600 <"$key_file"
put_file "$identity_dir/tls-ca.pem" 0600 <"$peer_tls_ca"
# The organisation's CAs and what a joining peer needs, where the construct picks them up for the
# CA secret (peer enrolment: lambdas/adapters/fabric-enrolment.ts). The TLS CA certificate is tls-ca.pem.
ca_dir="$identity_dir/ca"
mkdir -p "$ca_dir"
chmod 700 "$ca_dir"
put_file "$ca_dir/ca-cert.pem" 0600 <"$peer_org/ca/ca.$peer_domain-cert.pem"
put_file "$ca_dir/ca-key.pem" 0600 <"$peer_org/ca/priv_sk"
put_file "$ca_dir/tls-ca-key.pem" 0600 <"$peer_org/tlsca/priv_sk"
put_file "$ca_dir/orderer-tls-ca.pem" 0600 <"$orderer_tls_ca"
printf '%s\n' "$package_id" | put_file "$ca_dir/package-id" 0600
printf '%s\n' "127.0.0.1:$ccaas_port" | put_file "$ca_dir/ccaas-address" 0600

put_file "$state_dir/env" <<EOF
FABRIC_PEER_ENDPOINT=$peer_host:$peer_port
FABRIC_PEER_HOST_ALIAS=$peer_host
FABRIC_TLS_CERT_PATH=$peer_tls_ca
FABRIC_MSP_ID=$peer_msp
FABRIC_CERT_PATH=$controller_user/msp/signcerts/User1@$peer_domain-cert.pem
FABRIC_KEY_PATH=$controller_user/msp/keystore
FABRIC_CHANNEL=$channel
FABRIC_CHAINCODE=$chaincode_name
FABRIC_ORDERER_ENDPOINT=$peer_host:$orderer_port
FABRIC_ORDERER_TLS_CERT_PATH=$orderer_tls_ca
FABRIC_PACKAGE_ID=$package_id
FABRIC_STATE_DIR=$state_dir
FABRIC_BIN_DIR=$bin
EOF
say "up in $(($(date +%s) - started)) s: peer $peer_host:$peer_port, units ${units[*]}; identity in $identity_dir"
cat "$state_dir/env"
