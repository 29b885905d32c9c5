#!/usr/bin/env bash
# `make k8s` / `make k8s-down` / `make k8s-clean`: the stack on a local single-node Kubernetes.
#   up     the node (scripts/k8s/node.sh), the images into its containerd (scripts/k8s/images.sh), the
#          chart (deploy/helm/aurora-secrets) into namespace $K8S_NAMESPACE, wait until ready, print how to
#          reach the app and the Vault UI and how to get the root token
#   down   stop the node, keep everything (the next `up` resumes with the same Vault and data)
#   clean  helm uninstall, then remove the node and everything it created (processes, namespaces, mounts,
#          cgroups, state: the init-material Secret and every secret with it)
# Settings: K8S_NAMESPACE (aurora), K8S_RELEASE (aurora-secrets), K8S_VAULT_REPLICAS (3), K8S_TIMEOUT (300 s).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$here/env.sh"
NS=${K8S_NAMESPACE:-aurora}
RELEASE=${K8S_RELEASE:-aurora-secrets}
REPLICAS=${K8S_VAULT_REPLICAS:-3}
TIMEOUT=${K8S_TIMEOUT:-300}
k8s_logger k8s

# The chart's object names (its fullname: the release name when it contains the chart's name).
fullname() { case $RELEASE in *aurora-secrets*) echo "$RELEASE" ;; *) echo "$RELEASE-aurora-secrets" ;; esac; }

# helm values that point the chart at the images imported into the node's containerd (images.sh stack's
# vault=/postgres=/app= lines on stdin).
image_values() {
  local line name ref k
  while IFS= read -r line; do
    name=${line%%=*}; ref=${line#*=}
    case $name in
      vault) set -- vault.image agent.image ;;
      postgres) set -- postgresql.image ;;
      app) set -- app.image vaultInit.image ;;
      *) continue ;;
    esac
    for k in "$@"; do
      printf '%s\n' --set "$k.repository=${ref%:*}" --set "$k.tag=${ref##*:}" --set "$k.pullPolicy=Never"
    done
  done
}

wait_ready() {
  local f
  f=$(fullname)
  local what
  for what in "statefulset/$f-postgresql" "statefulset/$f-vault" "deployment/$f-vault-init" "deployment/$f-app"; do
    local t0=$SECONDS
    log "waiting for $what"
    until kctl -n "$NS" rollout status "$what" --timeout=5s >/dev/null 2>&1; do
      [ $((SECONDS - t_start)) -lt "$TIMEOUT" ] || {
        kctl -n "$NS" get pods -o wide >&2 || true
        die "$what not ready after ${TIMEOUT}s: see 'scripts/k8s/kubectl.sh -n $NS describe $what' and its pods' logs"
      }
      log "  $what: $(kctl -n "$NS" get pods -l "app.kubernetes.io/component=${what#*/$f-}" --no-headers 2>/dev/null \
        | awk '{printf "%s %s %s; ", $1, $2, $3}') $((SECONDS - t0))s"
    done
    phases+=("${what#*/$f-} $((SECONDS - t0))s")
  done
}

# Where the time went, one line: "node 17s, images 30s, helm 2s, postgresql 14s, ...".
phases=()
phase() { phases+=("$1 $((SECONDS - phase_t0))s"); phase_t0=$SECONDS; }

up() {
  phase_t0=$SECONDS
  # The images are written (and hashed) while the node boots, and imported as soon as its containerd answers.
  log "images: Vault, PostgreSQL, and this tree's app and vault-init (written and imported once per change)"
  local images_out images_pid images
  images_out=$(mktemp)
  K8S_NODE_BOOTING=1 "$here/images.sh" stack >"$images_out" &
  images_pid=$!
  # shellcheck disable=SC2064 # the PID and file are fixed now
  trap "kill $images_pid 2>/dev/null; rm -f '$images_out'" EXIT
  "$here/node.sh" up
  phase node
  wait "$images_pid" || die "the images could not be written or imported (see above)"
  images=$(cat "$images_out")
  rm -f "$images_out"
  trap - EXIT
  phase "images (after the node)"
  kctl get namespace "$NS" >/dev/null 2>&1 || kctl create namespace "$NS" >/dev/null
  # PostgreSQL's password: made here, at run time, handed to the chart as a Secret it only references (never a
  # chart value, so never in Helm's release record).
  if ! kctl -n "$NS" get secret aurora-postgres >/dev/null 2>&1; then
    # Through stdin, so the password is never on a command line (where `ps` would show it).
    openssl rand -hex 24 | tr -d '\n' |
      kctl -n "$NS" create secret generic aurora-postgres --from-file=password=/dev/stdin >/dev/null
  fi
  log "helm upgrade --install $RELEASE deploy/helm/aurora-secrets (namespace $NS, Vault replicas $REPLICAS)"
  local vals
  mapfile -t vals < <(image_values <<<"$images")
  khelm upgrade --install "$RELEASE" "$root/deploy/helm/aurora-secrets" -n "$NS" "${vals[@]}" \
    --set "vault.replicas=$REPLICAS" --set postgresql.auth.existingSecret=aurora-postgres \
    --set vault.storage.storageClass=aurora-local --set postgresql.storage.storageClass=aurora-local \
    ${K8S_HELM_ARGS:-} >/dev/null
  phase helm
  wait_ready
  local f
  f=$(fullname)
  local summary
  summary=$(printf '%s, ' "${phases[@]}")
  log "ready in $((SECONDS - t_start))s: ${summary%, }"
  cat <<EOF2

aurora-secrets is ready on the local Kubernetes node ($((SECONDS - t_start))s).
  kubectl:      scripts/k8s/kubectl.sh -n $NS get pods
  the app:      scripts/k8s/port-forward.sh -n $NS svc/$f-app 8080:8080        -> http://localhost:8080
  the Vault UI: scripts/k8s/port-forward.sh -n $NS svc/$f-vault 8200:8200      -> http://localhost:8200/ui
                (this source build of Vault has no UI assets; the official image's UI works the same way)
  root token:   scripts/k8s/kubectl.sh -n $NS get secret $f-vault-init -o jsonpath='{.data.init\.json}' | base64 -d | grep root_token
  Vault CLI:    scripts/k8s/kubectl.sh -n $NS exec -i $f-vault-0 -c vault -- \\
                  sh -c 'read -r VAULT_TOKEN; export VAULT_TOKEN; exec vault "\$@"' vault status
                (then type the root token and Enter: on stdin it stays off every command line)
Stop (keep data): make k8s-down.  Remove everything: make k8s-clean.
EOF2
}

down() { "$here/node.sh" down; }

clean() {
  if node_up; then
    log "helm uninstall $RELEASE (namespace $NS)"
    khelm uninstall "$RELEASE" -n "$NS" --wait --timeout 120s >/dev/null 2>&1 || true
  fi
  "$here/node.sh" clean
}

case ${1:-} in
  up) up ;;
  down) down ;;
  clean) clean ;;
  *) echo "usage: $0 up|down|clean" >&2; exit 2 ;;
esac
