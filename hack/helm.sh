#!/usr/bin/env bash
# hack/helm.sh — helm, built from its Go module (hack/helm/go.mod pins helm.sh/helm/v4) and
# cached under $SWITCHBOARD_CACHE/helm/bin-<key of hack/helm/go.sum>.
#
#   hack/helm.sh install           build it unless cached (about 3-4 min on 2 cores, cold)
#   hack/helm.sh path              install, then print the binary's path
#   eval "$(hack/helm.sh env)"     install, then export SB_HELM (the binary's path)
#
# Needs Go (GOTOOLCHAIN=local; the module and build caches go under $SWITCHBOARD_CACHE/go).
SB_PART=helm
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

MOD_DIR=$HACK_DIR/helm

usage() { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; }

bin_dir() { echo "$SWITCHBOARD_CACHE/helm/bin-$(files_hash "$MOD_DIR/go.mod" "$MOD_DIR/go.sum")"; }

helm_version() { sed -n 's/^require helm.sh\/helm\/v4 \(v[0-9.]*\)$/\1/p' "$MOD_DIR/go.mod"; }

cmd_install() {
  local dir tmp version build_pid start=$SECONDS
  dir=$(bin_dir)
  if [[ -x $dir/helm ]]; then
    log "helm cached in $dir"
    return 0
  fi
  command -v go >/dev/null || die "go is not on PATH"
  version=$(helm_version)
  [[ -n $version ]] || die "no 'require helm.sh/helm/v4 vX.Y.Z' line in $MOD_DIR/go.mod"
  export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=readonly
  export GOMODCACHE=$SWITCHBOARD_CACHE/go/mod GOCACHE=$SWITCHBOARD_CACHE/go/build
  mkdir -p "$SWITCHBOARD_CACHE/helm" "$GOMODCACHE" "$GOCACHE"
  # temp dirs of builds killed before their trap ran
  find "$SWITCHBOARD_CACHE/helm" -maxdepth 1 -name '.build.*' -mmin +120 -exec rm -rf {} +

  # Build next to the final place, then rename: an interrupted build never looks complete.
  tmp=$(mktemp -d "$SWITCHBOARD_CACHE/helm/.build.XXXXXX")
  log "building helm $version with $(go version | cut -d' ' -f3)"
  # In its own process group, so that an interrupted script stops the compilers too.
  (cd "$MOD_DIR" && exec setsid go build -trimpath \
    -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=$version -X helm.sh/helm/v4/internal/version.gitTreeState=clean" \
    -o "$tmp/helm" helm.sh/helm/v4/cmd/helm) &
  build_pid=$!
  # shellcheck disable=SC2064 # expand now: both are local
  trap "kill -TERM -- -$build_pid 2>/dev/null; rm -rf '$tmp'" EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  wait "$build_pid" || die "go build failed"
  # shellcheck disable=SC2064
  trap "rm -rf '$tmp'" EXIT
  "$tmp/helm" version >/dev/null || die "the built helm does not run"

  chmod 755 "$tmp" # mktemp made it 0700
  rm -rf "$dir"
  if ! mv -T "$tmp" "$dir" 2>/dev/null; then
    [[ -x $dir/helm ]] || die "could not move the binary to $dir"
    log "another build finished first; keeping it"
  fi
  log "built into $dir in $((SECONDS - start)) s ($(du -sh "$dir/helm" | cut -f1))"
}

case ${1:-} in
  install) cmd_install ;;
  path)
    cmd_install
    echo "$(bin_dir)/helm"
    ;;
  env)
    cmd_install
    echo "export SB_HELM=$(bin_dir)/helm"
    ;;
  -h | --help | help) usage ;;
  *)
    usage >&2
    exit 2
    ;;
esac
