# shellcheck shell=bash
# Kubernetes helpers shared by hack/parts/kube.sh (the control plane of the stack) and
# hack/cluster (a single-node cluster with a kubelet). Source it after common.sh.
#
# Binaries are built from the Go module in hack/kube (k8s.io/kubernetes at KUBE_VERSION) into
# $SWITCHBOARD_CACHE/kube/bin-<hash of go.mod, go.sum and the module's own sources>; each
# caller builds the set it needs and the sets share that directory.

KUBE_VERSION=v1.34.4
KUBE_MOD_DIR=$HACK_DIR/kube

# name of a binary -> the package that builds it
declare -A KUBE_PACKAGES=(
  [etcd]=go.etcd.io/etcd/server/v3
  [kube-apiserver]=k8s.io/kubernetes/cmd/kube-apiserver
  [kube-controller-manager]=k8s.io/kubernetes/cmd/kube-controller-manager
  [kube-scheduler]=k8s.io/kubernetes/cmd/kube-scheduler
  [kube-proxy]=k8s.io/kubernetes/cmd/kube-proxy
  [kubelet]=k8s.io/kubernetes/cmd/kubelet
  [kubectl]=k8s.io/kubernetes/cmd/kubectl
  [pause]=switchboard.dev/hack/kube/pause
)

kube_bin_dir() {
  echo "$SWITCHBOARD_CACHE/kube/bin-$(files_hash "$KUBE_MOD_DIR/go.mod" "$KUBE_MOD_DIR/go.sum" "$KUBE_MOD_DIR/pause/main.go")"
}

kube_have() {
  local dir=$1 b
  shift
  for b; do [[ -x $dir/$b ]] || return 1; done
}

