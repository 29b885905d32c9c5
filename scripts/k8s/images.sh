#!/usr/bin/env bash
# Puts the images the local node runs into its containerd (no registry anywhere):
#   system  aurora-k8s/pause, aurora-k8s/coredns: written from the cached binaries (scripts/k8s/docker-archive.py)
#   stack   aurora-offline/vault and aurora-offline/postgres (`docker save` of `make images-offline`'s images),
#           and aurora-k8s/aurora-secrets:<hash>: this working tree's app and vault-init (built dist/ plus
#           production node_modules) on aurora-offline/node, written without Docker
# Every archive is cached in $K8S_CACHE/k8s-images keyed by its inputs, so Docker is needed only once per
# offline image. Prints the stack image's tag on stdout with `stack`.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$here/env.sh"
t_start=$SECONDS
log() { printf '[k8s-images %4ss] %s\n' "$((SECONDS - t_start))" "$*" >&2; }
die() { log "$*"; exit 1; }
cache="$K8S_CACHE/k8s-images"
mkdir -p "$cache"

VAULT_VERSION=$(cat "$root/vault/VERSION")
NODE_VERSION=$(sed -n 's/^NODE_VERSION=//p' "$root/scripts/images-offline.sh")
IMG_VAULT=aurora-offline/vault:$VAULT_VERSION
IMG_POSTGRES=aurora-offline/postgres:15
IMG_NODE=aurora-offline/node:$NODE_VERSION

imported() { kctr images ls -q 2>/dev/null | grep -qxF "docker.io/$1"; }
import_archive() { # name archive
  local t0=$SECONDS
  kctr images import --no-unpack=false "$2" >/dev/null 2>&1 || kctr images import "$2" >/dev/null \
    || die "ctr could not import $2 (see above)"
  log "$1 imported in $((SECONDS - t0))s"
}

system() {
  local a
  if ! imported "${K8S_PAUSE_IMAGE#docker.io/}"; then
    a="$cache/pause-$PAUSE_VERSION.tar"
    [ -s "$a" ] || python3 "$here/docker-archive.py" --tag "${K8S_PAUSE_IMAGE#docker.io/}" --out "$a" \
      --file "$PAUSE_BIN_DIR/pause:/pause:755" --entrypoint '["/pause"]' --user 65535
    import_archive "$K8S_PAUSE_IMAGE" "$a"
  fi
  if ! imported "${K8S_COREDNS_IMAGE#docker.io/}"; then
    a="$cache/coredns-$COREDNS_VERSION.tar"
    [ -s "$a" ] || python3 "$here/docker-archive.py" --tag "${K8S_COREDNS_IMAGE#docker.io/}" --out "$a" \
      --file "$COREDNS_BIN_DIR/coredns:/coredns:755" --entrypoint '["/coredns"]' --user 65532
    import_archive "$K8S_COREDNS_IMAGE" "$a"
  fi
}

# The docker-archive of a local Docker image, saved once per image id.
saved() {
  local img=$1 id
  if ! docker info >/dev/null 2>&1; then
    # A previous save of this name still serves when Docker is not running.
    local last
    last=$(ls -t "$cache"/"${img//[\/:]/_}"-*.tar 2>/dev/null | head -n 1 || true)
    [ -n "$last" ] && { echo "$last"; return; }
    die "$img is not cached and no Docker engine answers: start Docker (scripts/ensure-docker.sh) and, if the image is missing, run 'make images-offline'; then rerun."
  fi
  id=$(docker image inspect -f '{{.Id}}' "$img" 2>/dev/null) || die "$img is missing: run 'make images-offline' and rerun."
  id=${id#sha256:}
  local a="$cache/${img//[\/:]/_}-${id:0:16}.tar"
  if [ ! -s "$a" ]; then
    log "saving $img from Docker (once; cached as $a)"
    rm -f "$cache"/"${img//[\/:]/_}"-*.tar
    docker save "$img" -o "$a.partial" && mv "$a.partial" "$a"
  fi
  echo "$a"
}

# node_modules with the production dependencies of the app and vault-init, once per lock file.
prod_modules() {
  local h dir
  h=$(cat "$root/package-lock.json" "$root/package.json" "$root"/packages/*/package.json "$root"/services/*/package.json | sha256sum | cut -c1-16)
  dir="$cache/node-modules-$h"
  if [ ! -d "$dir/node_modules" ]; then
    log "installing the production dependencies (npm ci --omit=dev; once per package-lock.json)"
    rm -rf "$cache"/node-modules-* ; mkdir -p "$dir.partial"
    (cd "$root" && cp package.json package-lock.json "$dir.partial/" && \
      for w in packages/common services/app services/vault-init; do mkdir -p "$dir.partial/$w"; cp "$w/package.json" "$dir.partial/$w/"; done)
    (cd "$dir.partial" && npm ci --omit=dev --no-audit --no-fund --ignore-scripts -w services/app -w services/vault-init >&2) \
      || die "npm ci failed (see above)"
    mv "$dir.partial" "$dir"
  fi
  echo "$dir"
}

stack() {
  local a
  a=$(saved "$IMG_VAULT"); imported "$IMG_VAULT" || import_archive "$IMG_VAULT" "$a"
  a=$(saved "$IMG_POSTGRES"); imported "$IMG_POSTGRES" || import_archive "$IMG_POSTGRES" "$a"
  [ -d "$root/services/app/dist" ] && [ -d "$root/services/vault-init/dist" ] \
    || die "services/*/dist is missing: run 'npx tsc --build' (make build) first."
  local base mods h tag
  base=$(saved "$IMG_NODE")
  mods=$(prod_modules)
  h=$( { echo "$base"; echo "$mods"; cd "$root" && find packages/common/dist services/app/dist services/app/migrations \
    services/vault-init/dist services/app/config vault/policies vault/agent/secrets.json -type f -print0 | sort -z \
    | xargs -0 sha256sum; } | sha256sum | cut -c1-12)
  tag="aurora-k8s/aurora-secrets:$h"
  if ! imported "$tag"; then
    a="$cache/aurora-secrets-$h.tar"
    if [ ! -s "$a" ]; then
      rm -f "$cache"/aurora-secrets-*.tar
      log "writing $tag (the app and vault-init of this working tree on $IMG_NODE)"
      local args=(--tag "$tag" --out "$a" --base "$base" --user 1000 --workdir /app --env NODE_ENV=production
        --cmd '["node","/app/services/app/dist/main.js"]'
        --mkdir /app --dir "$mods/node_modules:/app/node_modules"
        --file "$root/package.json:/app/package.json"
        --file "$root/services/app/config/vault-config.json:/etc/aurora/vault-config.json"
        --file "$root/vault/agent/secrets.json:/vault/agent/secrets.json"
        --dir "$root/vault/policies:/vault/policies"
        --dir "$root/services/app/migrations:/app/services/app/migrations")
      local w
      for w in packages/common services/app services/vault-init; do
        args+=(--file "$root/$w/package.json:/app/$w/package.json" --dir "$root/$w/dist:/app/$w/dist")
      done
      python3 "$here/docker-archive.py" "${args[@]}"
    fi
    import_archive "$tag" "$a"
  fi
  echo "docker.io/$tag"
}

case ${1:-} in
  system) system ;;
  stack) stack ;;
  *) echo "usage: $0 system|stack" >&2; exit 2 ;;
esac
