#!/usr/bin/env bash
# Puts the images the local node runs into its containerd (no registry anywhere):
#   system  aurora-k8s/pause, aurora-k8s/coredns: written from the cached binaries (scripts/k8s/docker-archive.py)
#   stack   aurora-k8s/vault (the static Vault build of scripts/ensure-vault.sh), aurora-k8s/postgres (this
#           machine's PostgreSQL 15 from Debian, with its libraries), aurora-k8s/aurora-secrets (this working
#           tree's app and vault-init: dist/ plus production node_modules, on this machine's node)
# No Docker engine is involved: each image is one layer written from files (scripts/k8s/docker-archive.py), the
# same binaries `make images-offline` puts into aurora-offline/*. Archives are cached in $K8S_CACHE/k8s-images
# and named by a hash of their inputs, so unchanged inputs are neither rewritten nor imported again.
# `stack` prints vault=<image>, postgres=<image>, app=<image> on stdout.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$here/env.sh"
k8s_logger k8s-images
cache="$K8S_CACHE/k8s-images"
mkdir -p "$cache"


# The node's containerd may still be starting (stack.sh writes the images while node.sh boots): wait for it.
# Under stack.sh (K8S_NODE_BOOTING=1) the wait has no deadline of its own: the node's start may first wait for a
# cold Kubernetes build (tens of minutes on 2 cores), and stack.sh stops this script when that start fails.
# Run alone, it gives a node 300 s to answer.
containerd_waited="" after_system=""
wait_containerd() {
  [ -z "$containerd_waited" ] || return 0
  local t0=$SECONDS next=30
  local system=""
  # The stack's images wait for the node's own (pause, CoreDNS: small, and the node's readiness waits on them).
  [ -z "$after_system" ] || system="$K8S_COREDNS_IMAGE"
  until [ -e "$K8S_MNTNS" ] && [ -e "/run/netns/$K8S_NETNS" ] && kctr version >/dev/null 2>&1 &&
    { [ -z "$system" ] || [[ $(kctr images ls -q 2>/dev/null) == *"$system"* ]]; }; do
    [ -n "${K8S_NODE_BOOTING:-}" ] || [ $((SECONDS - t0)) -lt 300 ] ||
      die "the node's containerd did not answer within 300 s: is the node up? (scripts/k8s/node.sh up)"
    if [ $((SECONDS - t0)) -ge "$next" ]; then
      log "  images written; waiting for the node's containerd to import them ($((SECONDS - t0))s)"
      next=$((next + 60))
    fi
    sleep 1
  done
  containerd_waited=1
}
imported() { wait_containerd; kctr images ls -q 2>/dev/null | grep -qxF "docker.io/$1"; }
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

# Writes the lines "$@" (one per argument) to file $1 unless it already holds exactly them.
write_if_changed() {
  local f=$1; shift
  [ "$(printf '%s\n' "$@")" = "$(cat "$f" 2>/dev/null)" ] || printf '%s\n' "$@" >"$f"
}

# Files every image needs: users (the programs look up their own uid), a shell and the tools the chart's
# probes and the PostgreSQL entrypoint use (busybox-static), a world-writable /tmp.
common_args() {
  local etc=$1 t
  mkdir -p "$etc"
  # Rewritten only when different: their modification time is part of every image's input hash.
  write_if_changed "$etc/passwd" 'root:x:0:0:root:/root:/bin/sh' 'vault:x:100:1000:vault:/home/vault:/bin/sh' \
    'postgres:x:999:999:postgres:/var/lib/postgresql:/bin/sh' 'node:x:1000:1000:node:/home/node:/bin/sh' \
    'nobody:x:65534:65534:nobody:/nonexistent:/bin/sh'
  write_if_changed "$etc/group" 'root:x:0:' 'vault:x:1000:' 'postgres:x:999:' 'nogroup:x:65534:'
  printf '%s\n' "--file=$etc/passwd:/etc/passwd:644" "--file=$etc/group:/etc/group:644" "--file=/bin/busybox:/bin/busybox:755" \
    "--mkdir=/tmp:1777" "--env=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
  for t in sh test cat ls mkdir mktemp rm chmod env sleep wget printf echo; do echo "--symlink=/bin/$t:busybox"; done
}

