#!/usr/bin/env bash
# Builds, once, the programs a local single-node Kubernetes needs, and caches them outside the repository:
#   $K8S_BIN_DIR/     kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl
#                     (Go module k8s.io/kubernetes; ~0.5 GB)
#   $HELM_BIN_DIR/    helm (Go module helm.sh/helm/v3)
#   $COREDNS_BIN_DIR/ coredns with only the plugins a cluster needs (Go module github.com/coredns/coredns)
#   $PAUSE_BIN_DIR/   pause: the pod sandbox's process (scripts/k8s/pause; seconds)
# (Measured cold on 2 quiet cores: Kubernetes 820 s, helm 210 s, CoreDNS 167 s.)
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

# Each piece holds its own lock, so parallel callers wait rather than build twice. The build's module and
# build caches (several GB for Kubernetes) live in a scratch dir removed afterwards.
begin_build() {
  local dir=$1
  mkdir -p "$dir"
  exec 9>"$dir/.lock"
  if ! flock -n 9; then
    # `make test` starts the build in the background beside the tests (scripts/test-deps.sh): show its progress.
    log "another process is building into $dir; waiting for it (its progress: $K8S_BUILD_LOG)"
    local waited=0
    until flock -w 30 9; do
      waited=$((waited + 30))
      log "  still waiting for the build into $dir (${waited}s): $(tail -n 1 "$K8S_BUILD_LOG" 2>/dev/null)"
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

have_kubernetes() {
  local c
  for c in "${K8S_COMPONENTS[@]}"; do [ -x "$K8S_BIN_DIR/$c" ] || return 1; done
  # No pipe into grep -q: with pipefail, kubectl's SIGPIPE would count as a failure.
  local v
  v=$("$K8S_BIN_DIR/kubectl" version --client 2>/dev/null) || return 1
  [[ $v == *"$K8S_VERSION"* ]]
}

build_kubernetes() {
  if have_kubernetes; then log "kubernetes $K8S_VERSION: cached in $K8S_BIN_DIR"; return; fi
  begin_build "$K8S_BIN_DIR"
  if have_kubernetes; then end_build; log "kubernetes $K8S_VERSION: built meanwhile by another process"; return; fi
  local t0=$SECONDS minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
  local staging_version="v0.${K8S_VERSION#v1.}"
  log "kubernetes $K8S_VERSION: building from the Go module (cold: ~14 min on 2 cores; cached in $K8S_BIN_DIR)"
  log "  step 1/3: downloading k8s.io/kubernetes@$K8S_VERSION"
  local src
  src=$(cd "$scratch" && go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p')
  [ -f "$src/go.mod" ] || die "could not download k8s.io/kubernetes@$K8S_VERSION"
  # The published module replaces its staging modules with ./staging/* paths, so `go install …@version`
  # is refused. A wrapper module uses each staging module's published v0.<minor>.<patch> instead.
  mkdir -p "$scratch/wrapper"
  cd "$scratch/wrapper"
  go mod init aurora-secrets/kubernetes-build >/dev/null 2>&1
  go mod edit -go="$(sed -n 's/^go \(.*\)/\1/p' "$src/go.mod")"
  local m
  for m in $(sed -n 's#^\s*\(k8s\.io/[^ ]*\) => \./staging/.*#\1#p' "$src/go.mod"); do
    go mod edit -replace="$m=$m@$staging_version"
  done
  go mod edit -require="k8s.io/kubernetes@$K8S_VERSION"
  local c tools=()
  for c in "${K8S_COMPONENTS[@]}"; do tools+=("k8s.io/kubernetes/cmd/$c"); go mod edit -tool="k8s.io/kubernetes/cmd/$c"; done
  log "  step 2/3: resolving dependencies (go mod tidy)"
  with_ticker "go mod tidy" go mod tidy >&2 || die "go mod tidy failed (see above); nothing was cached, rerun to try again."
  # Without these the servers report v0.0.0 and charts' kubeVersion constraints fail.
  local ld="-s -w" p date
  date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
    ld+=" -X $p.buildDate=$date"
  done
  log "  step 3/3: compiling ${K8S_COMPONENTS[*]} (progress: a line every 30 s)"
  mkdir -p "$scratch/out"
  with_ticker "kubernetes" go build -trimpath -ldflags "$ld" -o "$scratch/out/" "${tools[@]}" >&2 \
    || die "go build of Kubernetes failed (see above); nothing was cached, rerun to try again."
  for c in "${K8S_COMPONENTS[@]}"; do mv "$scratch/out/$c" "$K8S_BIN_DIR/$c"; done
  cd "$here"
  end_build
  have_kubernetes || die "the built kubectl does not report $K8S_VERSION: $("$K8S_BIN_DIR/kubectl" version --client 2>&1 | head -1)"
  log "kubernetes $K8S_VERSION built in $((SECONDS - t0))s ($(du -sh "$K8S_BIN_DIR" | cut -f1))"
}

# One single-binary piece: cached in DIR, or built once under the lock by COMPILE, which writes $scratch/NAME.
# Usage: build_piece NAME VERSION DIR "what the build is (how long)" COMPILE
build_piece() {
  local name=$1 version=$2 dir=$3 about=$4 compile=$5
  if [ -x "$dir/$name" ]; then log "$name $version: cached in $dir"; return; fi
  begin_build "$dir"
  if [ -x "$dir/$name" ]; then end_build; log "$name $version: built meanwhile by another process"; return; fi
  local t0=$SECONDS
  log "$name $version: $about"
  "$compile"
  cd "$here"
  mv "$scratch/$name" "$dir/$name"
  end_build
  log "$name $version built in $((SECONDS - t0))s"
}

compile_helm() {
  # helm reports the version set here; without it `helm version` prints a placeholder. The Kubernetes version
  # is what `helm template`/`helm lint` assume without a cluster (helm's own Makefile sets both).
  local minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
  local ld="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
  ld+=" -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$minor"
  ld+=" -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$minor"
  with_ticker "helm" env GOBIN="$scratch" go install -trimpath -ldflags "$ld" \
    "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" >&2 || die "go install of helm failed (see above); rerun to try again."
}

compile_coredns() {
  mkdir -p "$scratch/coredns-src"
  cp "$here/coredns/main.go" "$scratch/coredns-src/main.go"
  cd "$scratch/coredns-src"
  go mod init aurora-secrets/coredns >/dev/null 2>&1
  go mod edit -require="github.com/coredns/coredns@$COREDNS_VERSION"
  with_ticker "coredns deps" go mod tidy >&2 || die "go mod tidy for coredns failed (see above)"
  with_ticker "coredns" go build -trimpath -ldflags "-s -w" -o "$scratch/coredns" . >&2 \
    || die "go build of coredns failed (see above); rerun to try again."
}

compile_pause() {
  cd "$here/pause"
  go build -trimpath -ldflags "-s -w" -o "$scratch/pause" . >&2 || die "go build of pause failed (see above)"
}

build_helm() { build_piece helm "$HELM_VERSION" "$HELM_BIN_DIR" "building from the Go module (~2-4 min)" compile_helm; }
build_coredns() {
  build_piece coredns "$COREDNS_VERSION" "$COREDNS_BIN_DIR" "building with the cluster's plugins only (~1-3 min)" \
    compile_coredns
}
build_pause() { build_piece pause "$PAUSE_VERSION" "$PAUSE_BIN_DIR" "building (a few seconds)" compile_pause; }

if [ "${1:-}" = --cached ]; then
  have_kubernetes && [ -x "$HELM_BIN_DIR/helm" ] && [ -x "$COREDNS_BIN_DIR/coredns" ] && [ -x "$PAUSE_BIN_DIR/pause" ]
  exit
fi

pieces=("$@")
[ ${#pieces[@]} -gt 0 ] || pieces=(pause coredns helm kubernetes)
for p in "${pieces[@]}"; do
  case $p in
    kubernetes|helm|coredns|pause) "build_$p" ;;
    *) die "unknown piece '$p' (kubernetes, helm, coredns, pause)" ;;
  esac
done
