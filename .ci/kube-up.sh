#!/usr/bin/env bash
# Starts a real Kubernetes control plane on loopback for tests, the quickstart's cluster mode and CI:
# etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok (fake nodes and pod
# lifecycles), each on a free 127.0.0.1 port, with certificates made here by openssl. Prints the
# admin kubeconfig's path as its last line once /readyz is ok, the default ServiceAccount exists
# and kwok's nodes are Ready and untainted. Stop it with .ci/kube-down.sh (same state dir).
#
#   bash .ci/kube-up.sh [--state-dir DIR] [--timeout SECONDS]
#   export KUBECONFIG=$(bash .ci/kube-up.sh | tail -n1)
#
# DIR defaults to $SEASONAL_CLUSTER_DIR, else ${TMPDIR:-/tmp}/seasonal-engines-cluster-$UID. It
# holds pki/, kubeconfigs, etcd's data, logs/ and pids/; cluster.env there lists the ports. If the
# control plane in DIR already runs, it is reused. Binaries: tests/cluster/build.sh; kubectl:
# $SEASONAL_KUBECTL_BIN or kubectl on PATH. What runs and why: docs/test-bed.md.
set -Eeuo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=../tests/cluster/binaries.sh
source "$REPO/tests/cluster/binaries.sh"
# shellcheck source=control-plane.sh
source "$REPO/.ci/control-plane.sh"
MANIFESTS=$REPO/tests/cluster/manifests
TIMEOUT_S=180

while [ $# -gt 0 ]; do
  case $1 in
    --state-dir) STATE_DIR=$2; shift 2 ;;
    --timeout) TIMEOUT_S=$2; shift 2 ;;
    -h|--help) sed -n '2,14p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "kube-up: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
STATE_DIR=$(cp_state_dir "${STATE_DIR:-}")
DEADLINE=$(( SECONDS + TIMEOUT_S ))
say() { echo "[kube-up] $*" >&2; }  # progress on stderr: stdout's last line is the kubeconfig

step() {  # step NAME COMMAND...: run it, report its duration
  local name=$1 start=${EPOCHREALTIME/./}
  shift
  "$@"
  local micros=$(( ${EPOCHREALTIME/./} - start ))
  printf '[kube-up] %-36s %4d.%01ds\n' "$name" $(( micros / 1000000 )) $(( micros % 1000000 / 100000 )) >&2
}

# --- already up? -------------------------------------------------------------------------------
if cp_all_running "$STATE_DIR" && cp_kubectl "$STATE_DIR" get --raw=/readyz >/dev/null 2>&1; then
  say "already running in $STATE_DIR"
  echo "$STATE_DIR/admin.kubeconfig"
  exit 0
fi

