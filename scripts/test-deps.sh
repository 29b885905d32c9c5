#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian machine; each step is a no-op when already done.
# Usage: test-deps.sh [--docker] [--k8s]   (--docker: also a Docker engine, for the compose e2e; --k8s: also what
# the Kubernetes e2e needs: Debian's containerd, runc, etcd, CNI plugins, and Kubernetes, helm, CoreDNS and a pause
# program built from their Go modules once, cached in ~/.cache/aurora-secrets, with progress lines)
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '[deps] %s\n' "$*" >&2; }
docker="" k8s=""
for arg in "$@"; do
  case $arg in
    --docker) docker=1 ;;
    --k8s) k8s=1 ;;
    *) log "unknown option $arg (--docker, --k8s)"; exit 2 ;;
  esac
done

# npm packages: `npm ci` when node_modules is missing or older than the lock file.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "npm ci"
  npm ci --no-audit --no-fund >&2
fi
# Each path is taken before it is logged: inside log's arguments a failure would not stop the script (set -e).
postgres=$(scripts/ensure-postgres.sh)
log "PostgreSQL server: $postgres"
vault=$(scripts/ensure-vault.sh)
log "Vault: $vault"
# The Node of the production images: tests of what only it runs (the Kubernetes client needs Node >= 22) start it.
production_node=$(scripts/ensure-production-node.sh)
log "Node of the production images: $production_node"
# The compose e2e needs a Docker engine (`--docker`); ensure-docker.sh starts one if it can, loudly if not.
if [ -n "$docker" ] && [ -z "${SKIP_DOCKER:-}" ]; then
  scripts/ensure-docker.sh || { [ "${CI:-}" = true ] && { log "CI=true and no Docker engine could be started"; exit 1; }; log "continuing without Docker: the compose e2e will be skipped"; }
fi
# The Kubernetes e2e needs root (namespaces, mounts, cgroups); scripts/k8s/test.sh says so again when it skips.
if [ -n "$k8s" ] && [ -z "${SKIP_K8S:-}" ]; then
  if [ "$(id -u)" = 0 ]; then
    scripts/k8s/ensure-host-packages.sh
    # Cold, the build takes ~11 min of both cores, and only the Kubernetes e2e, which runs last, needs it: it runs
    # in the background beside the other suites, and the e2e's node start waits on its locks (with progress).
    if ! scripts/k8s/ensure-binaries.sh --cached; then
      . scripts/k8s/versions.sh
      mkdir -p "$K8S_CACHE"
      log "building Kubernetes, helm, CoreDNS and pause in the background, beside the tests (progress: $K8S_BUILD_LOG)"
      log "  the Kubernetes e2e waits for it; interrupted, the build still finishes (it only fills the cache)"
      nohup scripts/k8s/ensure-binaries.sh pause coredns helm kubernetes >"$K8S_BUILD_LOG" 2>&1 </dev/null &
    fi
  else
    log "not root: the Kubernetes e2e will be skipped (it needs namespaces, mounts and cgroups)"
  fi
fi
