#!/usr/bin/env bash
# Builds, once, the programs a local single-node Kubernetes needs, and caches them outside the repository:
#   $K8S_BIN_DIR/     kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl
#                     (Go module k8s.io/kubernetes; ~0.5 GB)
#   $HELM_BIN_DIR/    helm (Go module helm.sh/helm/v3)
#   $COREDNS_BIN_DIR/ coredns with only the plugins a cluster needs (Go module github.com/coredns/coredns)
#   $PAUSE_BIN_DIR/   pause: the pod sandbox's process (scripts/k8s/pause; seconds)
# (Measured cold on 2 quiet cores, 2026-11-30: all four in 634 s, one Go build for Kubernetes, helm and CoreDNS.)
# A piece already cached is not rebuilt, so a second run is a no-op. Only the Go module proxy is used.
# Progress goes to stderr. Usage: scripts/k8s/ensure-binaries.sh [kubernetes|helm|coredns|pause ...]
#   --cached: build nothing; exit 0 when every piece is cached, 1 when one would be built.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"
k8s_logger k8s-binaries

command -v go >/dev/null 2>&1 || die "no Go toolchain: install Go >= 1.25 (Debian: apt-get install golang-go, or go.dev) and rerun."
mkdir -p "$K8S_CACHE"

# Runs a command with a progress line every 30 s.
with_ticker() {
  local what=$1 t0=$SECONDS; shift
  ( while sleep 30; do log "  $what: still building... $((SECONDS - t0))s"; done ) &
  local ticker=$! rc=0
  "$@" || rc=$?
  kill "$ticker" 2>/dev/null || true
  wait "$ticker" 2>/dev/null || true
  return $rc
}

# Every compile in this file passes these flags, so that the three builds share one cache. The binaries are
# stripped (-s -w), so the compiler's DWARF would be thrown away at link time: -dwarf=false skips generating it,
# and the code is the same. -l turns inlining off: these are the programs of a one-node test cluster, whose load
# is a few requests a second, and the build is what every cold machine pays. Measured cold on 2 quiet cores
# (2026-11-30): the three built apart with the default flags 1197 s; in one graph with -dwarf=false 787 s; adding
# -l 634 s. `make test-k8s` on the -l binaries took as long as before (262 s; 241 s the run before).
GO_GCFLAGS="all=-dwarf=false -l"

# One lock for every Go build here, so parallel callers wait rather than build twice. The build's module and
# build caches (several GB) live in a scratch dir removed afterwards.
begin_build() {
  exec 9>"$K8S_CACHE/.build.lock"
  if ! flock -n 9; then
    # `make test` starts the build in the background beside the tests (scripts/test-deps.sh): show its progress.
    log "another process is building into $K8S_CACHE; waiting for it (its progress: $K8S_BUILD_LOG)"
    local waited=0
    until flock -w 30 9; do
      waited=$((waited + 30))
      log "  still waiting for that build (${waited}s): $(tail -n 1 "$K8S_BUILD_LOG" 2>/dev/null)"
    done
  fi
  scratch=$(mktemp -d "$K8S_CACHE/.build.XXXXXX")
  export GOMODCACHE="$scratch/mod" GOCACHE="$scratch/cache" GOPATH="$scratch/gopath"
  export CGO_ENABLED=0 GOFLAGS=-mod=mod GOTOOLCHAIN=local
}
end_build() {
  chmod -R u+w "$scratch" 2>/dev/null || true
  rm -rf "$scratch"
  scratch=""
  exec 9>&-
}
scratch=""
# `|| true`: under `set -e` a failing command in the trap (chmod of a scratch dir already gone) would turn a
# finished build into exit status 1.
trap '[ -z "$scratch" ] || { chmod -R u+w "$scratch" 2>/dev/null || true; rm -rf "$scratch" || true; }' EXIT

