# Versions and cache locations of the local Kubernetes node's pieces; sourced by every scripts/k8s/*.sh.
# Kubernetes 1.37.x: the last line whose kubelet still runs on a cgroup v1 host (with failCgroupV1: false).
K8S_VERSION=v1.37.2
HELM_VERSION=v3.22.0
COREDNS_VERSION=v1.14.7
# Our own pause program (scripts/k8s/pause/main.go); bump when it changes.
PAUSE_VERSION=1
K8S_CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/aurora-secrets"
K8S_BIN_DIR="$K8S_CACHE/kubernetes-$K8S_VERSION"
HELM_BIN_DIR="$K8S_CACHE/helm-$HELM_VERSION"
COREDNS_BIN_DIR="$K8S_CACHE/coredns-$COREDNS_VERSION"
PAUSE_BIN_DIR="$K8S_CACHE/pause-$PAUSE_VERSION"
# Where `make test` writes the progress of the build it starts in the background (scripts/test-deps.sh).
K8S_BUILD_LOG="$K8S_CACHE/background-build.log"
K8S_COMPONENTS=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl)
