#!/usr/bin/env bash
# hack/centrifugo.sh — Centrifugo, a peer bench/peers measures Switchboard against, built with
# `go install github.com/centrifugal/centrifugo/v6@$CENTRIFUGO_VERSION` from the Go module
# proxy and cached under $SWITCHBOARD_CACHE/centrifugo/<version>/centrifugo.
#
#   hack/centrifugo.sh install         build it unless cached (a few minutes on 2 cores, cold)
#   hack/centrifugo.sh path            install, then print the binary's path
#
# Needs Go (GOTOOLCHAIN=local; the module and build caches go under $SWITCHBOARD_CACHE/go).
# The build runs at nice 19: it shares the cores with whatever else runs.
SB_PART=centrifugo
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

# Bump on purpose: bench/results/peers.* record the version they measured.
CENTRIFUGO_VERSION=v6.9.1

usage() { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; }

bin_dir() { echo "$SWITCHBOARD_CACHE/centrifugo/$CENTRIFUGO_VERSION"; }

cmd_install() {
  local dir tmp build_pid start=$SECONDS
  dir=$(bin_dir)
  if [[ -x $dir/centrifugo ]]; then
    log "centrifugo $CENTRIFUGO_VERSION cached in $dir"
    return 0
  fi
  command -v go >/dev/null || die "go is not on PATH"
  export GOTOOLCHAIN=local CGO_ENABLED=0
  export GOMODCACHE=$SWITCHBOARD_CACHE/go/mod GOCACHE=$SWITCHBOARD_CACHE/go/build
  mkdir -p "$SWITCHBOARD_CACHE/centrifugo" "$GOMODCACHE" "$GOCACHE"
  # temp dirs of builds killed before their trap ran
  find "$SWITCHBOARD_CACHE/centrifugo" -maxdepth 1 -name '.build.*' -mmin +120 -exec rm -rf {} +

  # Build next to the final place, then rename: an interrupted build never looks complete.
  tmp=$(mktemp -d "$SWITCHBOARD_CACHE/centrifugo/.build.XXXXXX")
  log "building centrifugo $CENTRIFUGO_VERSION with $(go version | cut -d' ' -f3)"
  # In its own process group, so that an interrupted script stops the compilers too.
  (cd "$tmp" && GOBIN=$tmp exec setsid nice -n 19 go install -trimpath \
    -ldflags "-s -w -X github.com/centrifugal/centrifugo/v6/internal/build.Version=${CENTRIFUGO_VERSION#v}" \
    "github.com/centrifugal/centrifugo/v6@$CENTRIFUGO_VERSION") &
  build_pid=$!
  # shellcheck disable=SC2064 # expand now: both are local
  trap "kill -TERM -- -$build_pid 2>/dev/null; rm -rf '$tmp'" EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  wait "$build_pid" || die "go install failed"
  # shellcheck disable=SC2064
  trap "rm -rf '$tmp'" EXIT
  "$tmp/centrifugo" version >/dev/null || die "the built centrifugo does not run"

  chmod 755 "$tmp" # mktemp made it 0700
  rm -rf "$dir"
  if ! mv -T "$tmp" "$dir" 2>/dev/null; then
    [[ -x $dir/centrifugo ]] || die "could not move the binary to $dir"
    log "another build finished first; keeping it"
  fi
  log "built into $dir in $((SECONDS - start)) s ($(du -sh "$dir/centrifugo" | cut -f1))"
}

case ${1:-} in
  install) cmd_install ;;
  path)
    cmd_install
    echo "$(bin_dir)/centrifugo"
    ;;
  -h | --help | help) usage ;;
  *)
    usage >&2
    exit 2
    ;;
esac