# --file arguments for the shared libraries `ldd` names for these programs, each at its own path.
lib_args() {
  ldd "$@" 2>/dev/null | awk '/=> \// {print $3} /^[ \t]*\/lib/ {print $1}' | sort -u | while read -r lib; do
    echo "--file=$lib:$lib"
  done
}

# The tag of an image made from these inputs: a hash of the argument list and of every file it names (path, size
# and modification time, as make judges staleness: reading the contents of node_modules and a 100 MB node binary on
# every run costs seconds that a warm start cannot spare).
inputs_hash() {
  printf '%s\n' "$@" | sed -n 's/^--\(file\|dir\)=\([^:]*\):.*/\2/p' | sort -u | while read -r f; do
    if [ -d "$f" ]; then find "$f" -type f -printf '%p %s %T@\n' | sort; else stat -L -c '%n %s %Y' "$f"; fi
  done | { cat; sha256sum "$here/docker-archive.py"; printf '%s\n' "$@"; } | sha256sum | cut -c1-12
}

# Writes (once) and imports (once) an image; prints its full name. Usage: build_image NAME -- ARGS...
build_image() {
  local name=$1; shift
  local h tag a
  h=$(inputs_hash "$@")
  tag="aurora-k8s/$name:$h"
  if ! imported "$tag"; then
    a="$cache/$name-$h.tar"
    if [ ! -s "$a" ]; then
      rm -f "$cache/$name"-*.tar
      log "writing $tag"
      python3 "$here/docker-archive.py" --tag "$tag" --out "$a" "$@" || die "could not write $tag"
    fi
    import_archive "$tag" "$a"
  fi
  echo "docker.io/$tag"
}

vault_image() {
  local bin
  bin=$("$root/scripts/ensure-vault.sh") || die "no Vault binary (scripts/ensure-vault.sh failed, see above)"
  local args
  mapfile -t args < <(common_args "$cache/etc")
  # The Vault build is static (CGO_ENABLED=0): the binary is all it needs.
  build_image vault "${args[@]}" "--file=$bin:/bin/vault:755" --mkdir=/vault --mkdir=/vault/data:700:100 \
    --mkdir=/vault/logs:700:100 --mkdir=/home/vault:700:100 --env=VAULT_ADDR=http://127.0.0.1:8200 --env=SKIP_SETCAP=true \
    --user=100 --cmd='["vault","version"]'
}

