#!/usr/bin/env bash
# Builds Fabric's native binaries (peer, orderer, configtxgen, cryptogen, osnadmin) from the Go
# module proxy and caches them under ~/.cache/chainfaas/fabric-bin/<commit>/. Prints that
# directory. Fabric's v2.x tags cannot be used as module versions (its go.mod has no /v2 suffix),
# so a release is named by the commit its tag points at.
#
# usage: fabric-bin.sh            (FABRIC_COMMIT overrides the pinned commit)
set -euo pipefail
# The commit that added release_notes/v2.5.12.md (PR "Release commit for v2.5.12"). Not yet
# checked against the tag itself: see README.md.
FABRIC_COMMIT="${FABRIC_COMMIT:-13bbd297092ec0039067f58102757117c85aedad}"
bin_dir="${XDG_CACHE_HOME:-$HOME/.cache}/chainfaas/fabric-bin/$FABRIC_COMMIT"
tools=(peer orderer configtxgen cryptogen osnadmin)

missing=()
for tool in "${tools[@]}"; do [ -x "$bin_dir/$tool" ] || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
  mkdir -p "$bin_dir"
  for tool in "${missing[@]}"; do
    echo "building $tool at $FABRIC_COMMIT" >&2
    if ! GOBIN="$bin_dir" CGO_ENABLED=0 go install "github.com/hyperledger/fabric/cmd/$tool@$FABRIC_COMMIT" >&2; then
      echo "fabric-bin: could not build $tool from the Go module proxy (see chaincode/network/README.md)" >&2
      exit 1
    fi
  done
fi
echo "$bin_dir"
