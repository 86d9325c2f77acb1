#!/usr/bin/env bash
# hack/parts/cassandra.sh — a real single-node Apache Cassandra 5.0.9 on
# 127.0.0.1:$SB_CASSANDRA_PORT (CQL; every address, advertising $SB_NODE_ADDRESS, when that is
# set) for development and tests; data centre "datacenter1".
#
#   hack/parts/cassandra.sh install        jars from Maven Central into $SWITCHBOARD_CACHE/cassandra/lib-<pom hash>
#   hack/parts/cassandra.sh up             install, configure, start, wait until CQL answers
#   hack/parts/cassandra.sh down [--purge] stop it (SIGTERM, SIGKILL after 30 s); --purge or SB_PURGE=1
#                                          also deletes $SWITCHBOARD_STATE/cassandra and its log
#   hack/parts/cassandra.sh status         "healthy" and exit 0 when CQL answers, else non-zero
#   hack/parts/cassandra.sh env            export CASSANDRA_CONTACT_POINTS=... CASSANDRA_LOCAL_DC=...
#
# Commit log: SB_CASSANDRA_COMMITLOG_SYNC=group (default; an acknowledged write is fsynced,
# writes arriving within SB_CASSANDRA_COMMITLOG_GROUP_WINDOW_MS, default 2, share one fsync),
# batch (fsync per write burst) or periodic (acknowledges before the fsync, every 10 s: loses
# acknowledged writes on a crash; for comparison only). See docs/decisions/0013.
#
# Timer slack: SB_CASSANDRA_TIMER_SLACK_US=1000 (default) lets the kernel stretch each short
# sleep of Cassandra's threads by up to 1 ms; its idle request workers otherwise wake every
# ~10-60 µs for 10 ms after each request, about a third of a core at any steady trickle of
# requests. 0 leaves the kernel's 50 µs. See docs/decisions/0025.
#
# Java: $JAVA_HOME/bin/java when JAVA_HOME is set, else `java` from PATH. Cassandra 5.0 runs
# on JDK 11 or 17 only (17 here). Files: hack/cassandra/{pom.xml,cassandra.yaml.template,
# logback.xml,jvm17.options}.

# shellcheck disable=SC2034 # read by common.sh
SB_PART=cassandra
# shellcheck source=../lib/common.sh
source "$(dirname "$0")/../lib/common.sh"

CASS_SRC=$HACK_DIR/cassandra
STATE=$SWITCHBOARD_STATE/cassandra
READY_TIMEOUT=${SB_CASSANDRA_READY_TIMEOUT:-180}
STOP_GRACE=30

usage() { awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; }

lib_dir() { echo "$SWITCHBOARD_CACHE/cassandra/lib-$(files_hash "$CASS_SRC/pom.xml")"; }

cmd_install() { mvn_jars cassandra Cassandra "$CASS_SRC/pom.xml" "$(lib_dir)" "cassandra-all-*.jar" "jamm-*.jar"; }