# kube_build <binary...>: builds the binaries missing from kube_bin_dir (a no-op when all are
# there). Each binary is moved into place on its own, so an interrupted build never leaves
# one that looks complete, and two callers building different sets do not collide.
kube_build() {
  local dir tmp ldflags pkg build_date build_pid b start=$SECONDS missing=() packages=()
  dir=$(kube_bin_dir)
  for b; do [[ -x $dir/$b ]] || missing+=("$b"); done
  if ((${#missing[@]} == 0)); then
    log "binaries cached in $dir"
    return 0
  fi
  command -v go >/dev/null || die "go is not on PATH"
  export GOTOOLCHAIN=local CGO_ENABLED=0
  export GOMODCACHE=$SWITCHBOARD_CACHE/go/mod GOCACHE=$SWITCHBOARD_CACHE/go/build
  mkdir -p "$SWITCHBOARD_CACHE/kube" "$GOMODCACHE" "$GOCACHE"
  # temp dirs of builds killed before their trap ran
  find "$SWITCHBOARD_CACHE/kube" -maxdepth 1 -name '.build.*' -mmin +120 -exec rm -rf {} +
  for b in "${missing[@]}"; do packages+=("${KUBE_PACKAGES[$b]:?no package for $b}"); done

  build_date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  ldflags="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=34"
    ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$build_date"
  done

  tmp=$(mktemp -d "$SWITCHBOARD_CACHE/kube/.build.XXXXXX")
  log "building ${missing[*]} ($KUBE_VERSION) with $(go version | cut -d' ' -f3); minutes from a cold cache"
  # In its own process group, so that an interrupted script stops the compilers and
  # linkers too, not only the go command.
  (cd "$KUBE_MOD_DIR" && exec setsid go build -trimpath -ldflags "$ldflags" -o "$tmp/" "${packages[@]}") &
  build_pid=$!
  # shellcheck disable=SC2064 # expand now: both are local
  trap "kill -TERM -- -$build_pid 2>/dev/null; rm -rf '$tmp'" EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  wait "$build_pid" || die "go build failed"
  # shellcheck disable=SC2064
  trap "rm -rf '$tmp'" EXIT
  if [[ -e $tmp/server ]]; then mv "$tmp/server" "$tmp/etcd"; fi # go.etcd.io/etcd/server/v3 builds `server`
  [[ ! -e $tmp/kubectl ]] || "$tmp/kubectl" version --client >/dev/null || die "the built kubectl does not run"
  [[ ! -e $tmp/etcd ]] || "$tmp/etcd" --version >/dev/null || die "the built etcd does not run"

  mkdir -p "$dir"
  for b in "${missing[@]}"; do
    [[ -x $tmp/$b ]] || die "go build made no $b"
    mv -f "$tmp/$b" "$dir/$b"
  done
  rm -rf "$tmp"
  trap - EXIT
  log "built ${missing[*]} into $dir in $((SECONDS - start)) s ($(du -sh "$dir" | cut -f1) in all)"
}

# ---------------------------------------------------------------------------- PKI
# All take the directory as $PKI.

# kube_sign <name> <subject> <extensions> [ca]: key + certificate signed by the CA <ca>
# (default ca); kept when both files exist.
kube_sign() {
  local name=$1 subj=$2 ext=$3 ca=${4:-ca}
  [[ -s $PKI/$name.crt && -s $PKI/$name.key ]] && return 0
  openssl genrsa -out "$PKI/$name.key" 2048 2>/dev/null
  openssl req -new -key "$PKI/$name.key" -subj "$subj" -out "$PKI/$name.csr"
  printf '%s\n' "$ext" >"$PKI/$name.ext"
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/$ca.crt" -CAkey "$PKI/$ca.key" \
    -CAcreateserial -days 3650 -sha256 -extfile "$PKI/$name.ext" -out "$PKI/$name.crt" 2>/dev/null
  rm -f "$PKI/$name.csr" "$PKI/$name.ext"
}

KUBE_CLIENT_EXT="basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"

# kube_server_ext <subjectAltName list>
kube_server_ext() {
  printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n'
  printf 'extendedKeyUsage=serverAuth\nsubjectAltName=%s\n' "$1"
}

kube_make_ca() {
  local name=$1 cn=$2
  [[ -s $PKI/$name.crt && -s $PKI/$name.key ]] && return 0
  openssl genrsa -out "$PKI/$name.key" 2048 2>/dev/null
  openssl req -x509 -new -key "$PKI/$name.key" -subj "/CN=$cn" -days 3650 -sha256 \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" -out "$PKI/$name.crt"
}

# kube_make_base_pki <ca cn prefix> <apiserver SANs>: the CAs, the apiserver's serving
# certificate, the admin, controller-manager and front-proxy client certificates and the
# service-account key pair that every control plane here needs.
kube_make_base_pki() {
  local prefix=$1 sans=$2
  mkdir -p "$PKI"
  chmod 700 "$PKI"
  # Leaf certificates signed by a CA that is gone would be useless: start over.
  if [[ ! -s $PKI/ca.crt || ! -s $PKI/ca.key ]]; then rm -f "$PKI"/*; fi
  if [[ ! -s $PKI/front-proxy-ca.crt || ! -s $PKI/front-proxy-ca.key ]]; then rm -f "$PKI"/front-proxy-*; fi
  [[ -s $PKI/apiserver.crt ]] || log "generating PKI in $PKI"
  kube_make_ca ca "$prefix-ca"
  kube_make_ca front-proxy-ca "$prefix-front-proxy-ca"
  kube_sign apiserver "/CN=kube-apiserver" "$(kube_server_ext "$sans")"
  kube_sign admin "/O=system:masters/CN=admin" "$KUBE_CLIENT_EXT"
  kube_sign controller-manager "/CN=system:kube-controller-manager" "$KUBE_CLIENT_EXT"
  kube_sign front-proxy-client "/CN=front-proxy-client" "$KUBE_CLIENT_EXT" front-proxy-ca
  if [[ ! -s $PKI/sa.key || ! -s $PKI/sa.pub ]]; then
    openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null
    openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
  fi
}

# kube_kubeconfig <file> <server url> <user> <cert name>
kube_kubeconfig() {
  cat >"$1.tmp" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: switchboard
  cluster:
    server: $2
    certificate-authority: $PKI/ca.crt
users:
- name: $3
  user:
    client-certificate: $PKI/$4.crt
    client-key: $PKI/$4.key
contexts:
- name: $3@switchboard
  context:
    cluster: switchboard
    user: $3
    namespace: default
current-context: $3@switchboard
EOF
  chmod 600 "$1.tmp"
  mv "$1.tmp" "$1"
}

# ---------------------------------------------------------------------------- processes

# alive_and <name> <check...>: true when the check passes, or when <name> has exited (so
# wait_for stops polling a dead process; start_and_wait tells the two apart).
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

# start_and_wait <name> <seconds> <what> <check> <host:port|-> -- <command...>: starts the
# command unless it runs already, and waits until the check passes. Refuses to start when
# the port is taken by a process that is not ours.
start_and_wait() {
  local name=$1 secs=$2 what=$3 check=$4 addr=$5
  shift 6
  if [[ $addr != - ]] && ! running "$name" && port_open "${addr##*:}" "${addr%:*}"; then
    die "$addr is taken by a process this script did not start (not $name of ours)"
  fi
  start_bg "$name" "$@"
  wait_for "$secs" "$what" alive_and "$name" "$check" || fail_with_log "$name" "timed out"
  running "$name" || fail_with_log "$name" "exited"
}
