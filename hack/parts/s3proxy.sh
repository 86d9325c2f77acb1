#!/usr/bin/env bash
# hack/parts/s3proxy.sh — a real S3-compatible object store: S3Proxy 4.1.0 with its filesystem
# backend on 127.0.0.1:$SB_S3_PORT (on 0.0.0.0 when SB_NODE_ADDRESS is set, for hack/cluster's
# Pods), with one bucket ($SB_S3_BUCKET) made at start. Requests must be SigV4-signed with the
# stack's fixed development credentials (presigned URLs and POST policies included).
#
#   hack/parts/s3proxy.sh install        jars from Maven Central into $SWITCHBOARD_CACHE/s3proxy/lib-<pom hash>
#   hack/parts/s3proxy.sh up             install, configure, start, wait until it answers
#   hack/parts/s3proxy.sh down [--purge] stop it; --purge or SB_PURGE=1 also deletes its objects
#   hack/parts/s3proxy.sh status         "healthy" and exit 0 when it answers, else non-zero
#   hack/parts/s3proxy.sh env            export OBJECT_STORE_ENDPOINT=... (and bucket, region, keys)
#
# Java: $JAVA_HOME/bin/java when JAVA_HOME is set, else `java` from PATH (JDK 17 here).
# Files: hack/s3proxy/{pom.xml,s3proxy.properties.template,logback.xml}. Measured: hack/parts/s3proxy.md.

# shellcheck disable=SC2034 # read by common.sh
SB_PART=s3proxy
# shellcheck source=../lib/common.sh
source "$(dirname "$0")/../lib/common.sh"

SRC=$HACK_DIR/s3proxy
STATE=$SWITCHBOARD_STATE/s3proxy
READY_TIMEOUT=${SB_S3_READY_TIMEOUT:-60}
STOP_GRACE=10
# development credentials: the store listens on loopback (or the node address) only
ACCESS_KEY_ID=switchboard
SECRET_ACCESS_KEY=switchboard-dev-secret
REGION=us-east-1

usage() { awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; }

lib_dir() { echo "$SWITCHBOARD_CACHE/s3proxy/lib-$(files_hash "$SRC/pom.xml")"; }

cmd_install() { mvn_jars s3proxy S3Proxy "$SRC/pom.xml" "$(lib_dir)" "s3proxy-*.jar"; }

# answers: an unsigned GET / is answered with an HTTP status line (403: S3Proxy is serving and
# refuses anonymous requests).
answers() {
  local line
  # shellcheck disable=SC2016 # expanded by the inner bash
  line=$(timeout 5 bash -c '
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf "GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n" >&3
    head -n 1 <&3' _ "$SB_S3_PORT" 2>/dev/null) || return 1
  [[ $line == HTTP/1.1\ * ]]
}

ready_or_dead() { running s3proxy || return 0; answers; }

cmd_up() {
  cmd_install
  local lib java t0=$SECONDS bind=127.0.0.1
  lib=$(lib_dir)
  java=$(java_bin)
  [[ $SB_S3_BUCKET =~ ^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$ ]] || die "SB_S3_BUCKET=$SB_S3_BUCKET is no valid bucket name"
  if ! running s3proxy; then
    port_free "$SB_S3_PORT" || die "127.0.0.1:$SB_S3_PORT is taken by another process"
    node_address_present
    # one endpoint only: with a node address it listens everywhere (Pods reach it there)
    [[ -z $SB_NODE_ADDRESS ]] || bind=0.0.0.0
    # the filesystem backend's buckets are its directories
    mkdir -p "$STATE/config" "$STATE/data/$SB_S3_BUCKET" "$SWITCHBOARD_STATE/logs"
    render "$SRC/s3proxy.properties.template" "$STATE/config/s3proxy.properties" \
      BIND="$bind" PORT="$SB_S3_PORT" DATA_DIR="$STATE/data" \
      ACCESS_KEY_ID="$ACCESS_KEY_ID" SECRET_ACCESS_KEY="$SECRET_ACCESS_KEY"
    # small heap, serial GC and C1 only: a test store, started fast and kept small
    start_bg s3proxy "$java" -Xms32m -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
      -XX:ActiveProcessorCount=2 -Djava.awt.headless=true \
      "-Dlogback.configurationFile=$SRC/logback.xml" \
      -cp "$lib/*" org.gaul.s3proxy.Main --properties "$STATE/config/s3proxy.properties"
  else
    log "already running (pid $(cat "$(pidfile s3proxy)"))"
    mkdir -p "$STATE/data/$SB_S3_BUCKET"
  fi
  await_started s3proxy "S3Proxy" "S3Proxy on 127.0.0.1:$SB_S3_PORT" "$READY_TIMEOUT"
  log "ready on $bind:$SB_S3_PORT (bucket $SB_S3_BUCKET) after $((SECONDS - t0)) s"
}

cmd_down() { down_part s3proxy "$STOP_GRACE" "$@"; }

cmd_status() {
  local ep=http://127.0.0.1:$SB_S3_PORT
  if running s3proxy && answers; then
    status_line s3proxy healthy "$ep/$SB_S3_BUCKET (pid $(cat "$(pidfile s3proxy)"))"
  elif running s3proxy; then
    status_line s3proxy starting "$ep (pid $(cat "$(pidfile s3proxy)"), not answering yet)"
    return 1
  else
    status_line s3proxy down "$ep"
    return 1
  fi
}

cmd_env() {
  echo "export OBJECT_STORE_ENDPOINT=http://127.0.0.1:$SB_S3_PORT"
  echo "export OBJECT_STORE_BUCKET=$SB_S3_BUCKET"
  echo "export OBJECT_STORE_REGION=$REGION"
  echo "export OBJECT_STORE_ACCESS_KEY_ID=$ACCESS_KEY_ID"
  echo "export OBJECT_STORE_SECRET_ACCESS_KEY=$SECRET_ACCESS_KEY"
  [[ -z $SB_NODE_ADDRESS ]] || echo "export POD_OBJECT_STORE_ENDPOINT=http://$SB_NODE_ADDRESS:$SB_S3_PORT"
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
