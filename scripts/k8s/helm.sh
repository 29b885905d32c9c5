#!/usr/bin/env bash
# helm for the local node (`make k8s`): runs inside its namespaces with its admin kubeconfig.
set -euo pipefail
. "$(cd "$(dirname "$0")" && pwd)/env.sh"
node_up || { echo "the local Kubernetes node is not running: make k8s" >&2; exit 1; }
khelm "$@"
