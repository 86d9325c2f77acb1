#!/usr/bin/env bash
# hack/parts/redis.sh install|up|down [--purge]|status|env — Redis from Debian's redis-server,
# on 127.0.0.1:$SB_REDIS_PORT (and $SB_NODE_ADDRESS when set), with a config of ours (no
# persistence, data under the state dir).
SB_PART=redis
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"

dir=$SWITCHBOARD_STATE/redis

install() {
  command -v redis-server >/dev/null && return 0
  log "installing Debian's redis-server"
  [[ $(id -u) == 0 ]] || die "redis-server is missing; install it with: apt-get install -y redis-server"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server >/dev/null 2>&1 ||
    { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server >/dev/null; }
  command -v redis-server >/dev/null || die "redis-server still missing after apt-get"
}

ping() { [[ $(redis-cli -h 127.0.0.1 -p "$SB_REDIS_PORT" ping 2>/dev/null) == PONG ]]; }

up() {
  install
  node_address_present
  mkdir -p "$dir"
  # Protected mode refuses every client that is not on loopback; with an explicit bind to
  # the node address, only Pods on this host reach it.
  cat >"$dir/redis.conf" <<CONF
bind 127.0.0.1${SB_NODE_ADDRESS:+ $SB_NODE_ADDRESS}
port $SB_REDIS_PORT
protected-mode $([[ -n $SB_NODE_ADDRESS ]] && echo no || echo yes)
daemonize no
save ""
appendonly no
dir $dir
maxclients 10000
loglevel notice
CONF
  running redis || port_free "$SB_REDIS_PORT" || die "port $SB_REDIS_PORT is taken by a process we did not start"
  start_bg redis redis-server "$dir/redis.conf"
  wait_for 30 "redis PING" ping || { tail -n 20 "$(logfile redis)" >&2; exit 1; }
  log "ready on 127.0.0.1:$SB_REDIS_PORT${SB_NODE_ADDRESS:+ and $SB_NODE_ADDRESS:$SB_REDIS_PORT}"
}

down() {
  stop_bg redis 10
  if [[ ${1:-} == --purge || -n ${SB_PURGE:-} ]]; then rm -rf "$dir"; fi
}

status() {
  if ping; then status_line redis healthy "redis://127.0.0.1:$SB_REDIS_PORT"; else status_line redis down "redis://127.0.0.1:$SB_REDIS_PORT"; return 1; fi
}

env() {
  echo "export REDIS_URL=redis://127.0.0.1:$SB_REDIS_PORT"
  [[ -z $SB_NODE_ADDRESS ]] || echo "export POD_REDIS_URL=redis://$SB_NODE_ADDRESS:$SB_REDIS_PORT"
}

cmd=${1:-}; shift || true
case $cmd in
  install | up | down | status | env) "$cmd" "$@" ;;
  *) sed -n '2,3p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
