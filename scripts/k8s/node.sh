#!/usr/bin/env bash
# A single-node Kubernetes on this machine, isolated from it:
#   up     network namespace + mount namespace, PKI, etcd, kube-apiserver, kube-controller-manager,
#          kube-scheduler, containerd, kubelet, kube-proxy, CoreDNS; waits until the node and DNS are ready
#   down   stops every process it started (by recorded PID) and the pods' containers; keeps the state
#   clean  down, then removes the namespaces, the mounts, the kubelet's cgroups and all state
#   status which processes run
# Nothing routes out of the network namespace: pods reach each other, the control plane, and what is
# port-forwarded; CoreDNS has no forward plugin. State: $K8S_STATE; runtime: $K8S_RUN (scripts/k8s/env.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"
k8s_logger k8s-node
[ "$(id -u)" = 0 ] || die "the local node needs root (namespaces, mounts, cgroups): rerun as root."

# Host directories the kubelet and the CNI plugins insist on; inside the mount namespace each is a bind
# mount of a directory under $K8S_STATE (or $K8S_RUN), so nothing is written to the host's copy.
BIND_DIRS=(/var/lib/kubelet /var/log/pods /var/log/containers /var/lib/cni /etc/kubernetes /run/netns /opt/cni)
CREATED_LIST="$K8S_STATE/host-dirs-created"

# Waits until "$@" succeeds, printing what it waits for every 10 s; fails after $timeout seconds.
wait_for() {
  local what=$1 timeout=$2 t0=$SECONDS next=10; shift 2
  until "$@" >/dev/null 2>&1; do
    if [ $((SECONDS - t0)) -ge "$timeout" ]; then return 1; fi
    if [ $((SECONDS - t0)) -ge "$next" ]; then log "  waiting for $what... $((SECONDS - t0))s"; next=$((next + 10)); fi
    sleep 1
  done
}

pid_of() { cat "$K8S_RUN/pids/$1.pid" 2>/dev/null || true; }
running() { local p; p=$(pid_of "$1"); [ -n "$p" ] && kill -0 "$p" 2>/dev/null; }

# Starts a long-running process inside the namespaces, logging to $K8S_STATE/logs/<name>.log.
start_proc() {
  local name=$1; shift
  if running "$name"; then return; fi
  mkdir -p "$K8S_STATE/logs" "$K8S_RUN/pids"
  # setsid: its own session, so a ^C in the user's terminal does not reach the node. Not a group leader
  # here, so setsid execs in place and $! is the process itself.
  nsenter --net="/run/netns/$K8S_NETNS" --mount="$K8S_MNTNS" -- setsid "$@" >>"$K8S_STATE/logs/$name.log" 2>&1 </dev/null 8>&- 9>&- &
  echo $! >"$K8S_RUN/pids/$name.pid"
}

# `ip netns add` makes /run/netns a shared bind mount of itself (and the directory, if missing) on the host. When
# that mount is ours, a marker shared by every local node says so, and the last node released undoes it.
NETNS_MOUNT_MARK="$(dirname "$K8S_RUN")/run-netns-mounted-by-aurora"

setup_netns() {
  if [ ! -e "/run/netns/$K8S_NETNS" ]; then
    mountpoint -q /run/netns 2>/dev/null || { mkdir -p "$(dirname "$NETNS_MOUNT_MARK")"; : >"$NETNS_MOUNT_MARK"; }
    ip netns add "$K8S_NETNS"
  fi
  local n=(nsenter --net="/run/netns/$K8S_NETNS")
  "${n[@]}" ip link set lo up
  # replace: idempotent when the node is brought up again on a running namespace.
  "${n[@]}" ip addr replace "$K8S_NODE_IP/32" dev lo
  # Node-local processes (kubelet probes, port-forward) reach ClusterIPs through kube-proxy's OUTPUT rules,
  # which need a route to exist first. There is no default route: nothing leaves the namespace.
  "${n[@]}" ip route replace "$K8S_SERVICE_CIDR" dev lo src "$K8S_NODE_IP"
  "${n[@]}" sysctl -qw net.ipv4.ip_forward=1
  "${n[@]}" sysctl -qw net.ipv4.conf.all.route_localnet=1 || true
}

