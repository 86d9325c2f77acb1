#!/usr/bin/env bash
# hack/parts/kafka.sh — a real single-node Apache Kafka 4.4.0 (KRaft, broker and controller
# in one JVM) on 127.0.0.1:$SB_KAFKA_PORT, for development and tests; with SB_NODE_ADDRESS
# set, also a listener on $SB_NODE_ADDRESS:$SB_KAFKA_NODE_PORT that advertises that address
# (for clients in hack/cluster's Pods).
#
#   hack/parts/kafka.sh install        jars from Maven Central into $SWITCHBOARD_CACHE/kafka/lib-<pom hash>
#   hack/parts/kafka.sh up             install, configure, format once, start, wait until it answers
#   hack/parts/kafka.sh down [--purge] stop it (SIGTERM, SIGKILL after 20 s); --purge or SB_PURGE=1
#                                      also deletes $SWITCHBOARD_STATE/kafka and its log
#   hack/parts/kafka.sh status         "healthy" and exit 0 when the broker answers, else non-zero
#   hack/parts/kafka.sh env            export KAFKA_BROKERS=...
#
# Java: $JAVA_HOME/bin/java when JAVA_HOME is set, else `java` from PATH (JDK 17 here).
# Files: hack/kafka/{pom.xml,server.properties.template,log4j2.properties}.

# shellcheck disable=SC2034 # read by common.sh
SB_PART=kafka
# shellcheck source=../lib/common.sh
source "$(dirname "$0")/../lib/common.sh"

KAFKA_SRC=$HACK_DIR/kafka
STATE=$SWITCHBOARD_STATE/kafka
READY_TIMEOUT=${SB_KAFKA_READY_TIMEOUT:-90}
STOP_GRACE=20

usage() { awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; }

lib_dir() { echo "$SWITCHBOARD_CACHE/kafka/lib-$(files_hash "$KAFKA_SRC/pom.xml")"; }

cmd_install() { mvn_jars kafka Kafka "$KAFKA_SRC/pom.xml" "$(lib_dir)" "kafka_2.13-*.jar"; }

# broker_answers: a Kafka ApiVersions v0 request (api key 18, correlation id 0x5342, client
# id "sb") on the PLAINTEXT port; true when the response echoes the correlation id with
# error code 0.
broker_answers() {
  local hex
  # shellcheck disable=SC2016 # expanded by the inner bash
  hex=$(timeout 5 bash -c '
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf "\x00\x00\x00\x0c\x00\x12\x00\x00\x00\x00\x53\x42\x00\x02sb" >&3
    head -c 10 <&3 | od -An -tx1' _ "$SB_KAFKA_PORT" 2>/dev/null) || return 1
  hex=${hex//[[:space:]]/}
  [[ $hex == ????????000053420000 ]]
}

# log_since_start <pattern>: the pattern appears in the log after the latest start.
log_since_start() {
  local off=0
  [[ -f $STATE/log-offset ]] && off=$(cat "$STATE/log-offset")
  # not `tail | grep -q`: with pipefail, tail's SIGPIPE would turn a match into a failure
  grep -q "$1" <(tail -c "+$((off + 1))" "$(logfile kafka)" 2>/dev/null)
}

# ready_or_dead: true when the broker is up and serving, or when its process is gone (the
# caller tells the two apart), so that wait_for does not sit out its deadline on a crash.
ready_or_dead() {
  running kafka || return 0
  log_since_start 'Kafka Server started' && broker_answers
}

cmd_up() {
  cmd_install
  local lib java conf=$STATE/config t0=$SECONDS
  lib=$(lib_dir)
  java=$(java_bin)
  if ! running kafka; then
    port_free "$SB_KAFKA_PORT" || die "127.0.0.1:$SB_KAFKA_PORT is taken by another process"
    port_free "$SB_KAFKA_CONTROLLER_PORT" || die "127.0.0.1:$SB_KAFKA_CONTROLLER_PORT is taken by another process"
    node_address_present
    local node_listener=
    if [[ -n $SB_NODE_ADDRESS ]]; then
      ! port_open "$SB_KAFKA_NODE_PORT" "$SB_NODE_ADDRESS" || die "$SB_NODE_ADDRESS:$SB_KAFKA_NODE_PORT is taken by another process"
      node_listener=",NODE://$SB_NODE_ADDRESS:$SB_KAFKA_NODE_PORT"
    fi
    mkdir -p "$conf" "$STATE/data" "$SWITCHBOARD_STATE/logs"
    render "$KAFKA_SRC/server.properties.template" "$conf/server.properties" \
      PORT="$SB_KAFKA_PORT" CONTROLLER_PORT="$SB_KAFKA_CONTROLLER_PORT" DATA_DIR="$STATE/data" \
      NODE_LISTENER="$node_listener"
    cp "$KAFKA_SRC/log4j2.properties" "$conf/log4j2.properties"
    local tool=("$java" -Xmx256m "-Dlog4j2.configurationFile=$conf/log4j2.properties" -cp "$lib/*" kafka.tools.StorageTool)
    if [[ ! -f $STATE/data/meta.properties ]]; then
      local id
      id=$("${tool[@]}" random-uuid 2>>"$(logfile kafka)" | tail -n 1) ||
        { show_log_tail kafka; die "StorageTool random-uuid failed"; }
      [[ $id =~ ^[A-Za-z0-9_-]{22}$ ]] || die "StorageTool random-uuid gave '$id'"
      log "formatting $STATE/data (cluster id $id)"
      "${tool[@]}" format -t "$id" -c "$conf/server.properties" >>"$(logfile kafka)" 2>&1 ||
        { show_log_tail kafka; die "formatting the storage failed"; }
      echo "$id" >"$STATE/cluster-id"
    fi
    stat -c %s "$(logfile kafka)" >"$STATE/log-offset" 2>/dev/null || echo 0 >"$STATE/log-offset"
    start_bg kafka "$java" -Xms256m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
      -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent \
      -Djava.awt.headless=true "-Dlog4j2.configurationFile=$conf/log4j2.properties" \
      -cp "$lib/*" kafka.Kafka "$conf/server.properties"
  else
    log "already running (pid $(cat "$(pidfile kafka)"))"
  fi
  await_started kafka "Kafka" "Kafka on 127.0.0.1:$SB_KAFKA_PORT" "$READY_TIMEOUT"
  log "ready on 127.0.0.1:$SB_KAFKA_PORT${SB_NODE_ADDRESS:+ and $SB_NODE_ADDRESS:$SB_KAFKA_NODE_PORT} after $((SECONDS - t0)) s"
}

cmd_down() { down_part kafka "$STOP_GRACE" "$@"; }

cmd_status() {
  local ep=127.0.0.1:$SB_KAFKA_PORT
  if running kafka && broker_answers; then
    status_line kafka healthy "$ep (pid $(cat "$(pidfile kafka)"))"
  elif running kafka; then
    status_line kafka starting "$ep (pid $(cat "$(pidfile kafka)"), not answering yet)"
    return 1
  else
    status_line kafka down "$ep"
    return 1
  fi
}

cmd_env() {
  echo "export KAFKA_BROKERS=127.0.0.1:$SB_KAFKA_PORT"
  [[ -z $SB_NODE_ADDRESS ]] || echo "export POD_KAFKA_BROKERS=$SB_NODE_ADDRESS:$SB_KAFKA_NODE_PORT"
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