# --- preconditions: fail loudly, naming the fix ------------------------------------------------
missing=()
for binary in "${CLUSTER_BINARIES[@]}"; do [ -x "$binary" ] || missing+=("$binary"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "kube-up: missing ${missing[*]}" >&2
  echo "kube-up: build them with: bash tests/cluster/build.sh" >&2
  exit 1
fi
command -v openssl >/dev/null || { echo "kube-up: openssl is missing: apt-get install -y openssl" >&2; exit 1; }
KUBECTL=$(cp_kubectl_bin) || exit 1

# A half-started or crashed control plane in DIR: stop what is left, start afresh.
bash "$REPO/.ci/kube-down.sh" --state-dir "$STATE_DIR" >&2
cp_prepare_state_dir "$STATE_DIR"
mkdir -p "$STATE_DIR"/{pki,logs,pids}
mkdir -m 700 "$STATE_DIR/etcd"

on_error() {
  local rc=$?
  say "FAILED (exit $rc); stopping what started. Logs: $STATE_DIR/logs/"
  bash "$REPO/.ci/kube-down.sh" --state-dir "$STATE_DIR" >&2 || true
  exit "$rc"
}
trap on_error ERR
on_signal() {
  trap - ERR INT TERM
  say "interrupted; stopping what started"
  bash "$REPO/.ci/kube-down.sh" --state-dir "$STATE_DIR" >&2 || true
  exit 130
}
trap on_signal INT TERM

# --- certificates ------------------------------------------------------------------------------
PKI=$STATE_DIR/pki
make_pki() {
  # ECDSA P-256 everywhere: instant to generate, accepted by Go's TLS and the API server's
  # service-account signer (ES256).
  newkey() { openssl ecparam -name prime256v1 -genkey -noout -out "$PKI/$1.key" 2>/dev/null; }
  new_ca() {  # new_ca NAME COMMON_NAME
    newkey "$1"
    openssl req -x509 -new -key "$PKI/$1.key" -sha256 -days 3650 -subj "/CN=$2" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
      -out "$PKI/$1.crt" 2>/dev/null
  }
  sign() {  # sign CA NAME SUBJECT EXTENSIONS: NAME.key and NAME.crt, signed by CA
    newkey "$2"
    openssl req -new -key "$PKI/$2.key" -subj "$3" -out "$PKI/$2.csr" 2>/dev/null
    printf '%s\n' "$4" >"$PKI/$2.ext"
    openssl x509 -req -in "$PKI/$2.csr" -CA "$PKI/$1.crt" -CAkey "$PKI/$1.key" -CAcreateserial \
      -sha256 -days 3650 -extfile "$PKI/$2.ext" -out "$PKI/$2.crt" 2>/dev/null
    rm -f "$PKI/$2.csr" "$PKI/$2.ext"
  }
  local client="basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"
  new_ca ca seasonal-engines-test-ca
  sign ca apiserver "/CN=kube-apiserver" "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,IP:$SERVICE_IP,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  sign ca admin "/O=system:masters/CN=kubernetes-admin" "$client"
  sign ca controller-manager "/CN=system:kube-controller-manager" "$client"
  sign ca scheduler "/CN=system:kube-scheduler" "$client"
  sign ca kwok "/CN=kwok-controller" "$client"
  # The aggregation layer's front proxy (how a managed cluster serves metrics-server and other
  # APIServices): its own CA, and the client certificate the API server proxies with.
  new_ca front-proxy-ca seasonal-engines-test-front-proxy-ca
  sign front-proxy-ca front-proxy-client "/CN=front-proxy-client" "$client"
  # The API server verifies service-account tokens with sa.pub and signs TokenRequests with sa.key;
  # the controller-manager signs legacy token Secrets with the same key.
  newkey sa
  openssl ec -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
  chmod 600 "$PKI"/*.key
}

write_kubeconfig() {  # write_kubeconfig NAME USER: client certificate NAME.crt/key for USER
  cat >"$STATE_DIR/$1.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: seasonal-engines-test
  cluster:
    server: $SERVER
    certificate-authority: $PKI/ca.crt
users:
- name: $2
  user:
    client-certificate: $PKI/$1.crt
    client-key: $PKI/$1.key
contexts:
- name: $2@seasonal-engines-test
  context:
    cluster: seasonal-engines-test
    user: $2
    namespace: default
current-context: $2@seasonal-engines-test
EOF
  chmod 600 "$STATE_DIR/$1.kubeconfig"
}

# --- ports and addresses -----------------------------------------------------------------------
read -r ETCD_PORT ETCD_PEER_PORT APISERVER_PORT CONTROLLER_MANAGER_PORT SCHEDULER_PORT <<<"$(cp_free_ports 5)"
SERVER=https://127.0.0.1:$APISERVER_PORT
SERVICE_CIDR=10.96.0.0/16
SERVICE_IP=10.96.0.1  # the first address of SERVICE_CIDR: the `kubernetes` Service's ClusterIP
cat >"$STATE_DIR/cluster.env" <<EOF
SERVER=$SERVER
ETCD_PORT=$ETCD_PORT
ETCD_PEER_PORT=$ETCD_PEER_PORT
APISERVER_PORT=$APISERVER_PORT
CONTROLLER_MANAGER_PORT=$CONTROLLER_MANAGER_PORT
SCHEDULER_PORT=$SCHEDULER_PORT
KUBERNETES_VERSION=$KUBERNETES_VERSION
ETCD_VERSION=$ETCD_VERSION
KWOK_VERSION=$KWOK_VERSION
EOF

step "certificates and keys" make_pki
write_kubeconfig admin kubernetes-admin
write_kubeconfig controller-manager system:kube-controller-manager
write_kubeconfig scheduler system:kube-scheduler
write_kubeconfig kwok kwok-controller

# --- etcd --------------------------------------------------------------------------------------
start_etcd() {
  # No fsync: a test bed's data may be lost with the machine; it halves write latency here.
  cp_start "$STATE_DIR" etcd "$ETCD_BIN" \
    --name=testbed --data-dir="$STATE_DIR/etcd" \
    --listen-client-urls="http://127.0.0.1:$ETCD_PORT" --advertise-client-urls="http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster="testbed=http://127.0.0.1:$ETCD_PEER_PORT" \
    --unsafe-no-fsync --log-level=warn
  cp_wait "$STATE_DIR" etcd "$DEADLINE" "etcd /health" \
    sh -c "curl -sf http://127.0.0.1:$ETCD_PORT/health | grep -q '\"health\":\"true\"'"
}

# --- kube-apiserver ----------------------------------------------------------------------------
# Flag and admission plugin names as in kubernetes v1.35.4 (cmd/kube-apiserver/app/options,
# pkg/kubeapiserver/options/plugins.go). The plugins are those a managed cluster runs, with
# OwnerReferencesPermissionEnforcement as OpenShift has it on.
ADMISSION_PLUGINS=NamespaceLifecycle,LimitRanger,ServiceAccount,NodeRestriction,TaintNodesByCondition
ADMISSION_PLUGINS+=,Priority,DefaultTolerationSeconds,DefaultStorageClass,StorageObjectInUseProtection
ADMISSION_PLUGINS+=,PersistentVolumeClaimResize,RuntimeClass,CertificateApproval,CertificateSigning
ADMISSION_PLUGINS+=,CertificateSubjectRestriction,DefaultIngressClass,PodSecurity
ADMISSION_PLUGINS+=,OwnerReferencesPermissionEnforcement,MutatingAdmissionWebhook
ADMISSION_PLUGINS+=,ValidatingAdmissionPolicy,ValidatingAdmissionWebhook,ResourceQuota
start_apiserver() {
  # The audit log records every request of the ServiceAccounts in namespace seasonal-engines (the
  # operator's) at Metadata level: who, which verb on which resource, the answer's code. The RBAC test
  # compares what the operator really did with what the chart grants. Nothing else is recorded.
  cat >"$STATE_DIR/audit-policy.yaml" <<'POLICY'
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
  - level: Metadata
    userGroups: ["system:serviceaccounts:seasonal-engines"]
  - level: None
POLICY
  # --endpoint-reconciler-type=none: the `kubernetes` Service's endpoints would be 127.0.0.1,
  # which Endpoints validation refuses (loopback); nothing in the bed dials the Service.
  cp_start "$STATE_DIR" kube-apiserver "$KUBE_APISERVER_BIN" \
    --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$APISERVER_PORT" \
    --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
    --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
    --client-ca-file="$PKI/ca.crt" \
    --authorization-mode=Node,RBAC --anonymous-auth=false \
    --enable-admission-plugins="$ADMISSION_PLUGINS" \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
    --service-cluster-ip-range="$SERVICE_CIDR" --endpoint-reconciler-type=none \
    --requestheader-client-ca-file="$PKI/front-proxy-ca.crt" --requestheader-allowed-names=front-proxy-client \
    --requestheader-username-headers=X-Remote-User --requestheader-group-headers=X-Remote-Group \
    --requestheader-extra-headers-prefix=X-Remote-Extra- \
    --proxy-client-cert-file="$PKI/front-proxy-client.crt" --proxy-client-key-file="$PKI/front-proxy-client.key" \
    --audit-policy-file="$STATE_DIR/audit-policy.yaml" --audit-log-path="$STATE_DIR/logs/audit.log" \
    --audit-log-format=json --audit-log-maxsize=512 \
    --profiling=false --cert-dir="$STATE_DIR/pki/apiserver-generated"
  cp_wait "$STATE_DIR" kube-apiserver "$DEADLINE" "kube-apiserver /readyz" \
    cp_kubectl "$STATE_DIR" get --raw=/readyz
}

# --- kube-controller-manager and kube-scheduler ------------------------------------------------
start_controller_manager() {
  # --controllers=*: every controller on by default (job, deployment, replicaset, garbage
  # collector, namespace, serviceaccount, node-lifecycle, ...); each with its own ServiceAccount.
  cp_start "$STATE_DIR" kube-controller-manager "$KUBE_CONTROLLER_MANAGER_BIN" \
    --kubeconfig="$STATE_DIR/controller-manager.kubeconfig" \
    --authentication-kubeconfig="$STATE_DIR/controller-manager.kubeconfig" \
    --authorization-kubeconfig="$STATE_DIR/controller-manager.kubeconfig" \
    --bind-address=127.0.0.1 --secure-port="$CONTROLLER_MANAGER_PORT" \
    --cert-dir="$STATE_DIR/pki/controller-manager-generated" \
    --controllers='*' --use-service-account-credentials=true \
    --service-account-private-key-file="$PKI/sa.key" --root-ca-file="$PKI/ca.crt" \
    --cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
    --service-cluster-ip-range="$SERVICE_CIDR" --leader-elect=false --profiling=false
}

start_scheduler() {
  cp_start "$STATE_DIR" kube-scheduler "$KUBE_SCHEDULER_BIN" \
    --kubeconfig="$STATE_DIR/scheduler.kubeconfig" \
    --authentication-kubeconfig="$STATE_DIR/scheduler.kubeconfig" \
    --authorization-kubeconfig="$STATE_DIR/scheduler.kubeconfig" \
    --bind-address=127.0.0.1 --secure-port="$SCHEDULER_PORT" \
    --cert-dir="$STATE_DIR/pki/scheduler-generated" \
    --leader-elect=false --profiling=false
}

wait_controllers() {
  cp_wait "$STATE_DIR" kube-controller-manager "$DEADLINE" "kube-controller-manager /healthz" \
    curl -skf "https://127.0.0.1:$CONTROLLER_MANAGER_PORT/healthz"
  cp_wait "$STATE_DIR" kube-scheduler "$DEADLINE" "kube-scheduler /readyz" \
    curl -skf "https://127.0.0.1:$SCHEDULER_PORT/readyz"
}

# --- kwok and its nodes ------------------------------------------------------------------------
start_kwok() {
  cp_kubectl "$STATE_DIR" apply -f "$MANIFESTS/kwok-rbac.yaml" >/dev/null
  # Only nodes annotated kwok.x-k8s.io/node=fake are kwok's. It renews their Leases, so the real
  # node-lifecycle controller keeps them Ready. No --server-address or --node-port: kwok serves
  # nothing (no kubelet API, no metrics). Options as flags: a KwokConfiguration in the config file
  # replaces kwok's defaults wholesale (v0.8.0 then refuses to start: "playStageParallelism must
  # be greater than 0").
  cp_start "$STATE_DIR" kwok "$KWOK_BIN" \
    --kubeconfig="$STATE_DIR/kwok.kubeconfig" --config="$MANIFESTS/kwok.yaml" \
    --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake --node-lease-duration-seconds=40 \
    --cidr=10.244.0.0/16 --node-ip=10.250.0.1
  cp_kubectl "$STATE_DIR" apply -f "$MANIFESTS/nodes.yaml" >/dev/null
}

nodes_ready() {  # every kwok node Ready and without taints (TaintNodesByCondition adds not-ready)
  local listing
  listing=$(cp_kubectl "$STATE_DIR" get nodes -o \
    jsonpath='{range .items[*]}{.metadata.name} {.status.conditions[?(@.type=="Ready")].status} {.spec.taints}{"\n"}{end}')
  [ -n "$listing" ] && ! grep -qv '^[^ ]* True $' <<<"$listing"
}

wait_ready() {
  cp_wait "$STATE_DIR" kwok "$DEADLINE" "kwok nodes Ready and untainted" nodes_ready
  cp_wait "$STATE_DIR" kube-controller-manager "$DEADLINE" "ServiceAccount default/default" \
    cp_kubectl "$STATE_DIR" get serviceaccount default --namespace default
}

step "etcd $ETCD_VERSION" start_etcd
step "kube-apiserver $KUBERNETES_VERSION" start_apiserver
start_controller_manager
start_scheduler
step "controller-manager, scheduler" wait_controllers
step "kwok $KWOK_VERSION" start_kwok
step "nodes Ready, default ServiceAccount" wait_ready
trap - ERR INT TERM
say "up in $STATE_DIR; API server $SERVER; stop with: bash .ci/kube-down.sh --state-dir $STATE_DIR"
echo "$STATE_DIR/admin.kubeconfig"
