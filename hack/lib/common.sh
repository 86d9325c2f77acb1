# shellcheck shell=bash
# Shared helpers for hack/ scripts. Source it; do not run it.
#
# Layout on disk:
#   $SWITCHBOARD_CACHE        downloaded or built artefacts, kept between runs
#                             (default ~/.cache/switchboard)
#   $SWITCHBOARD_STATE        data, logs and pid files of a running stack
#                             (default $SWITCHBOARD_CACHE/state); wiped by `hack/stack down --purge`

set -euo pipefail

HACK_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REPO_DIR=$(cd "$HACK_DIR/.." && pwd)
: "${SWITCHBOARD_CACHE:=$HOME/.cache/switchboard}"
: "${SWITCHBOARD_STATE:=$SWITCHBOARD_CACHE/state}"
export SWITCHBOARD_CACHE SWITCHBOARD_STATE

# Ports of the stack, all on 127.0.0.1. Non-default numbers so a developer's own
# servers on the usual ports are never touched.
: "${SB_REDIS_PORT:=16379}"
: "${SB_KAFKA_PORT:=19092}"
: "${SB_KAFKA_CONTROLLER_PORT:=19093}"
: "${SB_CASSANDRA_PORT:=19042}"
: "${SB_CASSANDRA_STORAGE_PORT:=17000}"
: "${SB_ETCD_PORT:=12379}"
: "${SB_ETCD_PEER_PORT:=12380}"
: "${SB_APISERVER_PORT:=16443}"
: "${SB_CONTROLLER_MANAGER_PORT:=10257}"
: "${SB_KEYCLOAK_PORT:=17080}"
: "${SB_KEYCLOAK_MANAGEMENT_PORT:=17081}"
: "${SB_S3_PORT:=19900}"
# the object store's one bucket (hack/parts/s3proxy.sh makes it)
: "${SB_S3_BUCKET:=switchboard}"
# Optional: one more address of this host, reachable from Pods (hack/cluster net makes it).
# When set, Redis and Cassandra listen on it too, and Kafka has a second listener on it
# (port SB_KAFKA_NODE_PORT) that advertises it, so clients in Pods get usable metadata.
# Clients on the host keep using 127.0.0.1.
: "${SB_NODE_ADDRESS:=}"
: "${SB_KAFKA_NODE_PORT:=19094}"
export SB_REDIS_PORT SB_KAFKA_PORT SB_KAFKA_CONTROLLER_PORT SB_CASSANDRA_PORT \
  SB_CASSANDRA_STORAGE_PORT SB_ETCD_PORT SB_ETCD_PEER_PORT SB_APISERVER_PORT \
  SB_CONTROLLER_MANAGER_PORT SB_KEYCLOAK_PORT SB_KEYCLOAK_MANAGEMENT_PORT SB_NODE_ADDRESS \
  SB_KAFKA_NODE_PORT SB_S3_PORT SB_S3_BUCKET

