#!/usr/bin/env bash
# `kubectl port-forward` for the local node, reachable from this machine's localhost:
#   scripts/k8s/port-forward.sh [-n NAMESPACE] svc/NAME LOCAL:REMOTE
# kubectl port-forward runs inside the node's network namespace; a Unix socket carries the connections from
# 127.0.0.1:LOCAL on this machine into it (nothing else crosses the namespace). Ctrl-C stops all three parts.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"
ns=(-n aurora)
if [ "${1:-}" = -n ]; then ns=(-n "$2"); shift 2; fi
target=${1:?usage: $0 [-n NAMESPACE] svc/NAME LOCAL:REMOTE}
ports=${2:?usage: $0 [-n NAMESPACE] svc/NAME LOCAL:REMOTE}
local_port=${ports%%:*}
remote_port=${ports##*:}
node_up || { echo "the local Kubernetes node is not running: make k8s" >&2; exit 1; }
mkdir -p "$K8S_RUN/forward"
sock="$K8S_RUN/forward/$$.sock"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -f "$sock"; }
trap cleanup EXIT INT TERM
# Inside the namespace the same port number is free: the namespace has its own ports.
kctl "${ns[@]}" port-forward --address 127.0.0.1 "$target" "$local_port:$remote_port" >/dev/null &
pids+=($!)
in_node python3 "$here/relay.py" unix-to-tcp "$sock" 127.0.0.1 "$local_port" &
pids+=($!)
python3 "$here/relay.py" tcp-to-unix 127.0.0.1 "$local_port" "$sock" &
pids+=($!)
echo "forwarding 127.0.0.1:$local_port -> $target:$remote_port (namespace ${ns[1]}); Ctrl-C to stop" >&2
wait -n "${pids[@]}"