postgres_image() {
  local pg=/usr/lib/postgresql/15
  [ -x "$pg/bin/postgres" ] || die "PostgreSQL 15 is not installed here: scripts/ensure-postgres.sh (or apt-get install postgresql-15) and rerun."
  local args libs
  mapfile -t args < <(common_args "$cache/etc")
  mapfile -t libs < <(lib_args "$pg"/bin/* $(find "$pg/lib" -maxdepth 1 -name '*.so' ! -name 'llvmjit*'))
  local bins=() b
  for b in postgres initdb pg_ctl psql pg_dump pg_isready; do bins+=("--file=$pg/bin/$b:$pg/bin/$b:755"); done
  local libdir=() f
  for f in $(find "$pg/lib" -maxdepth 1 -name '*.so' ! -name 'llvmjit*'); do libdir+=("--file=$f:$f"); done
  build_image postgres "${args[@]}" "${libs[@]}" "${bins[@]}" "${libdir[@]}" "--dir=/usr/share/postgresql/15:/usr/share/postgresql/15" \
    "--file=/usr/share/zoneinfo/Etc/UTC:/usr/share/zoneinfo/Etc/UTC:644" "--file=/usr/share/zoneinfo/UTC:/usr/share/zoneinfo/UTC:644" \
    "--file=$here/postgres-entrypoint.sh:/usr/local/bin/docker-entrypoint.sh:755" \
    --mkdir=/var/run/postgresql:2775:999 --mkdir=/var/lib/postgresql:755:999 --mkdir=/var/lib/postgresql/data:700:999 \
    "--env=PATH=$pg/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" --env=PGDATA=/var/lib/postgresql/data \
    --env=TZ=UTC --env=LANG=C.UTF-8 --user=999 --entrypoint='["docker-entrypoint.sh"]' --cmd='[]'
}

# node_modules with the production dependencies of the app and vault-init, once per lock file.
prod_modules() {
  local h dir
  h=$(cat "$root/package-lock.json" "$root/package.json" "$root"/packages/*/package.json "$root"/services/*/package.json | sha256sum | cut -c1-16)
  # "-lean": type declarations and source maps removed (~50 MB that the runtime never reads, written and
  # imported into every fresh node otherwise).
  dir="$cache/node-modules-lean-$h"
  if [ ! -d "$dir/node_modules" ]; then
    log "installing the production dependencies (npm ci --omit=dev; once per package-lock.json)"
    rm -rf "$cache"/node-modules-* ; mkdir -p "$dir.partial"
    (cd "$root" && cp package.json package-lock.json "$dir.partial/" && \
      for w in packages/common services/app services/vault-init; do mkdir -p "$dir.partial/$w"; cp "$w/package.json" "$dir.partial/$w/"; done)
    (cd "$dir.partial" && npm ci --omit=dev --no-audit --no-fund --ignore-scripts -w services/app -w services/vault-init >&2) \
      || die "npm ci failed (see above)"
    find "$dir.partial/node_modules" -type f \( -name '*.map' -o -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' \) -delete
    mv "$dir.partial" "$dir"
  fi
  echo "$dir"
}

# The Node the production images run (images-offline.sh's NODE_VERSION), fetched once.
node_binary() {
  "$root/scripts/ensure-production-node.sh"
}

app_image() {
  [ -d "$root/services/app/dist" ] && [ -d "$root/services/vault-init/dist" ] \
    || die "services/*/dist is missing: run 'npx tsc --build' (make build) first."
  local mods node args libs
  mods=$(prod_modules)
  node=$(node_binary)
  mapfile -t args < <(common_args "$cache/etc")
  mapfile -t libs < <(lib_args "$node")
  local files=(--mkdir=/app "--dir=$mods/node_modules:/app/node_modules" "--file=$root/package.json:/app/package.json"
    "--file=$root/services/app/config/vault-config.json:/etc/aurora/vault-config.json"
    "--file=$root/vault/agent/secrets.json:/vault/agent/secrets.json"
    "--dir=$root/vault/policies:/vault/policies" "--dir=$root/services/app/migrations:/app/services/app/migrations")
  local w
  for w in packages/common services/app services/vault-init; do
    files+=("--file=$root/$w/package.json:/app/$w/package.json" "--dir=$root/$w/dist:/app/$w/dist")
  done
  # The production images' node and its libraries; the app and vault-init of this tree.
  build_image aurora-secrets "${args[@]}" "${libs[@]}" "--file=$node:/usr/local/bin/node:755" "${files[@]}" \
    --mkdir=/home/node:700:1000 --env=NODE_ENV=production --user=1000 --workdir=/app \
    --cmd='["node","--max-semi-space-size=4","--heap-growing-percent=50","/app/services/app/dist/main.js"]'
}

# A process and everything under it (a builder runs python3, ctr, nsenter below its own subshell).
kill_tree() {
  local c
  for c in $(pgrep -P "$1" 2>/dev/null); do kill_tree "$c"; done
  kill "$1" 2>/dev/null || true
}

# The three at once: each import is a stream of copying and unpacking that one core cannot keep busy alone.
# Stopped (stack.sh kills it when the node fails to boot) or failing, it takes its builders and temp dir with it:
# a builder left running would hold the image cache and the node's containerd after the stack is gone.
stack_pids=() stack_out=""
stack_cleanup() {
  local p
  for p in "${stack_pids[@]}"; do kill_tree "$p"; done
  [ -z "$stack_out" ] || rm -rf "$stack_out"
}
stack() {
  after_system=1
  local n rc=0
  trap stack_cleanup EXIT
  trap 'exit 143' TERM INT
  stack_out=$(mktemp -d)
  for n in vault postgres app; do
    "${n}_image" >"$stack_out/$n" &
    stack_pids+=($!)
  done
  for n in "${stack_pids[@]}"; do wait "$n" || rc=1; done
  stack_pids=()
  [ "$rc" = 0 ] || die "an image could not be written or imported (see above)"
  printf 'vault=%s\npostgres=%s\napp=%s\n' "$(cat "$stack_out/vault")" "$(cat "$stack_out/postgres")" \
    "$(cat "$stack_out/app")"
}

case ${1:-} in
  system) system ;;
  stack) stack ;;
  vault) vault_image ;;
  postgres) postgres_image ;;
  app) app_image ;;
  *) echo "usage: $0 system|stack|vault|postgres|app" >&2; exit 2 ;;
esac
