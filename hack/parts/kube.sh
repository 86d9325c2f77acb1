#!/usr/bin/env bash
# hack/parts/kube.sh — a real Kubernetes control plane for integration tests: etcd,
# kube-apiserver and kube-controller-manager, built from the Go module proxy (module in
# hack/kube) and run as processes bound to 127.0.0.1. No scheduler or kubelet yet, so
# Pods stay Pending; Deployments, ReplicaSets, CRDs, RBAC, garbage collection all work.
#
#   hack/parts/kube.sh install        build etcd, kube-apiserver, kube-controller-manager,
#                                     kubectl into $SWITCHBOARD_CACHE/kube/bin-<key> (cached)
#   hack/parts/kube.sh up             install, PKI and kubeconfigs, start all three, wait
#                                     until the controllers act (idempotent)
#   hack/parts/kube.sh down [--purge] stop what `up` started; --purge (or SB_PURGE=1) also
#                                     deletes $SWITCHBOARD_STATE/kube (etcd data, PKI)
#   hack/parts/kube.sh status         health of each process; non-zero if any is down
#   eval "$(hack/parts/kube.sh env)"  KUBECONFIG and SB_KUBECTL for this cluster
SB_PART=kube
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"

# shellcheck source-path=SCRIPTDIR source=../lib/kube.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/kube.sh"

KUBE_STATE=$SWITCHBOARD_STATE/kube
PKI=$KUBE_STATE/pki
ADMIN_KUBECONFIG=$KUBE_STATE/admin.kubeconfig
CM_KUBECONFIG=$KUBE_STATE/controller-manager.kubeconfig
APISERVER_URL=https://127.0.0.1:$SB_APISERVER_PORT
ETCD_URL=http://127.0.0.1:$SB_ETCD_PORT
SERVICE_CIDR=10.96.0.0/12
FIRST_SERVICE_IP=10.96.0.1
BINARIES=(etcd kube-apiserver kube-controller-manager kubectl)

usage() { awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; }

bin_dir() { kube_bin_dir; }

cmd_install() { kube_build "${BINARIES[@]}"; }

make_pki() {
  kube_make_base_pki switchboard-kube \
    "IP:127.0.0.1,IP:$FIRST_SERVICE_IP,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  chmod 600 "$PKI"/*.key
}

kubeconfig() { kube_kubeconfig "$1" "$APISERVER_URL" "$2" "$3"; }

# ---------------------------------------------------------------------------- health

etcd_healthy() { curl -fs --max-time 2 "$ETCD_URL/health" | grep -q '"health":"true"'; }
apiserver_ready() {
  curl -fs --max-time 3 --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" \
    "$APISERVER_URL/readyz" | grep -qx ok
}
controller_manager_healthy() {
  curl -fsk --max-time 2 "https://127.0.0.1:$SB_CONTROLLER_MANAGER_PORT/healthz" | grep -qx ok
}
kubectl_admin() { "$(bin_dir)/kubectl" --kubeconfig "$ADMIN_KUBECONFIG" "$@"; }
# The controllers act: the `default` ServiceAccount of namespace default exists, and one of
# a namespace made by this `up` appears too (with kept etcd data the first alone proves
# nothing about the controller-manager just started).
controllers_act() {
  kubectl_admin -n default get serviceaccount default &&
    kubectl_admin -n "$PROBE_NS" get serviceaccount default
}

# ---------------------------------------------------------------------------- up

