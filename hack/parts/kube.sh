#!/usr/bin/env bash
# hack/parts/kube.sh — a real Kubernetes control plane for integration tests: etcd,
# kube-apiserver and kube-controller-manager, built from the Go module proxy (module in
# hack/cluster) and run as processes bound to 127.0.0.1. No scheduler or kubelet yet, so
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

KUBE_VERSION=v1.34.4
MOD_DIR=$HACK_DIR/cluster
KUBE_STATE=$SWITCHBOARD_STATE/kube
PKI=$KUBE_STATE/pki
ADMIN_KUBECONFIG=$KUBE_STATE/admin.kubeconfig
CM_KUBECONFIG=$KUBE_STATE/controller-manager.kubeconfig
APISERVER_URL=https://127.0.0.1:$SB_APISERVER_PORT
ETCD_URL=http://127.0.0.1:$SB_ETCD_PORT
SERVICE_CIDR=10.96.0.0/12
FIRST_SERVICE_IP=10.96.0.1
BINARIES=(etcd kube-apiserver kube-controller-manager kubectl)
PACKAGES=(
  go.etcd.io/etcd/server/v3
  k8s.io/kubernetes/cmd/kube-apiserver
  k8s.io/kubernetes/cmd/kube-controller-manager
  k8s.io/kubernetes/cmd/kubectl
)

usage() { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; }

bin_dir() { echo "$SWITCHBOARD_CACHE/kube/bin-$(files_hash "$MOD_DIR/go.mod" "$MOD_DIR/go.sum")"; }

have_binaries() {
  local b
  for b in "${BINARIES[@]}"; do [[ -x $1/$b ]] || return 1; done
}

# ---------------------------------------------------------------------------- install

cmd_install() {
  local dir tmp ldflags pkg build_date build_pid start=$SECONDS
  dir=$(bin_dir)
  if have_binaries "$dir"; then
    log "binaries cached in $dir"
    return 0
  fi
  command -v go >/dev/null || die "go is not on PATH"
  export GOTOOLCHAIN=local CGO_ENABLED=0
  export GOMODCACHE=$SWITCHBOARD_CACHE/go/mod GOCACHE=$SWITCHBOARD_CACHE/go/build
  mkdir -p "$SWITCHBOARD_CACHE/kube" "$GOMODCACHE" "$GOCACHE"
  # temp dirs of builds killed before their trap ran
  find "$SWITCHBOARD_CACHE/kube" -maxdepth 1 -name '.build.*' -mmin +120 -exec rm -rf {} +

  build_date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  ldflags="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=34"
    ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$build_date"
  done

  # Build next to the final place, then rename: an interrupted build never looks complete.
  tmp=$(mktemp -d "$SWITCHBOARD_CACHE/kube/.build.XXXXXX")
  log "building ${BINARIES[*]} ($KUBE_VERSION) with $(go version | cut -d' ' -f3); 5-6 min from a cold cache"
  # In its own process group, so that an interrupted script stops the compilers and
  # linkers too, not only the go command.
  (cd "$MOD_DIR" && exec setsid go build -trimpath -ldflags "$ldflags" -o "$tmp/" "${PACKAGES[@]}") &
  build_pid=$!
  # shellcheck disable=SC2064 # expand now: both are local
  trap "kill -TERM -- -$build_pid 2>/dev/null; rm -rf '$tmp'" EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  wait "$build_pid" || die "go build failed"
  # shellcheck disable=SC2064
  trap "rm -rf '$tmp'" EXIT
  mv "$tmp/server" "$tmp/etcd" # go.etcd.io/etcd/server/v3 builds a binary named `server`
  "$tmp/kubectl" version --client >/dev/null || die "the built kubectl does not run"
  "$tmp/etcd" --version >/dev/null || die "the built etcd does not run"

  chmod 755 "$tmp" # mktemp made it 0700
  rm -rf "$dir" # a partial directory left by hand, never by us
  if ! mv -T "$tmp" "$dir" 2>/dev/null; then
    have_binaries "$dir" || die "could not move the binaries to $dir"
    log "another build finished first; keeping it"
  fi
  log "built into $dir in $((SECONDS - start)) s ($(du -sh "$dir" | cut -f1))"
}

# ---------------------------------------------------------------------------- PKI

