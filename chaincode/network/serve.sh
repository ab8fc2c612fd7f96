#!/usr/bin/env bash
# Runs the ChainFaaS chaincode as a service (fabric-chaincode-node server) for a peer whose ccaas
# builder points at this address. Builds chaincode/dist first.
#
# usage: serve.sh PACKAGE_ID [ADDRESS]
#   PACKAGE_ID  the id `peer lifecycle chaincode install` (or package-ccaas.sh) printed
#   ADDRESS     listen address (default 127.0.0.1:9999; must match the package's connection.json)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
chaincode_dir=$(dirname "$here")
package_id="${1:?usage: serve.sh PACKAGE_ID [ADDRESS]}"
address="${2:-127.0.0.1:9999}"
cd "$chaincode_dir"
npx --no-install tsc -p tsconfig.json
export CORE_CHAINCODE_LOGGING_LEVEL="${CORE_CHAINCODE_LOGGING_LEVEL:-WARNING}"
exec npx --no-install fabric-chaincode-node server --chaincode-address="$address" --chaincode-id="$package_id"
