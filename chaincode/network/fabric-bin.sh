#!/usr/bin/env bash
# Builds Fabric's native binaries (peer, orderer, configtxgen, cryptogen, osnadmin) from the Go
# module proxy, caches them with Fabric's sampleconfig/ beside them under
# ${XDG_CACHE_HOME:-~/.cache}/chainfaas/fabric-bin/<version>/, and prints that directory.
# Quick and silent when the cache is complete.
#
# Why not `go install .../cmd/peer@<version>`: go install asks the proxy for the module's version
# list (to check for deprecation), and the proxy refuses that list for github.com/hyperledger/fabric
# (HTTP 403). `go mod download` of one exact version does not need the list, and the proxy serves
# the pinned pseudo-version below. Its zip holds vendor/modules.txt but no vendored code, so the
# vendor directory is removed and the dependencies come from the proxy too (-mod=mod).
#
# usage: fabric-bin.sh        (FABRIC_VERSION overrides the pinned version; needs go >= 1.20)
set -euo pipefail
# Commit 695dd57e01c2 of 2023-04-05 as a Go pseudo-version: the only one of Fabric's commits the
# proxy here serves. Its release_notes/ ends at v2.5.0.md (published that day), but it is a commit
# of the main branch, not of release-2.5: its Makefile says FABRIC_VER ?= 3.0.0 and it carries the
# V3_0 channel capability and the SmartBFT orderer. So the binaries report "3.0.0-snapshot"; the
# network below uses only what 2.5 has too (Raft, channel participation, V2_0/V2_5 capabilities,
# the v2 lifecycle, the gateway). Fabric's v2.x tags are not valid module versions (no /v2 in its
# go.mod), so a release can only be named by a commit.
FABRIC_VERSION="${FABRIC_VERSION:-v1.4.0-rc1.0.20230405174026-695dd57e01c2}"
bin_dir="${XDG_CACHE_HOME:-$HOME/.cache}/chainfaas/fabric-bin/$FABRIC_VERSION"
tools=(peer orderer configtxgen cryptogen osnadmin)

complete() {
  local tool
  for tool in "${tools[@]}"; do [ -x "$bin_dir/$tool" ] || return 1; done
  [ -f "$bin_dir/sampleconfig/core.yaml" ] && [ -f "$bin_dir/sampleconfig/orderer.yaml" ] && [ -f "$bin_dir/sampleconfig/configtx.yaml" ]
}

if complete; then
  echo "$bin_dir"
  exit 0
fi

command -v go >/dev/null || { echo "fabric-bin: needs the go toolchain on PATH" >&2; exit 1; }
mkdir -p "$(dirname "$bin_dir")"
# One builder at a time; whoever waited finds the cache complete.
exec 9>"$bin_dir.lock"
flock 9
if complete; then
  echo "$bin_dir"
  exit 0
fi

started=$(date +%s)
work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
echo "fabric-bin: downloading github.com/hyperledger/fabric@$FABRIC_VERSION" >&2
# Outside any module, so the download does not touch a go.mod.
module_dir=$(cd "$work" && GO111MODULE=on GOFLAGS=-mod=mod go mod download -json "github.com/hyperledger/fabric@$FABRIC_VERSION" |
  sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
if [ -z "$module_dir" ] || [ ! -d "$module_dir/cmd/peer" ]; then
  echo "fabric-bin: go mod download did not give the Fabric source (is the Go module proxy reachable?)" >&2
  exit 1
fi
cp -r "$module_dir" "$work/src"
chmod -R u+w "$work/src"
rm -rf "$work/src/vendor"

out="$work/out"
mkdir -p "$out"
# As Fabric's Makefile stamps a snapshot build: Version from its FABRIC_VER, CommitSHA the commit.
release="$(sed -n 's/^FABRIC_VER ?= *//p' "$work/src/Makefile")-snapshot"
ldflags="-X github.com/hyperledger/fabric/common/metadata.Version=$release -X github.com/hyperledger/fabric/common/metadata.CommitSHA=${FABRIC_VERSION##*-}"
for tool in "${tools[@]}"; do
  echo "fabric-bin: building $tool" >&2
  (cd "$work/src" && CGO_ENABLED=0 GOFLAGS="-mod=mod -buildvcs=false" go build -trimpath -ldflags "$ldflags" -o "$out/$tool" "./cmd/$tool") >&2
done
cp -r "$work/src/sampleconfig" "$out/sampleconfig"
chmod -R u+w "$out"
echo "$FABRIC_VERSION" >"$out/VERSION"

rm -rf "$bin_dir"
mv "$out" "$bin_dir"
echo "fabric-bin: built in $(($(date +%s) - started)) s into $bin_dir" >&2
echo "$bin_dir"
