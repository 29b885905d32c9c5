# The local node's layout; sourced by scripts/k8s/*.sh. Everything it creates is under these paths, in the
# network namespace $K8S_NETNS and in the mount namespace pinned at $K8S_RUN/ns/mnt.
here_env=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here_env/versions.sh"

# The scripts' progress lines on stderr, "[<tag> <seconds since start>s] message": `k8s_logger node` at the top
# of a script defines log, die (log, then exit 1) and starts t_start (the scripts also report it in totals).
k8s_logger() {
  k8s_log_tag=$1
  t_start=$SECONDS
  log() { printf '[%s %4ss] %s\n' "$k8s_log_tag" "$((SECONDS - t_start))" "$*" >&2; }
  die() { log "$*"; exit 1; }
}
# State that survives `make k8s-down` (etcd, containerd's images, the PKI, the volumes' data).
K8S_STATE="${AURORA_K8S_STATE:-/var/lib/aurora-secrets/k8s}"
# Sockets, pid files and the pinned mount namespace: gone with `make k8s-clean` (and a reboot).
K8S_RUN="${AURORA_K8S_RUN:-/run/aurora-secrets/k8s}"
K8S_NETNS="${AURORA_K8S_NETNS:-aurora-k8s}"
K8S_NODE_NAME=aurora-node
# Addresses exist only inside the namespace: the node on its loopback, pods on a bridge, services virtual.
K8S_NODE_IP=10.213.0.1
K8S_POD_CIDR=10.214.0.0/24
K8S_POD_GATEWAY=10.214.0.1
K8S_SERVICE_CIDR=10.215.0.0/24
K8S_API_SERVICE_IP=10.215.0.1
K8S_DNS_IP=10.215.0.10
K8S_CONTAINERD_SOCK="$K8S_RUN/containerd/containerd.sock"
K8S_KUBECONFIG="$K8S_STATE/pki/admin.kubeconfig"
K8S_MNTNS="$K8S_RUN/ns/mnt"
K8S_PAUSE_IMAGE="docker.io/aurora-k8s/pause:$PAUSE_VERSION"
K8S_COREDNS_IMAGE="docker.io/aurora-k8s/coredns:$COREDNS_VERSION"
# The kubelet's cgroup root (cgroupfs driver, cgroup v1): every pod lives under /<root>/kubepods in each
# controller, so two nodes never share cgroups, and clean-up removes exactly this tree, depth first.
K8S_CGROUP_ROOT="${AURORA_K8S_CGROUP_ROOT:-aurora-k8s}"

# Runs a command inside the node's network and mount namespaces.
in_node() { nsenter --net="/run/netns/$K8S_NETNS" --mount="$K8S_MNTNS" --wd="$PWD" -- "$@"; }
kctl() { in_node "$K8S_BIN_DIR/kubectl" --kubeconfig "$K8S_KUBECONFIG" "$@"; }
khelm() { in_node env KUBECONFIG="$K8S_KUBECONFIG" HELM_CACHE_HOME="$K8S_STATE/helm/cache" \
  HELM_CONFIG_HOME="$K8S_STATE/helm/config" HELM_DATA_HOME="$K8S_STATE/helm/data" "$HELM_BIN_DIR/helm" "$@"; }
kctr() { in_node ctr -a "$K8S_CONTAINERD_SOCK" -n k8s.io "$@"; }
node_up() { [ -e "$K8S_MNTNS" ] && [ -e "/run/netns/$K8S_NETNS" ] && [ -s "$K8S_RUN/pids/kube-apiserver.pid" ] &&
  kill -0 "$(cat "$K8S_RUN/pids/kube-apiserver.pid")" 2>/dev/null; }
