#!/usr/bin/env bash
# Installs the Debian packages the local Kubernetes node runs on, when one is missing:
#   containerd runc (the node's own container runtime, separate from Docker's), etcd-server (the API's store),
#   containernetworking-plugins (bridge, host-local, loopback, portmap), iptables + conntrack (kube-proxy),
#   openssl (the cluster's PKI), util-linux (unshare, nsenter), iproute2 (the network namespace),
#   busybox-static (the images' shell).
# None of their services is started: the node's scripts start their own processes inside its namespaces.
set -euo pipefail
log() { printf '[k8s-packages] %s\n' "$*" >&2; }

want=()
# A command name, or a file path when the package ships no command on PATH.
need() { if [ "${1#/}" != "$1" ]; then [ -x "$1" ] || want+=("$2"); else command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || want+=("$2"); fi; }
need containerd containerd
need runc runc
need etcd etcd-server
need /usr/lib/cni/bridge containernetworking-plugins
need iptables iptables
need conntrack conntrack
need openssl openssl
need nsenter util-linux
need ip iproute2
# The images' shell and tools (sh, test, mktemp): one static binary, no libraries to carry.
[ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1 || want+=(busybox-static)
[ ${#want[@]} -gt 0 ] || exit 0

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  log "missing: ${want[*]}, and this is not root on Debian/Ubuntu. Install them (sudo apt-get install ${want[*]}) and rerun."
  exit 1
fi
t0=$SECONDS
log "installing Debian packages: ${want[*]} (about a minute)..."
apt-get -o DPkg::Lock::Timeout=300 update -qq >&2
# The packages must not start their own containerd or etcd through an init system: a temporary policy-rc.d
# says "start no services".
# Removed on every exit, an interrupted one too: left behind, it would silently keep every later package on
# this host from starting its service.
policy=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
  policy=/usr/sbin/policy-rc.d
  trap 'rm -f "$policy"' EXIT
  trap 'exit 143' TERM INT HUP
  printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod +x "$policy"
fi
rc=0
DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${want[@]}" >&2 || rc=$?
[ -z "$policy" ] || rm -f "$policy"
[ "$rc" = 0 ] || { log "apt-get install failed (see above)"; exit 1; }
log "installed in $((SECONDS - t0))s"