cmd_up() {
  local bin start=$SECONDS t
  cmd_install
  bin=$(bin_dir)
  t=$SECONDS
  make_pki
  kubeconfig "$ADMIN_KUBECONFIG" admin admin
  kubeconfig "$CM_KUBECONFIG" system:kube-controller-manager controller-manager
  mkdir -p "$KUBE_STATE/etcd" "$KUBE_STATE/controller-manager"
  chmod 700 "$KUBE_STATE/etcd"

  start_and_wait etcd 30 "etcd /health" etcd_healthy "127.0.0.1:$SB_ETCD_PORT" -- \
    "$bin/etcd" \
    --name=switchboard \
    --data-dir="$KUBE_STATE/etcd" \
    --listen-client-urls="$ETCD_URL" \
    --advertise-client-urls="$ETCD_URL" \
    --listen-peer-urls="http://127.0.0.1:$SB_ETCD_PEER_PORT" \
    --initial-advertise-peer-urls="http://127.0.0.1:$SB_ETCD_PEER_PORT" \
    --initial-cluster="switchboard=http://127.0.0.1:$SB_ETCD_PEER_PORT" \
    --initial-cluster-state=new \
    --log-level=warn

  start_and_wait kube-apiserver 90 "kube-apiserver /readyz" apiserver_ready "127.0.0.1:$SB_APISERVER_PORT" -- \
    "$bin/kube-apiserver" \
    --etcd-servers="$ETCD_URL" \
    --bind-address=127.0.0.1 \
    --advertise-address=127.0.0.1 \
    --endpoint-reconciler-type=none \
    --secure-port="$SB_APISERVER_PORT" \
    --tls-cert-file="$PKI/apiserver.crt" \
    --tls-private-key-file="$PKI/apiserver.key" \
    --client-ca-file="$PKI/ca.crt" \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$PKI/sa.pub" \
    --service-account-signing-key-file="$PKI/sa.key" \
    --authorization-mode=RBAC \
    --service-cluster-ip-range="$SERVICE_CIDR" \
    --allow-privileged=true \
    --requestheader-client-ca-file="$PKI/front-proxy-ca.crt" \
    --requestheader-allowed-names=front-proxy-client \
    --requestheader-username-headers=X-Remote-User \
    --requestheader-group-headers=X-Remote-Group \
    --requestheader-extra-headers-prefix=X-Remote-Extra- \
    --proxy-client-cert-file="$PKI/front-proxy-client.crt" \
    --proxy-client-key-file="$PKI/front-proxy-client.key"

  PROBE_NS=switchboard-probe-$(date +%s)-$$
  kubectl_admin delete namespace -l switchboard.dev/probe --wait=false >/dev/null
  printf 'apiVersion: v1\nkind: Namespace\nmetadata: {name: %s, labels: {switchboard.dev/probe: "true"}}\n' \
    "$PROBE_NS" | kubectl_admin create -f - >/dev/null
  start_and_wait kube-controller-manager 90 "default ServiceAccounts from the controller-manager" \
    controllers_act "127.0.0.1:$SB_CONTROLLER_MANAGER_PORT" -- \
    "$bin/kube-controller-manager" \
    --kubeconfig="$CM_KUBECONFIG" \
    --authentication-kubeconfig="$CM_KUBECONFIG" \
    --authorization-kubeconfig="$CM_KUBECONFIG" \
    --controllers='*' \
    --use-service-account-credentials \
    --leader-elect=false \
    --bind-address=127.0.0.1 \
    --secure-port="$SB_CONTROLLER_MANAGER_PORT" \
    --cert-dir="$KUBE_STATE/controller-manager" \
    --client-ca-file="$PKI/ca.crt" \
    --requestheader-client-ca-file="$PKI/front-proxy-ca.crt" \
    --root-ca-file="$PKI/ca.crt" \
    --service-account-private-key-file="$PKI/sa.key" \
    --cluster-signing-cert-file="$PKI/ca.crt" \
    --cluster-signing-key-file="$PKI/ca.key" \
    --service-cluster-ip-range="$SERVICE_CIDR"

  kubectl_admin delete namespace "$PROBE_NS" --wait=false >/dev/null
  log "control plane up in $((SECONDS - t)) s (total $((SECONDS - start)) s): $APISERVER_URL"
  log "use it with: eval \"\$(hack/parts/kube.sh env)\""
}

# ---------------------------------------------------------------------------- down, status, env

cmd_down() {
  local purge=${SB_PURGE:-0}
  [[ ${1:-} == --purge ]] && purge=1
  stop_bg kube-controller-manager
  stop_bg kube-apiserver
  stop_bg etcd
  if [[ $purge == 1 ]]; then
    rm -rf "$KUBE_STATE"
    rm -f "$(logfile etcd)" "$(logfile kube-apiserver)" "$(logfile kube-controller-manager)"
    log "removed $KUBE_STATE"
  fi
}

cmd_status() {
  local rc=0
  if etcd_healthy; then status_line etcd healthy "$ETCD_URL"; else status_line etcd down "$ETCD_URL"; rc=1; fi
  if [[ -s $PKI/admin.crt ]] && apiserver_ready; then
    status_line kube-apiserver healthy "$APISERVER_URL"
  else
    status_line kube-apiserver down "$APISERVER_URL"
    rc=1
  fi
  if controller_manager_healthy; then
    status_line kube-controller-manager healthy "https://127.0.0.1:$SB_CONTROLLER_MANAGER_PORT"
  else
    status_line kube-controller-manager down "https://127.0.0.1:$SB_CONTROLLER_MANAGER_PORT"
    rc=1
  fi
  return "$rc"
}

cmd_env() {
  local kubectl
  kubectl=$(bin_dir)/kubectl
  [[ -x $kubectl ]] || log "warning: $kubectl is not built yet (run: hack/parts/kube.sh install)"
  echo "export KUBECONFIG=$ADMIN_KUBECONFIG"
  echo "export SB_KUBECTL=$kubectl"
}

case ${1:-} in
  install) cmd_install ;;
  up) cmd_up ;;
  down) cmd_down "${2:-}" ;;
  status) cmd_status ;;
  env) cmd_env ;;
  -h | --help | help) usage ;;
  *)
    usage >&2
    exit 2
    ;;
esac
