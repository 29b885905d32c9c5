#!/usr/bin/env bash
# `make test-k8s`: the Kubernetes e2e (test/k8s) on a fresh local node of its own (own state, network
# namespace and cgroup root, so a `make k8s` cluster is left alone): the chart installed with one Vault pod,
# then the stories in order (Aidbox flow, Aurora flow, scale 1 → 3, active Vault pod deleted, app pod deleted
# and helm upgrade under load), then `helm uninstall` + clean, and a check that nothing is left behind.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
export AURORA_K8S_STATE=${AURORA_K8S_STATE:-/var/lib/aurora-secrets/k8s-test}
export AURORA_K8S_RUN=${AURORA_K8S_RUN:-/run/aurora-secrets/k8s-test}
export AURORA_K8S_NETNS=${AURORA_K8S_NETNS:-aurora-k8s-test}
export AURORA_K8S_CGROUP_ROOT=${AURORA_K8S_CGROUP_ROOT:-aurora-k8s-test}
. "$here/env.sh"
k8s_logger test-k8s

# `make test` runs this after everything else: skip loudly where a node cannot run (CI=true makes that a failure).
skip() {
  [ "${CI:-}" != true ] || { log "CI=true and $1: the Kubernetes e2e cannot run"; exit 1; }
  log "SKIPPED: the Kubernetes e2e ($1)"
  exit 0
}
[ -z "${SKIP_K8S:-}" ] || { log "SKIPPED: the Kubernetes e2e (SKIP_K8S is set)"; exit 0; }
[ "$(id -u)" = 0 ] || skip "not root: the local node needs namespaces, mounts and cgroups"

# Leftovers of an interrupted run first.
"$here/stack.sh" clean >/dev/null 2>&1 || true

leftovers() {
  local found=0 f
  for f in "$K8S_RUN"/pids/*.pid; do [ -e "$f" ] && { echo "pid file left: $f"; found=1; }; done
  [ -e "/run/netns/$K8S_NETNS" ] && { echo "network namespace left: $K8S_NETNS"; found=1; }
  # /run/netns mounted by `ip netns add` for a local node, still there though no node runs.
  [ -e "$(dirname "$K8S_RUN")/run-netns-mounted-by-aurora" ] && [ ! -e /run/aurora-secrets/k8s/pids/kube-apiserver.pid ] &&
    { echo "/run/netns still mounted"; found=1; }
  grep -qF " $K8S_RUN" /proc/mounts && { echo "mounts left under $K8S_RUN"; found=1; }
  grep -qF " $K8S_STATE" /proc/mounts && { echo "mounts left under $K8S_STATE"; found=1; }
  for f in $(awk '$3 == "cgroup" || $3 == "cgroup2" {print $2}' /proc/mounts); do
    [ -d "$f/$K8S_CGROUP_ROOT" ] && { echo "cgroup left: $f/$K8S_CGROUP_ROOT"; found=1; }
  done
  local p
  for p in /proc/[0-9]*; do
    { tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null | grep -qE -- "$K8S_RUN/|$K8S_STATE/" && { echo "process left: ${p#/proc/}"; found=1; }
  done
  [ -d "$K8S_STATE" ] && { echo "state left: $K8S_STATE"; found=1; }
  return $found
}

rc=0
failed=()
timings=()
t_up=$SECONDS
K8S_VAULT_REPLICAS=1 "$here/stack.sh" up || rc=$?
up_s=$((SECONDS - t_up))
if [ "$rc" = 0 ]; then
  log "running test/k8s inside the node's namespaces"
  # One node process per story, in this order: the stories share one cluster and build on each other
  # (the Vault pod deletion needs the three pods the scale story leaves), and node's runner would sort them.
  files=(
    test/k8s/helm-chart-lints-and-renders-every-mode.test.ts
    test/k8s/aidbox-client-secret-file-rotates.test.ts
    test/k8s/credential-reference-no-secret-leaks.test.ts
    test/k8s/vault-scale-1-to-3-joins-and-unseals.test.ts
    test/k8s/vault-active-pod-deleted-writes-continue.test.ts
    test/k8s/app-pod-deleted-and-helm-upgrade-zero-failures.test.ts
  )
  for f in "${files[@]}"; do
    t0=$SECONDS
    (cd "$root" && in_node env KUBECTL="$K8S_BIN_DIR/kubectl" KUBECONFIG="$K8S_KUBECONFIG" HELM="$HELM_BIN_DIR/helm" \
      HELM_CACHE_HOME="$K8S_STATE/helm/cache" HELM_CONFIG_HOME="$K8S_STATE/helm/config" HELM_DATA_HOME="$K8S_STATE/helm/data" \
      K8S_NAMESPACE=aurora K8S_RELEASE=aurora-secrets K8S_VERSION="$K8S_VERSION" K8S_CHART="$root/deploy/helm/aurora-secrets" \
      node --import tsx --test --test-reporter=spec "$f") && r=0 || r=$?
    [ "$r" = 0 ] || { rc=$r; failed+=("$f"); }
    timings+=("$(printf '%4ss %s %s' "$((SECONDS - t0))" "$([ "$r" = 0 ] && echo pass || echo FAIL)" "${f#test/k8s/}")")
  done
else
  log "the cluster did not come up; kubelet log tail:"
  tail -n 30 "$K8S_STATE/logs/kubelet.log" 2>/dev/null >&2 || true
fi

t_clean=$SECONDS
log "helm uninstall + clean"
"$here/stack.sh" clean || rc=1
if ! out=$(leftovers); then
  log "left behind after clean:"; echo "$out" >&2; rc=1
else
  log "nothing left behind (processes, namespaces, mounts, cgroups, state)"
fi
log "timings: cluster up + chart ready ${up_s}s, stories:"
for t in "${timings[@]}"; do printf '    %s\n' "$t" >&2; done
log "  helm uninstall + clean $((SECONDS - t_clean))s"
[ ${#failed[@]} = 0 ] || log "failed: ${failed[*]}"
log "done in $((SECONDS - t_start))s (exit $rc)"
exit $rc