setup_mountns() {
  mkdir -p "$K8S_RUN/ns"
  local fresh=""
  if [ ! -e "$K8S_MNTNS" ] || ! nsenter --mount="$K8S_MNTNS" true 2>/dev/null; then
    fresh=1
    # A mount namespace is pinned by bind-mounting its nsfs file, which must live on a private mount.
    mountpoint -q "$K8S_RUN/ns" || { mount --bind "$K8S_RUN/ns" "$K8S_RUN/ns"; mount --make-private "$K8S_RUN/ns"; }
    touch "$K8S_MNTNS"
    unshare --mount="$K8S_MNTNS" --propagation unchanged true
    # The kubelet needs shared propagation for volume mounts; the host's / is private, and stays so.
    nsenter --mount="$K8S_MNTNS" mount --make-rprivate /
    nsenter --mount="$K8S_MNTNS" mount --make-rshared /
  fi
  local d src
  : >>"$CREATED_LIST"
  for d in "${BIND_DIRS[@]}"; do
    if [ ! -d "$d" ]; then mkdir -p "$d"; echo "$d" >>"$CREATED_LIST"; fi
    case $d in
      /run/netns) src="$K8S_RUN/pod-netns" ;;
      *) src="$K8S_STATE/root$d" ;;
    esac
    mkdir -p "$src"
    # Bound once, when the namespace is new: /run/netns is already a mount point (the host's, from `ip netns`),
    # so "is it mounted" cannot tell whether ours is there.
    [ -n "$fresh" ] && nsenter --mount="$K8S_MNTNS" mount --bind "$src" "$d"
  done
  # The CNI plugins: Debian installs them in /usr/lib/cni.
  mkdir -p "$K8S_STATE/root/opt/cni/bin"
  for f in bridge host-local loopback portmap; do cp -f "/usr/lib/cni/$f" "$K8S_STATE/root/opt/cni/bin/$f"; done
}