# sign <name> <subject> <extensions...>: key + certificate signed by the CA <ca> (default ca)
sign() {
  local name=$1 subj=$2 ext=$3 ca=${4:-ca}
  [[ -s $PKI/$name.crt && -s $PKI/$name.key ]] && return 0
  openssl genrsa -out "$PKI/$name.key" 2048 2>/dev/null
  openssl req -new -key "$PKI/$name.key" -subj "$subj" -out "$PKI/$name.csr"
  printf '%s\n' "$ext" >"$PKI/$name.ext"
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/$ca.crt" -CAkey "$PKI/$ca.key" \
    -CAcreateserial -days 3650 -sha256 -extfile "$PKI/$name.ext" -out "$PKI/$name.crt" 2>/dev/null
  rm -f "$PKI/$name.csr" "$PKI/$name.ext"
}

make_ca() {
  local name=$1 cn=$2
  [[ -s $PKI/$name.crt && -s $PKI/$name.key ]] && return 0
  openssl genrsa -out "$PKI/$name.key" 2048 2>/dev/null
  openssl req -x509 -new -key "$PKI/$name.key" -subj "/CN=$cn" -days 3650 -sha256 \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" -out "$PKI/$name.crt"
}

make_pki() {
  mkdir -p "$PKI"
  chmod 700 "$PKI"
  # Leaf certificates signed by a CA that is gone would be useless: start over.
  if [[ ! -s $PKI/ca.crt || ! -s $PKI/ca.key ]]; then rm -f "$PKI"/*; fi
  if [[ ! -s $PKI/front-proxy-ca.crt || ! -s $PKI/front-proxy-ca.key ]]; then rm -f "$PKI"/front-proxy-*; fi
  [[ -s $PKI/apiserver.crt ]] || log "generating PKI in $PKI"
  local client="basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"
  make_ca ca switchboard-kube-ca
  make_ca front-proxy-ca switchboard-front-proxy-ca
  sign apiserver "/CN=kube-apiserver" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,IP:$FIRST_SERVICE_IP,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  sign admin "/O=system:masters/CN=admin" "$client"
  sign controller-manager "/CN=system:kube-controller-manager" "$client"
  sign front-proxy-client "/CN=front-proxy-client" "$client" front-proxy-ca
  if [[ ! -s $PKI/sa.key || ! -s $PKI/sa.pub ]]; then
    openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null
    openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
  fi
  chmod 600 "$PKI"/*.key
}

# kubeconfig <file> <user> <cert name>
kubeconfig() {
  cat >"$1.tmp" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: switchboard
  cluster:
    server: $APISERVER_URL
    certificate-authority: $PKI/ca.crt
users:
- name: $2
  user:
    client-certificate: $PKI/$3.crt
    client-key: $PKI/$3.key
contexts:
- name: $2@switchboard
  context:
    cluster: switchboard
    user: $2
    namespace: default
current-context: $2@switchboard
EOF
  chmod 600 "$1.tmp"
  mv "$1.tmp" "$1"
}

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

# alive_and <name> <check...>: true when the check passes, or when <name> has exited (so
# wait_for stops polling a dead process; started_ok tells the two apart).
alive_and() {
  local name=$1
  shift
  running "$name" || return 0
  "$@"
}

fail_with_log() {
  log "$1: $2; last lines of $(logfile "$1"):"
  tail -n 25 "$(logfile "$1")" >&2 || true
  die "$1 did not come up"
}

# start_and_wait <name> <seconds> <what> <check> -- <command...>
start_and_wait() {
  local name=$1 secs=$2 what=$3 check=$4 port=$5
  shift 6
  if ! running "$name" && port_open "$port"; then
    die "port $port is taken by a process this script did not start (not $name of ours)"
  fi
  start_bg "$name" "$@"
  wait_for "$secs" "$what" alive_and "$name" "$check" || fail_with_log "$name" "timed out"
  running "$name" || fail_with_log "$name" "exited"
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

  start_and_wait etcd 30 "etcd /health" etcd_healthy "$SB_ETCD_PORT" -- \
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

  start_and_wait kube-apiserver 90 "kube-apiserver /readyz" apiserver_ready "$SB_APISERVER_PORT" -- \
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
    controllers_act "$SB_CONTROLLER_MANAGER_PORT" -- \
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
