#!/usr/bin/env bash
# hack/lib/install-chat.sh — installs Switchboard on the cluster of $KUBECONFIG: the chart
# (CRD, RBAC, operator), the example's JWT secret and examples/chatcluster.yaml pointed at the
# given backends. The one install path of every cluster we run (hack/kind; the e2e suite on
# hack/cluster): only the backend addresses differ between them.
#
#   KUBECONFIG=... hack/lib/install-chat.sh --kafka HOST:PORT[,...] --cassandra HOST:PORT[,...] \
#       --redis redis://HOST:PORT [options]
#
#   --namespace NS           the ChatCluster's namespace (default: default)
#   --operator-namespace NS  the chart's release namespace (default: switchboard-system)
#   --tag TAG                the image tag of the operator and the workloads
#                            (default: package.json's version, the tag the image builds use)
#   --wait SECONDS           wait until the ChatCluster is Ready (default: 600; 0: do not wait)
#   --helm-set KEY=VALUE     an extra `helm --set` (repeatable)
#
# Tools: $SB_HELM or helm, $SB_KUBECTL or kubectl. Idempotent: a second run upgrades the
# release and re-applies the ChatCluster; an existing JWT secret is kept.

# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
SB_PART=install-chat

CHART=$REPO_DIR/charts/switchboard-operator
EXAMPLE=$REPO_DIR/examples/chatcluster.yaml
RELEASE=switchboard

usage() { awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; }

kafka="" cassandra="" redis="" namespace=default operator_namespace=switchboard-system
tag="" wait_seconds=600 helm_sets=()
while (($#)); do
  case $1 in
    --kafka) kafka=${2:?--kafka needs a value}; shift 2 ;;
    --cassandra) cassandra=${2:?--cassandra needs a value}; shift 2 ;;
    --redis) redis=${2:?--redis needs a value}; shift 2 ;;
    --namespace) namespace=${2:?--namespace needs a value}; shift 2 ;;
    --operator-namespace) operator_namespace=${2:?--operator-namespace needs a value}; shift 2 ;;
    --tag) tag=${2:?--tag needs a value}; shift 2 ;;
    --wait) wait_seconds=${2:?--wait needs a value}; shift 2 ;;
    --helm-set) helm_sets+=(--set "${2:?--helm-set needs a value}"); shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done

