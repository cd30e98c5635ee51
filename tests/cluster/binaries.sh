# shellcheck shell=bash
# Where the test control plane's binaries live (sourced by build.sh and .ci/kube-up.sh; runs nothing).
#
# Each Go module next to this file pins one upstream release; its binaries are cached outside the
# clone under that release's version, so every clone and CI run on a machine shares one build:
#   $CLUSTER_CACHE/k8s/<kubernetes version>/{kube-apiserver,kube-controller-manager,kube-scheduler}
#   $CLUSTER_CACHE/etcd/<etcd version>/etcd
#   $CLUSTER_CACHE/kwok/<kwok version>/kwok
# CLUSTER_CACHE is $SEASONAL_CACHE_DIR when set, else ${XDG_CACHE_HOME:-~/.cache}/seasonal-engines
# (the same root the rest of the test bed caches helm, kubectl and Triton backends under).

CLUSTER_MODULES_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CLUSTER_CACHE=${SEASONAL_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/seasonal-engines}

cluster_module_version() {  # cluster_module_version DIR MODULE: the version DIR/go.mod requires
  local version
  version=$(awk -v module="$2" '
    $1 == "require" && $2 == module { print $3; exit }
    $1 == module && $2 ~ /^v/ { print $2; exit }' "$CLUSTER_MODULES_DIR/$1/go.mod")
  [ -n "$version" ] || { echo "cluster: $CLUSTER_MODULES_DIR/$1/go.mod does not require $2" >&2; return 1; }
  echo "$version"
}

KUBERNETES_VERSION=$(cluster_module_version k8s k8s.io/kubernetes)
ETCD_VERSION=$(cluster_module_version etcd go.etcd.io/etcd/server/v3)
KWOK_VERSION=$(cluster_module_version kwok sigs.k8s.io/kwok)

KUBE_BIN_DIR=$CLUSTER_CACHE/k8s/$KUBERNETES_VERSION
ETCD_BIN=$CLUSTER_CACHE/etcd/$ETCD_VERSION/etcd
KWOK_BIN=$CLUSTER_CACHE/kwok/$KWOK_VERSION/kwok
KUBE_APISERVER_BIN=$KUBE_BIN_DIR/kube-apiserver
KUBE_CONTROLLER_MANAGER_BIN=$KUBE_BIN_DIR/kube-controller-manager
KUBE_SCHEDULER_BIN=$KUBE_BIN_DIR/kube-scheduler
CLUSTER_BINARIES=("$ETCD_BIN" "$KUBE_APISERVER_BIN" "$KUBE_CONTROLLER_MANAGER_BIN" "$KUBE_SCHEDULER_BIN" "$KWOK_BIN")
