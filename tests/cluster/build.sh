#!/usr/bin/env bash
# Builds the test control plane's binaries that are missing from the cache (see binaries.sh):
# kube-apiserver, kube-controller-manager and kube-scheduler from k8s/, etcd from etcd/, kwok from
# kwok/. Each Go module pins its release in go.mod/go.sum; a warm cache builds nothing.
#
#   bash tests/cluster/build.sh              # everything missing
#   bash tests/cluster/build.sh etcd kwok    # only these (k8s | etcd | kwok)
#   bash tests/cluster/build.sh --check      # exit 1 listing what is missing; builds nothing
#
# Needs Go >= 1.26 (kwok v0.8.0 and etcd v3.6.16 declare it; an older go >= 1.21 fetches that
# toolchain itself) and the Go module proxy. Go's own caches ($GOCACHE, $GOMODCACHE) make a rebuild
# after a version bump incremental. Measured on 2 cores: see docs/test-bed.md.
set -Eeuo pipefail
# shellcheck source=binaries.sh
source "$(dirname "${BASH_SOURCE[0]}")/binaries.sh"

build_step() {  # build_step NAME COMMAND...: run it, print its duration
  local name=$1 start=${EPOCHREALTIME/./}
  shift
  "$@"
  local micros=$(( ${EPOCHREALTIME/./} - start ))
  printf '[cluster] %-40s %5d.%01ds\n' "$name" $(( micros / 1000000 )) $(( micros % 1000000 / 100000 ))
}

all_present() {
  local path
  for path in "$@"; do [ -x "$path" ] || return 1; done
}

# go build DIR OUT_DIR LDFLAGS PACKAGE...: the module's go.sum must already be complete
# (-mod=readonly), so a CI run never edits the checkout or resolves versions differently.
go_build() {
  local module_dir=$1 out_dir=$2 ldflags=$3
  shift 3
  local partial
  partial=$(mktemp -d "$out_dir.partial.XXXXXX")
  (cd "$CLUSTER_MODULES_DIR/$module_dir" && go build -mod=readonly -trimpath -buildvcs=false \
    -ldflags "$ldflags" -o "$partial/" "$@")
  # Whole binaries only: a build killed half-way leaves nothing that looks usable.
  local binary
  for binary in "$partial"/*; do mv -f "$binary" "$out_dir/"; done
  rmdir "$partial"
}

build_k8s() {
  mkdir -p "$KUBE_BIN_DIR"
  # What hack/lib/version.sh (kube::version::ldflags) stamps into a release: without it the
  # servers report v0.0.0-master, which breaks clients that check the server's version (helm).
  local minor=${KUBERNETES_VERSION#v*.} stamp="" pkg
  minor=${minor%%.*}
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    stamp+=" -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    stamp+=" -X $pkg.gitTreeState=clean"
  done
  go_build k8s "$KUBE_BIN_DIR" "-s -w$stamp" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler
}

build_etcd() {
  mkdir -p "$(dirname "$ETCD_BIN")"
  go_build etcd "$(dirname "$ETCD_BIN")" "-s -w" go.etcd.io/etcd/server/v3
  # go names a .../server/v3 main package "server".
  mv -f "$(dirname "$ETCD_BIN")/server" "$ETCD_BIN"
}

build_kwok() {
  mkdir -p "$(dirname "$KWOK_BIN")"
  go_build kwok "$(dirname "$KWOK_BIN")" "-s -w" sigs.k8s.io/kwok/cmd/kwok
}

component_binaries() {
  case $1 in
    k8s) echo "$KUBE_APISERVER_BIN" "$KUBE_CONTROLLER_MANAGER_BIN" "$KUBE_SCHEDULER_BIN" ;;
    etcd) echo "$ETCD_BIN" ;;
    kwok) echo "$KWOK_BIN" ;;
    *) echo "cluster: unknown component '$1' (k8s, etcd or kwok)" >&2; return 2 ;;
  esac
}

component_version() {
  case $1 in k8s) echo "$KUBERNETES_VERSION" ;; etcd) echo "$ETCD_VERSION" ;; kwok) echo "$KWOK_VERSION" ;; esac
}

main() {
  local check=false components=()
  for arg in "$@"; do
    case $arg in
      --check) check=true ;;
      -h|--help) sed -n '2,12p' "${BASH_SOURCE[0]}"; return 0 ;;
      *) components+=("$arg") ;;
    esac
  done
  [ ${#components[@]} -gt 0 ] || components=(etcd kwok k8s)

  local component missing=() binaries
  for component in "${components[@]}"; do
    read -r -a binaries <<<"$(component_binaries "$component")"
    all_present "${binaries[@]}" || missing+=("$component")
  done
  if $check; then
    [ ${#missing[@]} -eq 0 ] && { echo "[cluster] all binaries present in $CLUSTER_CACHE"; return 0; }
    echo "[cluster] missing: ${missing[*]} (in $CLUSTER_CACHE); build them with: bash tests/cluster/build.sh" >&2
    return 1
  fi

  [ ${#missing[@]} -eq 0 ] || command -v go >/dev/null || {
    # Debian bookworm's golang-go (1.19) is too old even to fetch a newer toolchain.
    echo "[cluster] go is not on PATH; install Go >= 1.26 (or any go >= 1.21, which fetches 1.26 itself;" \
      "https://go.dev/dl/) to build: ${missing[*]}" >&2
    return 1
  }
  local start=${EPOCHREALTIME/./}
  for component in "${components[@]}"; do
    if [[ " ${missing[*]} " == *" $component "* ]]; then
      build_step "build $component $(component_version "$component")" "build_$component"
    else
      echo "[cluster] $component $(component_version "$component"): cached"
    fi
  done
  local micros=$(( ${EPOCHREALTIME/./} - start ))
  printf '[cluster] %-40s %5d.%01ds\n' "total" $(( micros / 1000000 )) $(( micros % 1000000 / 100000 ))
  for component in "${components[@]}"; do
    read -r -a binaries <<<"$(component_binaries "$component")"
    printf '[cluster]   %s\n' "${binaries[@]}"
  done
}

main "$@"