log() { printf '%s [%s] %s\n' "$(date -u +%H:%M:%S)" "${SB_PART:-hack}" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# wait_for <seconds> <description> <command...>: polls the command every 0.2 s until it
# succeeds or the deadline passes.
wait_for() {
  local seconds=$1 what=$2
  local deadline=$((SECONDS + seconds))
  shift 2
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      log "timed out after $seconds s waiting for $what"
      return 1
    fi
    sleep 0.2
  done
}

# debian_install <package>...: installs the Debian packages not installed yet (root only), in
# one apt-get, waiting for another apt-get's lock rather than failing on it.
debian_install() {
  local p missing=()
  for p; do
    [[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) == "install ok installed" ]] || missing+=("$p")
  done
  ((${#missing[@]} == 0)) && return 0
  [[ $(id -u) == 0 ]] || die "missing Debian packages: ${missing[*]} (apt-get install -y ${missing[*]})"
  log "installing Debian's ${missing[*]}"
  local apt=(apt-get -o DPkg::Lock::Timeout=600 -y -q)
  DEBIAN_FRONTEND=noninteractive "${apt[@]}" install "${missing[@]}" >/dev/null 2>&1 || {
    "${apt[@]}" update >/dev/null &&
      DEBIAN_FRONTEND=noninteractive "${apt[@]}" install "${missing[@]}" >/dev/null
  } || die "apt-get could not install ${missing[*]}"
}

port_open() { (exec 3<>"/dev/tcp/${2:-127.0.0.1}/$1") 2>/dev/null; } # port_open <port> [host]
port_free() { ! port_open "$1"; }

# node_address_present: SB_NODE_ADDRESS is unset, or an address of this host (the parts
# cannot listen on it otherwise). The addresses are read whole first: `ip | grep -q` under
# pipefail fails at random when grep exits before ip has written everything (SIGPIPE).
node_address_present() {
  [[ -z $SB_NODE_ADDRESS || $(ip -o -4 addr show) == *" inet $SB_NODE_ADDRESS/"* ]] ||
    die "SB_NODE_ADDRESS=$SB_NODE_ADDRESS is no address of this host; create it first with: hack/cluster net"
}

pidfile() { echo "$SWITCHBOARD_STATE/pids/$1.pid"; }
logfile() { echo "$SWITCHBOARD_STATE/logs/$1.log"; }

# running <name>: true when the process recorded for <name> is alive. A zombie is not: on
# these VMs PID 1 reaps orphans only every second or so.
running() {
  local f pid state
  f=$(pidfile "$1")
  [[ -f $f ]] || return 1
  pid=$(cat "$f")
  kill -0 "$pid" 2>/dev/null || return 1
  state=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null) || return 1
  [[ ${state:0:1} != Z ]]
}

# start_bg <name> <command...>: starts the command in its own session (so its whole
# process group can be stopped), output to the part's log, pid recorded.
start_bg() {
  local name=$1
  shift
  mkdir -p "$SWITCHBOARD_STATE/pids" "$SWITCHBOARD_STATE/logs"
  if running "$name"; then
    log "$name already running (pid $(cat "$(pidfile "$name")"))"
    return 0
  fi
  setsid "$@" >>"$(logfile "$name")" 2>&1 </dev/null &
  echo $! >"$(pidfile "$name")"
  log "$name started (pid $!, log $(logfile "$name"))"
}

# stop_bg <name> [grace seconds]: SIGTERM to the process group, SIGKILL after the grace
# period; removes the pid file. Only stops what start_bg recorded.
stop_bg() {
  local name=$1 grace=${2:-20} f pid deadline
  f=$(pidfile "$name")
  [[ -f $f ]] || return 0
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    deadline=$((SECONDS + grace))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then
      log "$name did not stop in ${grace} s; killing"
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
    # the group may hold children that outlive the leader
    kill -KILL -- "-$pid" 2>/dev/null || true
    log "$name stopped"
  fi
  rm -f "$f"
}

# status_line <name> <ok?> <detail>
status_line() { printf '%-20s %-8s %s\n' "$1" "$2" "$3"; }

# sha of files, for cache keys
files_hash() { cat "$@" | sha256sum | cut -c1-16; }

# The JVM parts (kafka, cassandra, s3proxy): the java to run them with.
java_bin() {
  local j
  if [[ -n ${JAVA_HOME:-} ]]; then j=$JAVA_HOME/bin/java; else j=$(command -v java || true); fi
  [[ -n $j && -x $j ]] || die "no java (set JAVA_HOME or put a JDK 17 on PATH)"
  echo "$j"
}

# Their configuration files:
# render <template> <output> KEY=VALUE...: replaces @KEY@ with VALUE.
render() {
  local tpl=$1 out=$2 kv val
  shift 2
  local args=()
  for kv; do
    # shellcheck disable=SC2001 # escape for the s||| below
    val=$(sed 's/[|&\\]/\\&/g' <<<"${kv#*=}")
    args+=(-e "s|@${kv%%=*}@|$val|g")
  done
  sed "${args[@]}" "$tpl" >"$out.tmp"
  ! grep -q '@[A-Z_]\+@' "$out.tmp" || die "unfilled placeholder in $out"
  mv "$out.tmp" "$out"
}

# The parts that run as one background process (kafka, cassandra, s3proxy, keycloak):
# show_log_tail <part>: the end of its log, for an error.
show_log_tail() {
  log "last 40 lines of $(logfile "$1"):"
  tail -n 40 "$(logfile "$1")" >&2 2>/dev/null || true
}

# await_started <part> <name> <what> <timeout s>: waits until the part's ready_or_dead (each part
# defines it: serving, or its process gone) holds; dies with the log's end when it does not in
# time or the process exited meanwhile.
await_started() {
  local part=$1 name=$2 what=$3 timeout=$4
  if ! wait_for "$timeout" "$what" ready_or_dead; then
    show_log_tail "$part"
    die "$name not ready after $timeout s (still running: see the log; stop it with $0 down)"
  fi
  if ! running "$part"; then
    rm -f "$(pidfile "$part")"
    show_log_tail "$part"
    die "$name exited during start-up"
  fi
}

# down_part <part> <grace s> [--purge]: stops it; --purge (or SB_PURGE=1) also deletes its state
# ($SWITCHBOARD_STATE/<part>) and log.
down_part() {
  local part=$1 grace=$2 purge=${SB_PURGE:-0} state=$SWITCHBOARD_STATE/$1
  [[ ${3:-} == --purge ]] && purge=1
  stop_bg "$part" "$grace"
  if [[ $purge == 1 ]]; then
    rm -rf "$state" "$(logfile "$part")"
    log "purged $state"
  fi
}

# mvn_jars <part> <name> <pom> <lib> <glob>...: copies the runtime dependencies of <pom> from
# Maven Central into <lib> (once: a complete <lib> is kept), checks a jar matches each <glob>.
mvn_jars() {
  local part=$1 name=$2 pom=$3 lib=$4 glob
  shift 4
  if [[ -f $lib/.complete ]]; then
    log "jars cached in $lib"
    return 0
  fi
  command -v mvn >/dev/null || die "mvn not found"
  log "fetching $name jars from Maven Central into $lib"
  rm -rf "$lib"
  mkdir -p "$lib" "$SWITCHBOARD_CACHE/m2"
  # mvn 3.8 -q still prints stray colour resets: keep its output for failures only
  if ! mvn -q -B -f "$pom" -Dmaven.repo.local="$SWITCHBOARD_CACHE/m2" \
    dependency:copy-dependencies -DoutputDirectory="$lib" -DincludeScope=runtime \
    >"$SWITCHBOARD_CACHE/$part/mvn.log" 2>&1; then
    cat "$SWITCHBOARD_CACHE/$part/mvn.log" >&2
    die "mvn could not copy the $name jars"
  fi
  for glob; do
    compgen -G "$lib/$glob" >/dev/null || die "no $glob in $lib"
  done
  touch "$lib/.complete" # last: marks the directory complete
  log "$(find "$lib" -name '*.jar' | wc -l) jars, $(du -sh "$lib" | cut -f1) in $lib"
}
