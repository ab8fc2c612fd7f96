#!/usr/bin/env bash
# Writes a chaincode-as-a-service package for the ChainFaaS chaincode and prints its package id.
# The package holds no code: metadata.json ("type": "ccaas") and, in code.tar.gz, connection.json
# with the address where `serve.sh` runs the chaincode. The peer's ccaas builder
# (ccaas-builder/bin) turns it into a connection to that address.
#
# usage: package-ccaas.sh OUTPUT.tgz [ADDRESS] [LABEL]
#   ADDRESS  where the chaincode service listens, as the peer dials it (default 127.0.0.1:9999)
#   LABEL    chaincode label (default chainfaas_1.0)
set -euo pipefail
output="${1:?usage: package-ccaas.sh OUTPUT.tgz [ADDRESS] [LABEL]}"
address="${2:-127.0.0.1:9999}"
label="${3:-chainfaas_1.0}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

printf '{"address":"%s","dial_timeout":"10s","tls_required":false}\n' "$address" >"$work/connection.json"
printf '{"type":"ccaas","label":"%s"}\n' "$label" >"$work/metadata.json"
# Fixed owner, mode and time, so the same address and label always give the same package id.
tar_opts=(--owner=0 --group=0 --numeric-owner --mode=0644 --mtime=@0 --sort=name)
tar -C "$work" "${tar_opts[@]}" -cf - connection.json | gzip -n >"$work/code.tar.gz"
tar -C "$work" "${tar_opts[@]}" -cf - metadata.json code.tar.gz | gzip -n >"$output"

# The peer names an installed package `<label>:<sha256 of the package file>`.
echo "${label}:$(sha256sum "$output" | cut -d' ' -f1)"