# host:port[,host:port...], host names or IPv4 addresses
addresses_re='^[A-Za-z0-9.-]+:[0-9]+(,[A-Za-z0-9.-]+:[0-9]+)*$'
[[ $kafka =~ $addresses_re ]] || die "--kafka must be host:port[,host:port...], not '$kafka'"
[[ $cassandra =~ $addresses_re ]] || die "--cassandra must be host:port[,host:port...], not '$cassandra'"
[[ $redis =~ ^rediss?://[A-Za-z0-9.-]+:[0-9]+(/[0-9]+)?$ ]] || die "--redis must be redis://host:port, not '$redis'"
[[ $wait_seconds =~ ^[0-9]+$ ]] || die "--wait must be a number of seconds, not '$wait_seconds'"
[[ -n ${KUBECONFIG:-} ]] || die "KUBECONFIG is not set: which cluster?"
if [[ -z $tag ]]; then
  tag=$(sed -n 's/^  "version": "\([^"]*\)",$/\1/p' "$REPO_DIR/package.json")
  [[ -n $tag ]] || die "no version in package.json"
fi

helm=${SB_HELM:-helm}
kubectl=${SB_KUBECTL:-kubectl}
command -v "$helm" >/dev/null || die "no helm: set SB_HELM (eval \"\$(hack/helm.sh env)\") or put helm on PATH"
command -v "$kubectl" >/dev/null || die "no kubectl: set SB_KUBECTL or put kubectl on PATH"

# "a:1,b:2" -> ["a:1","b:2"] (the characters were checked above: nothing to escape)
json_list() { printf '["%s"]' "${1//,/\",\"}"; }

# 1. The chart. Helm installs crds/ only on a first install and never upgrades them: apply
#    the same file first so an upgrade gets the current CRD too.
log "CRD, then chart $RELEASE (image tag $tag) in namespace $operator_namespace"
"$kubectl" apply --server-side --force-conflicts --field-manager=switchboard-install \
  -f "$CHART/crds/"
"$kubectl" wait --for=condition=Established --timeout=60s crd/chatclusters.chat.switchboard.dev
"$helm" upgrade --install "$RELEASE" "$CHART" \
  --namespace "$operator_namespace" --create-namespace \
  --set image.tag="$tag" "${helm_sets[@]}" \
  --wait --timeout 5m >/dev/null # its NOTES tell what this script does next
log "chart $RELEASE deployed"

# 2. The ChatCluster's namespace and the JWT secret the example references (kept if present:
#    a new secret would invalidate every issued token).
name=$("$kubectl" patch --local -f "$EXAMPLE" --type merge -p '{}' -o 'jsonpath={.metadata.name}')
secret=$("$kubectl" patch --local -f "$EXAMPLE" --type merge -p '{}' \
  -o 'jsonpath={.spec.auth.jwtSecretRef.name}')
key=$("$kubectl" patch --local -f "$EXAMPLE" --type merge -p '{}' \
  -o 'jsonpath={.spec.auth.jwtSecretRef.key}')
port=$("$kubectl" patch --local -f "$EXAMPLE" --type merge -p '{}' \
  -o 'jsonpath={.spec.gateway.service.port}')
[[ -n $name && -n $secret && -n $key && -n $port ]] || die "could not read name and jwtSecretRef from $EXAMPLE"
"$kubectl" create namespace "$namespace" --dry-run=client -o yaml | "$kubectl" apply -f - >/dev/null
if ! "$kubectl" -n "$namespace" get secret "$secret" >/dev/null 2>&1; then
  log "creating secret $namespace/$secret"
  "$kubectl" -n "$namespace" create secret generic "$secret" \
    --from-literal="$key=$(head -c 32 /dev/urandom | base64)" >/dev/null
fi

# 3. The example, with this cluster's backends and image tag: the only differences between paths.
patch=$(printf '{"spec":{"image":{"tag":"%s"},"kafka":{"bootstrapServers":%s},"cassandra":{"contactPoints":%s},"redis":{"url":"%s"}}}' \
  "$tag" "$(json_list "$kafka")" "$(json_list "$cassandra")" "$redis")
log "ChatCluster $namespace/$name: kafka $kafka, cassandra $cassandra, redis $redis"
"$kubectl" patch --local -f "$EXAMPLE" --type merge -p "$patch" -o yaml |
  "$kubectl" apply -n "$namespace" -f -

if ((wait_seconds > 0)); then
  log "waiting up to $wait_seconds s for ChatCluster $namespace/$name to be Ready"
  if ! "$kubectl" -n "$namespace" wait "chatcluster/$name" --for=condition=Ready --timeout="${wait_seconds}s"; then
    "$kubectl" -n "$namespace" get chatcluster "$name" \
      -o 'jsonpath={range .status.conditions[*]}{.type}={.status} {.reason}: {.message}{"\n"}{end}' >&2 || true
    "$kubectl" get pods -A -o wide >&2 || true
    die "ChatCluster $namespace/$name did not become Ready in $wait_seconds s"
  fi
fi

cat >&2 <<EOF

Switchboard is installed. The ChatCluster:
  $kubectl -n $namespace get chatcluster $name
  $kubectl -n $namespace get pods -l app.kubernetes.io/instance=$name -o wide
Reach the gateway (WebSocket and REST) on localhost:8080:
  $kubectl -n $namespace port-forward service/$name-gateway 8080:$port
  curl -s localhost:8080/readyz
EOF