# Runs a `go build` with a progress line every 30 s. Usage: go_build WHAT LDFLAGS OUT PACKAGE...
go_build() {
  local what=$1 ld=$2 out=$3; shift 3
  with_ticker "$what" go build -trimpath -gcflags="$GO_GCFLAGS" -ldflags "$ld" -o "$out" "$@" >&2 \
    || die "go build of $what failed (see above); nothing was cached, rerun to try again."
}

have_kubernetes() {
  local c
  for c in "${K8S_COMPONENTS[@]}"; do [ -x "$K8S_BIN_DIR/$c" ] || return 1; done
  # No pipe into grep -q: with pipefail, kubectl's SIGPIPE would count as a failure.
  local v
  v=$("$K8S_BIN_DIR/kubectl" version --client 2>/dev/null) || return 1
  [[ $v == *"$K8S_VERSION"* ]]
}
have_helm() { [ -x "$HELM_BIN_DIR/helm" ]; }
have_coredns() { [ -x "$COREDNS_BIN_DIR/coredns" ]; }
have_pause() { [ -x "$PAUSE_BIN_DIR/pause" ]; }

# Kubernetes, helm and CoreDNS are built from one module graph with one build cache. helm and CoreDNS are
# Kubernetes clients: most of their compile is k8s.io/{api,apimachinery,client-go}, kubectl's libraries and
# grpc/protobuf, which the Kubernetes commands compile anyway. Built apart, each compiled them again (cold:
# Kubernetes 820 s, helm 210 s, CoreDNS 167 s). One graph means Go's minimal version selection picks one version
# of each shared module, the newest any of them requires: helm and CoreDNS link against the Kubernetes
# v0.<minor>.<patch> client libraries (helm $HELM_VERSION asks for v0.37.0, CoreDNS $COREDNS_VERSION for v0.35.4),
# within the client libraries' support window for this API server.
# Usage: build_go PIECE... (each of kubernetes, helm, coredns; pieces already cached are skipped)
build_go() {
  local p todo=()
  for p in "$@"; do "have_$p" && log "$p: cached" || todo+=("$p"); done
  [ ${#todo[@]} -gt 0 ] || return 0
  begin_build
  local waiting=("${todo[@]}"); todo=()
  for p in "${waiting[@]}"; do "have_$p" && log "$p: built meanwhile by another process" || todo+=("$p"); done
  if [ ${#todo[@]} -eq 0 ]; then end_build; return 0; fi
  local t0=$SECONDS minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
  local staging_version="v0.${K8S_VERSION#v1.}" wants=" ${todo[*]} "
  log "building ${todo[*]} from their Go modules, one build (cold, all three: ~11 min on 2 cores; cached in $K8S_CACHE)"
  log "  step 1/3: downloading k8s.io/kubernetes@$K8S_VERSION"
  local src
  src=$(cd "$scratch" && go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p')
  [ -f "$src/go.mod" ] || die "could not download k8s.io/kubernetes@$K8S_VERSION"
  # The published module replaces its staging modules with ./staging/* paths, so `go install …@version`
  # is refused. A wrapper module uses each staging module's published v0.<minor>.<patch> instead.
  mkdir -p "$scratch/wrapper" "$scratch/out"
  cd "$scratch/wrapper"
  go mod init aurora-secrets/kubernetes-build >/dev/null 2>&1
  go mod edit -go="$(sed -n 's/^go \(.*\)/\1/p' "$src/go.mod")"
  local m c k8s_tools=()
  for m in $(sed -n 's#^\s*\(k8s\.io/[^ ]*\) => \./staging/.*#\1#p' "$src/go.mod"); do
    go mod edit -replace="$m=$m@$staging_version"
  done
  go mod edit -require="k8s.io/kubernetes@$K8S_VERSION"
  if [[ $wants == *" kubernetes "* ]]; then
    for c in "${K8S_COMPONENTS[@]}"; do k8s_tools+=("k8s.io/kubernetes/cmd/$c"); go mod edit -tool="k8s.io/kubernetes/cmd/$c"; done
  fi
  if [[ $wants == *" helm "* ]]; then
    go mod edit -require="helm.sh/helm/v3@$HELM_VERSION" -tool=helm.sh/helm/v3/cmd/helm
  fi
  if [[ $wants == *" coredns "* ]]; then
    mkdir coredns && cp "$here/coredns/main.go" coredns/main.go
    go mod edit -require="github.com/coredns/coredns@$COREDNS_VERSION"
  fi
  log "  step 2/3: resolving dependencies (go mod tidy)"
  with_ticker "go mod tidy" go mod tidy >&2 || die "go mod tidy failed (see above); nothing was cached, rerun to try again."
  log "  step 3/3: compiling (progress: a line every 30 s)"
  if [[ $wants == *" kubernetes "* ]]; then
    # Without these the servers report v0.0.0 and charts' kubeVersion constraints fail.
    local ld="-s -w" date
    date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
    for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
      ld+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
      ld+=" -X $p.buildDate=$date"
    done
    go_build "kubernetes (${K8S_COMPONENTS[*]})" "$ld" "$scratch/out/" "${k8s_tools[@]}"
    for c in "${K8S_COMPONENTS[@]}"; do mkdir -p "$K8S_BIN_DIR"; mv "$scratch/out/$c" "$K8S_BIN_DIR/$c"; done
    have_kubernetes || die "the built kubectl does not report $K8S_VERSION: $("$K8S_BIN_DIR/kubectl" version --client 2>&1 | head -1)"
    log "kubernetes $K8S_VERSION built ($((SECONDS - t0))s so far; $(du -sh "$K8S_BIN_DIR" | cut -f1))"
  fi
  if [[ $wants == *" helm "* ]]; then
    # helm reports the version set here; without it `helm version` prints a placeholder. The Kubernetes version
    # is what `helm template`/`helm lint` assume without a cluster (helm's own Makefile sets both).
    local hld="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
    hld+=" -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$minor"
    hld+=" -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$minor"
    go_build "helm" "$hld" "$scratch/out/helm" helm.sh/helm/v3/cmd/helm
    mkdir -p "$HELM_BIN_DIR" && mv "$scratch/out/helm" "$HELM_BIN_DIR/helm"
    log "helm $HELM_VERSION built ($((SECONDS - t0))s so far)"
  fi
  if [[ $wants == *" coredns "* ]]; then
    go_build "coredns" "-s -w" "$scratch/out/coredns" ./coredns
    mkdir -p "$COREDNS_BIN_DIR" && mv "$scratch/out/coredns" "$COREDNS_BIN_DIR/coredns"
    log "coredns $COREDNS_VERSION built ($((SECONDS - t0))s so far)"
  fi
  cd "$here"
  end_build
  log "built ${todo[*]} in $((SECONDS - t0))s"
}

build_pause() {
  have_pause && { log "pause $PAUSE_VERSION: cached"; return; }
  begin_build
  if ! have_pause; then
    (cd "$here/pause" && go_build pause "-s -w" "$scratch/pause" .) || exit 1
    mkdir -p "$PAUSE_BIN_DIR" && mv "$scratch/pause" "$PAUSE_BIN_DIR/pause"
    log "pause $PAUSE_VERSION built"
  fi
  end_build
}

if [ "${1:-}" = --cached ]; then
  have_kubernetes && have_helm && have_coredns && have_pause
  exit
fi

pieces=("$@")
[ ${#pieces[@]} -gt 0 ] || pieces=(pause coredns helm kubernetes)
go_pieces=() want_pause=""
for p in "${pieces[@]}"; do
  case $p in
    kubernetes|helm|coredns) go_pieces+=("$p") ;;
    pause) want_pause=1 ;;
    *) die "unknown piece '$p' (kubernetes, helm, coredns, pause)" ;;
  esac
done
[ -z "$want_pause" ] || build_pause
[ ${#go_pieces[@]} -eq 0 ] || build_go "${go_pieces[@]}"