# cql_answers: a native-protocol v4 OPTIONS frame (stream 1) on the CQL port; true when a
# SUPPORTED response (version byte 0x84, opcode 0x06) for stream 1 comes back.
cql_answers() {
  local hex
  # shellcheck disable=SC2016 # expanded by the inner bash
  hex=$(timeout 5 bash -c '
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf "\x04\x00\x00\x01\x05\x00\x00\x00\x00" >&3
    head -c 5 <&3 | od -An -tx1' _ "$SB_CASSANDRA_PORT" 2>/dev/null) || return 1
  hex=${hex//[[:space:]]/}
  [[ $hex == 84??000106 ]]
}

# log_since_start <pattern>: the pattern appears in the log after the latest start.
log_since_start() {
  local off=0
  [[ -f $STATE/log-offset ]] && off=$(cat "$STATE/log-offset")
  # not `tail | grep -q`: with pipefail, tail's SIGPIPE would turn a match into a failure
  grep -q "$1" <(tail -c "+$((off + 1))" "$(logfile cassandra)" 2>/dev/null)
}

# ready_or_dead: true when Cassandra serves CQL, or when its process is gone (the caller
# tells the two apart), so that wait_for does not sit out its deadline on a crash.
ready_or_dead() {
  running cassandra || return 0
  log_since_start 'Startup complete' && cql_answers
}

# jvm_options <file>: the options of a jvm*.options file, one per line on stdout.
jvm_options() {
  local line words
  while IFS= read -r line || [[ -n $line ]]; do
    line=${line%%#*}
    read -ra words <<<"$line"
    if ((${#words[@]})); then printf '%s\n' "${words[@]}"; fi
  done <"$1"
}

cmd_up() {
  cmd_install
  local lib java conf=$STATE/conf t0=$SECONDS
  lib=$(lib_dir)
  java=$(java_bin)
  if ! running cassandra; then
    port_free "$SB_CASSANDRA_PORT" || die "127.0.0.1:$SB_CASSANDRA_PORT is taken by another process"
    port_free "$SB_CASSANDRA_STORAGE_PORT" || die "127.0.0.1:$SB_CASSANDRA_STORAGE_PORT is taken by another process"
    node_address_present
    # Cassandra has one rpc_address: to serve CQL on loopback and on the node address it
    # listens on all of them and advertises the node address (clients on the host still
    # connect through 127.0.0.1).
    local rpc=127.0.0.1 broadcast=127.0.0.1
    if [[ -n $SB_NODE_ADDRESS ]]; then
      ! port_open "$SB_CASSANDRA_PORT" "$SB_NODE_ADDRESS" || die "$SB_NODE_ADDRESS:$SB_CASSANDRA_PORT is taken by another process"
      rpc=0.0.0.0 broadcast=$SB_NODE_ADDRESS
    fi
    mkdir -p "$conf" "$STATE/logs" "$SWITCHBOARD_STATE/logs" \
      "$STATE"/data/{data,commitlog,saved_caches,hints,cdc_raw}
    local sync=${SB_CASSANDRA_COMMITLOG_SYNC:-group} period=0ms window=0ms
    case $sync in
      group) window="${SB_CASSANDRA_COMMITLOG_GROUP_WINDOW_MS:-2}ms" ;;
      batch) ;;
      periodic) period=10000ms ;;
      *) die "SB_CASSANDRA_COMMITLOG_SYNC must be group, batch or periodic, not '$sync'" ;;
    esac
    render "$CASS_SRC/cassandra.yaml.template" "$conf/cassandra.yaml" \
      PORT="$SB_CASSANDRA_PORT" STORAGE_PORT="$SB_CASSANDRA_STORAGE_PORT" DATA_DIR="$STATE/data" \
      RPC_ADDRESS="$rpc" BROADCAST_RPC_ADDRESS="$broadcast" \
      COMMITLOG_SYNC="$sync" COMMITLOG_SYNC_PERIOD="$period" COMMITLOG_SYNC_GROUP_WINDOW="$window" \
      CONCURRENT_WRITES="${SB_CASSANDRA_CONCURRENT_WRITES:-8}"
    cp "$CASS_SRC/logback.xml" "$conf/logback.xml"
    local opts jamm
    mapfile -t opts < <(jvm_options "$CASS_SRC/jvm17.options")
    jamm=$(compgen -G "$lib/jamm-*.jar" | head -n 1)
    # Cassandra wants many files open; take the hard limit where the soft one is lower
    ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
    stat -c %s "$(logfile cassandra)" >"$STATE/log-offset" 2>/dev/null || echo 0 >"$STATE/log-offset"
    local slack_us=${SB_CASSANDRA_TIMER_SLACK_US:-1000} slack=()
    [[ $slack_us =~ ^[0-9]+$ ]] || die "SB_CASSANDRA_TIMER_SLACK_US must be a whole number of µs, not '$slack_us'"
    if ((slack_us > 0)); then
      # set in a shell that then becomes Cassandra: its threads inherit the value
      slack=(bash -c 'echo "$1" >/proc/self/timerslack_ns && shift && exec "$@"' timer-slack "$((slack_us * 1000))")
    fi
    start_bg cassandra "${slack[@]}" "$java" -Xms512m -Xmx1g -XX:ActiveProcessorCount=2 "${opts[@]}" \
      "-javaagent:$jamm" \
      -Dcassandra.ring_delay_ms=1000 -Dcassandra.skip_wait_for_gossip_to_settle=0 \
      "-Dcassandra.config=file://$conf/cassandra.yaml" \
      "-Dlogback.configurationFile=file://$conf/logback.xml" \
      "-Dcassandra.logdir=$STATE/logs" "-Dcassandra.storagedir=$STATE/data" \
      -Dcassandra-foreground=yes \
      -cp "$conf:$lib/*" org.apache.cassandra.service.CassandraDaemon
  else
    log "already running (pid $(cat "$(pidfile cassandra)"))"
  fi
  await_started cassandra "Cassandra" "Cassandra CQL on 127.0.0.1:$SB_CASSANDRA_PORT" "$READY_TIMEOUT"
  log "ready on 127.0.0.1:$SB_CASSANDRA_PORT${SB_NODE_ADDRESS:+ and $SB_NODE_ADDRESS:$SB_CASSANDRA_PORT} after $((SECONDS - t0)) s"
}

cmd_down() { down_part cassandra "$STOP_GRACE" "$@"; }

cmd_status() {
  local ep=127.0.0.1:$SB_CASSANDRA_PORT
  if running cassandra && cql_answers; then
    status_line cassandra healthy "$ep (pid $(cat "$(pidfile cassandra)"), dc datacenter1)"
  elif running cassandra; then
    status_line cassandra starting "$ep (pid $(cat "$(pidfile cassandra)"), CQL not answering yet)"
    return 1
  else
    status_line cassandra down "$ep"
    return 1
  fi
}

cmd_env() {
  echo "export CASSANDRA_CONTACT_POINTS=127.0.0.1:$SB_CASSANDRA_PORT"
  [[ -z $SB_NODE_ADDRESS ]] || echo "export POD_CASSANDRA_CONTACT_POINTS=$SB_NODE_ADDRESS:$SB_CASSANDRA_PORT"
  echo "export CASSANDRA_LOCAL_DC=datacenter1"
}

case ${1:-} in
  install) cmd_install ;;
  up) cmd_up ;;
  down) cmd_down "${2:-}" ;;
  status) cmd_status ;;
  env) cmd_env ;;
  -h | --help | help) usage ;;
  *) usage >&2; exit 2 ;;
esac