pki() {
  local p="$K8S_STATE/pki"
  [ -s "$p/admin.kubeconfig" ] && return
  log "creating the cluster's PKI (a CA, the API server's serving cert, client certs, the service-account keys)"
  mkdir -p "$p"; chmod 700 "$p"
  (
    cd "$p"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 -subj "/CN=aurora-k8s-ca" 2>/dev/null
    cat >apiserver.ext <<EXT
subjectAltName=IP:$K8S_NODE_IP,IP:$K8S_API_SERVICE_IP,IP:127.0.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:$K8S_NODE_NAME,DNS:localhost
extendedKeyUsage=serverAuth
EXT
    cert() { # name subject extfile
      openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "$2" 2>/dev/null
      openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 -out "$1.crt" -extfile "$3" 2>/dev/null
      rm -f "$1.csr"
    }
    printf 'extendedKeyUsage=clientAuth\n' >client.ext
    cert apiserver "/CN=kube-apiserver" apiserver.ext
    cert admin "/O=system:masters/CN=aurora-admin" client.ext
    cert kubelet "/O=system:nodes/CN=system:node:$K8S_NODE_NAME" client.ext
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
    kubeconfig() { # name user
      cat >"$1.kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
- name: aurora
  cluster: {certificate-authority: $p/ca.crt, server: "https://$K8S_NODE_IP:6443"}
users:
- name: $2
  user: {client-certificate: $p/$1.crt, client-key: $p/$1.key}
contexts:
- name: aurora
  context: {cluster: aurora, user: $2, namespace: default}
current-context: aurora
KC
    }
    kubeconfig kubelet "system:node:$K8S_NODE_NAME"
    kubeconfig admin aurora-admin
    chmod 600 ./*.key ./*.kubeconfig
  )
}

configs() {
  local c="$K8S_STATE/config"
  mkdir -p "$c" "$K8S_STATE/root/etc/cni/net.d" "$K8S_STATE/containerd"
  cat >"$c/containerd.toml" <<EOF2
version = 2
root = "$K8S_STATE/containerd"
state = "$K8S_RUN/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]
[grpc]
  address = "$K8S_CONTAINERD_SOCK"
[ttrpc]
  address = "$K8S_RUN/containerd/containerd.sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$K8S_STATE/containerd-opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$K8S_PAUSE_IMAGE"
  # This machine has no CAP_SYS_RESOURCE: runc must not lower oom_score_adj below the runtime's own.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$K8S_STATE/root/opt/cni/bin"
    conf_dir = "$K8S_STATE/root/etc/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
EOF2
  # Pods on one bridge inside the namespace; the bridge's address is their default gateway (the namespace
  # itself, which has no route further out).
  cat >"$K8S_STATE/root/etc/cni/net.d/10-aurora.conflist" <<EOF2
{
  "cniVersion": "0.4.0",
  "name": "aurora",
  "plugins": [
    {"type": "bridge", "bridge": "cni0", "isGateway": true, "isDefaultGateway": true, "ipMasq": false,
     "hairpinMode": true,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": "$K8S_POD_CIDR", "gateway": "$K8S_POD_GATEWAY"}]]}},
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF2
  cat >"$c/kubelet.yaml" <<EOF2
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# A cgroup v1 host: Kubernetes >= 1.35 refuses it unless told otherwise.
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: /$K8S_CGROUP_ROOT
failSwapOn: false
containerRuntimeEndpoint: unix://$K8S_CONTAINERD_SOCK
address: $K8S_NODE_IP
readOnlyPort: 0
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $K8S_STATE/pki/ca.crt}
authorization: {mode: Webhook}
clusterDomain: cluster.local
clusterDNS: [$K8S_DNS_IP]
resolvConf: $c/resolv.conf
# A shared development machine: the disk is rarely this empty, and evictions would only confuse tests.
evictionHard: {nodefs.available: "1%", imagefs.available: "1%", memory.available: "100Mi"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
maxPods: 60
EOF2
  # Pods with dnsPolicy Default (CoreDNS itself) get no upstream: there is none to reach.
  printf 'nameserver %s\n' "$K8S_DNS_IP" >"$c/resolv.conf"
  cat >"$c/kube-proxy.yaml" <<EOF2
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clientConnection: {kubeconfig: $K8S_KUBECONFIG}
hostnameOverride: $K8S_NODE_NAME
bindAddress: $K8S_NODE_IP
clusterCIDR: $K8S_POD_CIDR
# Masquerade all service traffic, so a pod that reaches a service backed by a pod on the same bridge gets
# its replies back through the namespace (no br_netfilter needed).
iptables: {masqueradeAll: true}
conntrack: {maxPerCore: 0}
metricsBindAddress: 127.0.0.1:10249
healthzBindAddress: 127.0.0.1:10256
EOF2
}

start_control_plane() {
  local p="$K8S_STATE/pki" b="$K8S_BIN_DIR"
  mkdir -p "$K8S_STATE/etcd"; chmod 700 "$K8S_STATE/etcd"
  start_proc etcd etcd --name aurora --data-dir "$K8S_STATE/etcd" \
    --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
    --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
    --initial-cluster aurora=http://127.0.0.1:2380 --listen-metrics-urls http://127.0.0.1:2381 \
    --quota-backend-bytes 2147483648
  wait_for etcd 60 in_node curl -sf http://127.0.0.1:2379/health || die "etcd did not become healthy; see $K8S_STATE/logs/etcd.log"
  start_proc kube-apiserver "$b/kube-apiserver" --etcd-servers=http://127.0.0.1:2379 \
    --advertise-address="$K8S_NODE_IP" --bind-address="$K8S_NODE_IP" --secure-port=6443 \
    --service-cluster-ip-range="$K8S_SERVICE_CIDR" --allow-privileged=true \
    --client-ca-file="$p/ca.crt" --tls-cert-file="$p/apiserver.crt" --tls-private-key-file="$p/apiserver.key" \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$p/sa.pub" --service-account-signing-key-file="$p/sa.key" \
    --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction \
    --kubelet-client-certificate="$p/admin.crt" --kubelet-client-key="$p/admin.key" \
    --kubelet-preferred-address-types=InternalIP --endpoint-reconciler-type=lease \
    --profiling=false --v=1
  wait_for "the API server" 120 kctl get --raw /readyz || die "the API server did not become ready; see $K8S_STATE/logs/kube-apiserver.log"
  log "API server ready"
  start_proc kube-controller-manager "$b/kube-controller-manager" --kubeconfig="$K8S_KUBECONFIG" \
    --authentication-kubeconfig="$K8S_KUBECONFIG" --authorization-kubeconfig="$K8S_KUBECONFIG" \
    --service-account-private-key-file="$p/sa.key" --root-ca-file="$p/ca.crt" \
    --use-service-account-credentials=true --bind-address=127.0.0.1 --leader-elect=false \
    --cluster-signing-cert-file="$p/ca.crt" --cluster-signing-key-file="$p/ca.key" \
    --profiling=false --v=1
  start_proc kube-scheduler "$b/kube-scheduler" --kubeconfig="$K8S_KUBECONFIG" \
    --authentication-kubeconfig="$K8S_KUBECONFIG" --authorization-kubeconfig="$K8S_KUBECONFIG" \
    --bind-address=127.0.0.1 --leader-elect=false --profiling=false --v=1
}

node_ready() {
  kctl get node "$K8S_NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' | grep -q True
}

start_node() {
  mkdir -p "$K8S_RUN/containerd"
  start_proc containerd containerd --config "$K8S_STATE/config/containerd.toml"
  wait_for containerd 60 kctr version || die "containerd did not answer; see $K8S_STATE/logs/containerd.log"
  "$here/images.sh" system
  make_cgroups
  start_proc kubelet "$K8S_BIN_DIR/kubelet" --config="$K8S_STATE/config/kubelet.yaml" \
    --kubeconfig="$K8S_STATE/pki/kubelet.kubeconfig" --hostname-override="$K8S_NODE_NAME" \
    --node-ip="$K8S_NODE_IP" --root-dir=/var/lib/kubelet --cert-dir="$K8S_STATE/kubelet-pki" --v=1
  start_proc kube-proxy "$K8S_BIN_DIR/kube-proxy" --config="$K8S_STATE/config/kube-proxy.yaml" --v=1
  wait_for "the node to be Ready" 180 node_ready \
    || die "the node did not become Ready; see $K8S_STATE/logs/kubelet.log"
  log "node $K8S_NODE_NAME Ready"
}

cluster_addons() {
  sed -e "s#@DNS_IP@#$K8S_DNS_IP#g" -e "s#@COREDNS_IMAGE@#$K8S_COREDNS_IMAGE#g" "$here/manifests/coredns.yaml" | kctl apply -f - >/dev/null
  # Local PersistentVolumes on this node's disk: this cluster has no dynamic provisioner. Eight: three Vault pods
  # and PostgreSQL, with room for a scale-up and a second release.
  local i
  {
    cat "$here/manifests/storage.yaml"
    for i in $(seq 0 7); do
      mkdir -p "$K8S_STATE/volumes/pv-$i"
      echo ---
      sed -e "s#@NAME@#aurora-local-pv-$i#g" -e "s#@PATH@#$K8S_STATE/volumes/pv-$i#g" -e "s#@NODE@#$K8S_NODE_NAME#g" \
        "$here/manifests/local-pv.yaml"
    done
  } | kctl apply -f - >/dev/null
  wait_for "CoreDNS" 180 kctl -n kube-system rollout status deploy/coredns --timeout=5s \
    || die "CoreDNS did not become ready; see 'scripts/k8s/kubectl.sh -n kube-system describe pod -l k8s-app=kube-dns'"
  log "CoreDNS ready at $K8S_DNS_IP"
}

up() {
  "$here/ensure-host-packages.sh"
  "$here/ensure-binaries.sh" pause coredns helm kubernetes
  mkdir -p "$K8S_STATE" "$K8S_RUN"
  chmod 700 "$K8S_STATE"
  exec 8>"$K8S_RUN/../k8s-node.lock"
  flock -w 300 8 || die "another scripts/k8s/node.sh holds $K8S_RUN/../k8s-node.lock"
  # A start that fails half-way stops what it started, as make k8s-down would (state kept): no etcd or API server
  # is left running for a node the user was told did not come up. A node that already ran is left alone.
  if ! node_up; then
    trap 'rc=$?; [ $rc -eq 0 ] || { log "stopping what this start began (state kept in $K8S_STATE): rerun make k8s once the cause is fixed, or make k8s-clean"; down || true; }; exit $rc' EXIT
  fi
  log "namespaces: network $K8S_NETNS (node $K8S_NODE_IP, pods $K8S_POD_CIDR, services $K8S_SERVICE_CIDR), mount $K8S_MNTNS"
  setup_netns
  setup_mountns
  pki
  configs
  start_control_plane
  start_node
  cluster_addons
  log "cluster up in $((SECONDS - t_start))s; kubectl: scripts/k8s/kubectl.sh"
}

# Stops a recorded process: SIGTERM, then SIGKILL after $2 seconds.
stop_proc() {
  local name=$1 grace=${2:-15} p
  p=$(pid_of "$name")
  [ -n "$p" ] || return 0
  if kill -0 "$p" 2>/dev/null; then
    kill "$p" 2>/dev/null || true
    local t0=$SECONDS
    while kill -0 "$p" 2>/dev/null && [ $((SECONDS - t0)) -lt "$grace" ]; do sleep 0.5; done
    kill -9 "$p" 2>/dev/null || true
  fi
  rm -f "$K8S_RUN/pids/$name.pid"
}

# The containerd shims of this node's containers: exactly the processes whose command line names our
# containerd's socket (they re-parent to init, so no PID of ours records them).
our_shims() {
  local d
  for d in /proc/[0-9]*; do
    { tr '\0' ' ' <"$d/cmdline"; } 2>/dev/null | grep -qF -- "-address $K8S_CONTAINERD_SOCK " && echo "${d#/proc/}"
  done
  return 0
}

# The cgroup hierarchies: v1 (one directory per mounted controller set) and, on a hybrid host, the unified v2 one
# (runc creates each container's cgroup there too).
cgroup_hierarchies() { awk '$3 == "cgroup" || $3 == "cgroup2" {print $2}' /proc/mounts; }

make_cgroups() {
  local h
  for h in $(cgroup_hierarchies); do
    mkdir -p "$h/$K8S_CGROUP_ROOT"
    # A new cpuset cgroup starts with no CPUs and no memory nodes: give it its parent's.
    if [ -f "$h/cpuset.cpus" ]; then
      [ -n "$(cat "$h/$K8S_CGROUP_ROOT/cpuset.cpus")" ] || cat "$h/cpuset.cpus" >"$h/$K8S_CGROUP_ROOT/cpuset.cpus"
      [ -n "$(cat "$h/$K8S_CGROUP_ROOT/cpuset.mems")" ] || cat "$h/cpuset.mems" >"$h/$K8S_CGROUP_ROOT/cpuset.mems"
    fi
  done
}

remove_cgroups() {
  local h
  for h in $(cgroup_hierarchies); do
    [ -d "$h/$K8S_CGROUP_ROOT" ] || continue
    find "$h/$K8S_CGROUP_ROOT" -depth -type d -exec rmdir {} \; 2>/dev/null || true
    [ ! -d "$h/$K8S_CGROUP_ROOT" ] || log "  could not remove $h/$K8S_CGROUP_ROOT (processes still in it?)"
  done
}

# Every process in the node's cgroup tree: the pods' containers (and nothing else of the host's).
cgroup_procs() {
  local h
  h=$(cgroup_hierarchies | grep -m1 '/pids$' || true)
  [ -n "$h" ] && [ -d "$h/$K8S_CGROUP_ROOT" ] || return 0
  find "$h/$K8S_CGROUP_ROOT" -name cgroup.procs -exec cat {} + 2>/dev/null
}

# For clean: nothing of the node's state is kept, so nothing needs a graceful stop. SIGKILL the node's daemons, its
# containers (by cgroup) and its shims, and wait until they are gone.
kill_all() {
  log "killing the node's processes (nothing is kept)"
  local n p pids=()
  for n in kubelet kube-proxy kube-scheduler kube-controller-manager containerd kube-apiserver etcd; do
    p=$(pid_of "$n")
    [ -n "$p" ] && kill -9 "$p" 2>/dev/null && pids+=("$p")
    rm -f "$K8S_RUN/pids/$n.pid"
  done
  local t0=$SECONDS
  while :; do
    local left
    left=$( { cgroup_procs; our_shims; } | sort -u)
    for p in $left; do kill -9 "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && left="$left $p"; done
    [ -n "${left// /}" ] || break
    [ $((SECONDS - t0)) -lt 30 ] || { log "  still running after 30 s: $left"; break; }
    sleep 0.2
  done
}

down() {
  [ -d "$K8S_RUN" ] || { log "nothing runs"; return 0; }
  if [ "${1:-}" = --kill ]; then
    kill_all
    release_namespaces
    remove_cgroups
    log "stopped in $((SECONDS - t_start))s"
    return 0
  fi
  log "stopping the node (state kept in $K8S_STATE)"
  stop_proc kubelet 20
  stop_proc kube-proxy 5
  if running containerd; then
    local ids
    ids=$(kctr tasks ls -q 2>/dev/null || true)
    for id in $ids; do kctr tasks kill -s SIGKILL "$id" >/dev/null 2>&1 || true; done
    for id in $ids; do kctr tasks delete -f "$id" >/dev/null 2>&1 || true; done
  fi
  stop_proc containerd 15
  local s
  for s in $(our_shims); do kill -9 "$s" 2>/dev/null || true; done
  stop_proc kube-scheduler 5
  stop_proc kube-controller-manager 5
  stop_proc kube-apiserver 15
  stop_proc etcd 15
  # Pods' mounts and network namespaces live only in the node's namespaces: dropping those drops them all.
  release_namespaces
  remove_cgroups
  log "stopped in $((SECONDS - t_start))s"
}

release_namespaces() {
  if [ -e "$K8S_MNTNS" ]; then umount "$K8S_MNTNS" 2>/dev/null || true; rm -f "$K8S_MNTNS"; fi
  if mountpoint -q "$K8S_RUN/ns" 2>/dev/null; then umount "$K8S_RUN/ns" || true; fi
  [ -e "/run/netns/$K8S_NETNS" ] && ip netns delete "$K8S_NETNS" 2>/dev/null || true
  if [ -e "$NETNS_MOUNT_MARK" ] && [ -z "$(ls -A /run/netns 2>/dev/null)" ]; then
    umount /run/netns 2>/dev/null || true
    rmdir /run/netns 2>/dev/null || true
    rm -f "$NETNS_MOUNT_MARK"
  fi
  rm -rf "$K8S_RUN/pod-netns" "$K8S_RUN/containerd" "$K8S_RUN/pids"
}

clean() {
  down --kill
  log "removing all state ($K8S_STATE, $K8S_RUN)"
  if [ -f "$CREATED_LIST" ]; then
    # Only host directories this script created, and only while empty.
    sort -r -u "$CREATED_LIST" | while read -r d; do rmdir "$d" 2>/dev/null || true; done
  fi
  # A read-only directory (Go's module cache in an image, say) stops rm; make it writable and retry.
  rm -rf "$K8S_STATE" "$K8S_RUN" 2>/dev/null || { chmod -R u+w "$K8S_STATE" 2>/dev/null; rm -rf "$K8S_STATE" "$K8S_RUN"; }
  rmdir "$(dirname "$K8S_STATE")" 2>/dev/null || true
  # The lock every local node takes while starting, once no node is left ($K8S_RUN's siblings).
  local runs
  runs=$(dirname "$K8S_RUN")
  if ! compgen -G "$runs/k8s*/" >/dev/null; then rm -f "$runs/k8s-node.lock"; rmdir "$runs" 2>/dev/null || true; fi
  log "clean in $((SECONDS - t_start))s"
}

status() {
  local n
  for n in etcd kube-apiserver kube-controller-manager kube-scheduler containerd kubelet kube-proxy; do
    if running "$n"; then echo "$n: running (pid $(pid_of "$n"))"; else echo "$n: stopped"; fi
  done
}

case ${1:-} in
  up) up ;;
  down) down ;;
  clean) clean ;;
  status) status ;;
  *) echo "usage: $0 up|down|clean|status" >&2; exit 2 ;;
esac
