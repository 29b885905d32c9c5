#!/usr/bin/env bash
# Prints the path of a HashiCorp Vault binary of the version the compose image pins, building it once if needed.
#
# Resolution order (the harness, `make native` and the offline image all use this one script):
#   1. $VAULT_BIN, if set (trusted as given)
#   2. `vault` on PATH, if `vault version` reports the pinned version
#   3. the cached build under ${XDG_CACHE_HOME:-$HOME/.cache}/aurora-secrets/vault-<version>/vault
#   4. a build from Vault's Go module (10-20 minutes on 2 cores, ~7 GB of temporary caches)
#
# Progress goes to stderr; only the binary's path goes to stdout.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
version=$(cat "$here/../vault/VERSION")
log() { printf '[ensure-vault] %s\n' "$*" >&2; }
# `vault version` prints "Vault v1.21.4", then " (<commit>)" and ", built <date>" when they are known.
is_pinned() { "$1" version 2>/dev/null | grep -Eq "^Vault v${version//./\\.}( |,|\$)"; }

if [ -n "${VAULT_BIN:-}" ]; then
  [ -x "$VAULT_BIN" ] || { log "VAULT_BIN=$VAULT_BIN is not an executable file. Unset it or point it at a Vault $version binary."; exit 1; }
  echo "$VAULT_BIN"; exit 0
fi

if command -v vault >/dev/null 2>&1 && is_pinned "$(command -v vault)"; then
  command -v vault; exit 0
fi

cache_dir="${XDG_CACHE_HOME:-$HOME/.cache}/aurora-secrets/vault-$version"
if [ -x "$cache_dir/vault" ] && is_pinned "$cache_dir/vault"; then
  echo "$cache_dir/vault"; exit 0
fi

command -v go >/dev/null 2>&1 || {
  log "No Vault $version binary found and no Go toolchain to build one."
  log "Install Go (Debian: apt-get install golang-go, or a toolchain from go.dev) or set VAULT_BIN to a Vault $version binary."
  exit 1
}

# One build at a time: parallel test files may all ask at once.
mkdir -p "$cache_dir"
exec 9>"$cache_dir/.lock"
if ! flock -n 9; then
  log "another process is building Vault $version; waiting for it..."
  flock 9
  if [ -x "$cache_dir/vault" ]; then echo "$cache_dir/vault"; exit 0; fi
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/aurora-vault-build.XXXXXX")
# The build's module and build caches are several GB: never leave them behind.
cleanup() { chmod -R u+w "$tmp" 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT

export GOMODCACHE="$tmp/mod" GOCACHE="$tmp/cache" CGO_ENABLED=0 GOFLAGS=-mod=mod GOTOOLCHAIN=local
start=$(date +%s)
log "building Vault $version from its Go module (cold: about 10-20 minutes on 2 cores; cached afterwards in $cache_dir)"
log "step 1/3: downloading github.com/hashicorp/vault@v$version"
go mod download "github.com/hashicorp/vault@v$version"
cp -r "$GOMODCACHE/github.com/hashicorp/vault@v$version" "$tmp/src"
chmod -R u+w "$tmp/src"
cd "$tmp/src"

# The module zip lacks its nested modules (api, sdk, api/auth/*) that go.mod replaces with ./paths:
# use the published versions go.mod requires instead.
for m in api api/auth/approle api/auth/kubernetes api/auth/userpass sdk; do
  go mod edit -dropreplace="github.com/hashicorp/vault/$m"
done
# The release branch's in-tree sdk differs from the published sdk in two signatures: three one-line adapters.
sed -i 's/ActivationFunc: iStore.activateDeduplication,/ActivationFunc: func(ctx context.Context, req *logical.Request, _ string) error { return iStore.activateDeduplication(ctx, req) },/' vault/identity_store.go
sed -i 's/b.idStoreBackend.ActivationFunc(ctx, nil)/b.idStoreBackend.ActivationFunc(ctx, nil, "")/' vault/logical_system_activation_flags.go
sed -i 's/restoredKeyName, err := b.lm.RestorePolicy(/restoredKeyName, err := keyName, b.lm.RestorePolicy(/' builtin/logical/transit/path_restore.go

log "step 2/3: compiling (progress: a line every 30 s)"
( while sleep 30; do log "  still compiling... $(( $(date +%s) - start ))s elapsed"; done ) &
ticker=$!
# -s -w strips the binary, so the compiler's DWARF would be thrown away at link time: -dwarf=false skips
# generating it, about 15 % of the compile (the same flags as scripts/k8s/ensure-binaries.sh).
if ! go build -trimpath -gcflags=all=-dwarf=false -ldflags "-s -w" -o "$tmp/vault" . >&2; then
  kill "$ticker" 2>/dev/null || true
  log "go build failed (see above). Nothing was cached; rerun to try again."
  exit 1
fi
kill "$ticker" 2>/dev/null || true

log "step 3/3: checking the binary"
if ! is_pinned "$tmp/vault"; then
  # Keep it for inspection rather than losing a long build.
  mv "$tmp/vault" "$cache_dir/vault.unverified"
  log "the built binary reports \"$("$cache_dir/vault.unverified" version 2>&1 | head -n 1)\", not Vault v$version; kept as $cache_dir/vault.unverified"
  exit 1
fi
# Move into place only once it works, so an interrupted build never leaves a broken binary behind.
mv "$tmp/vault" "$cache_dir/vault.partial"
mv "$cache_dir/vault.partial" "$cache_dir/vault"
log "Vault $version built in $(( $(date +%s) - start ))s: $cache_dir/vault"
echo "$cache_dir/vault"
