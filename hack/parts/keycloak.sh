#!/usr/bin/env bash
# hack/parts/keycloak.sh — a real OpenID Connect provider on loopback for single sign-on tests:
# Keycloak 26 (its distribution from Maven Central), realm `switchboard` imported from
# hack/keycloak/realm.json (clients `switchboard`, `switchboard-backchannel` with a back-channel
# logout URL and the service account `switchboard-tests-admin`; users alice with a verified email
# and mallory with an unverified one), on http://127.0.0.1:$SB_KEYCLOAK_PORT, H2 database under the state dir.
#
#   hack/parts/keycloak.sh install        fetch the distribution and run its one-time `kc.sh build`
#                                         into $SWITCHBOARD_CACHE/keycloak/server-<pom+options hash>
#   hack/parts/keycloak.sh up             install; once per server and realm, make a seed database
#                                         (schema and realm) with one start; start from a copy of
#                                         it; wait until the realm's discovery document answers
#   hack/parts/keycloak.sh down [--purge] stop it; --purge (or SB_PURGE=1) also deletes its data
#   hack/parts/keycloak.sh status         "healthy" and exit 0 when the realm answers
#   hack/parts/keycloak.sh env            export SB_OIDC_ISSUER_URL, SB_OIDC_CLIENT_ID, SB_OIDC_CLIENT_SECRET
#                                         and the test users (SB_OIDC_USER, ...)
#
# Java: Keycloak 26 needs a JDK 21 or newer: $SB_KEYCLOAK_JAVA_HOME, else the first Temurin 25
# or JDK 21+ under /usr/lib/jvm, else $JAVA_HOME. Why Keycloak: docs/decisions/0023-single-sign-on.md.

# shellcheck disable=SC2034 # read by common.sh
SB_PART=keycloak
# shellcheck source=../lib/common.sh
source "$(dirname "$0")/../lib/common.sh"

SRC=$HACK_DIR/keycloak
STATE=$SWITCHBOARD_STATE/keycloak
REALM=switchboard
READY_TIMEOUT=${SB_KEYCLOAK_READY_TIMEOUT:-300}
STOP_GRACE=20
ISSUER=http://127.0.0.1:$SB_KEYCLOAK_PORT/realms/$REALM

usage() { awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; }

java_home() {
  local h v
  for h in ${SB_KEYCLOAK_JAVA_HOME:-} /usr/lib/jvm/temurin-25* /usr/lib/jvm/*-2[1-9]* ${JAVA_HOME:-}; do
    [[ -x $h/bin/java ]] || continue
    v=$("$h/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')
    if [[ ${v%%.*} -ge 21 ]]; then
      echo "$h"
      return 0
    fi
  done
  die "Keycloak needs a JDK 21 or newer (set SB_KEYCLOAK_JAVA_HOME)"
}

# Build-time options, fixed once by `kc.sh build`: the H2 file database, the health endpoints,
# and local caches (the default, a JGroups cluster, listens on every interface and looks for peers).
BUILD_OPTS=(--db=dev-file --health-enabled=true --cache=local)

server_dir() {
  echo "$SWITCHBOARD_CACHE/keycloak/server-$(files_hash "$SRC/pom.xml" <(echo "${BUILD_OPTS[*]}"))"
}

cmd_install() {
  local dir
  dir=$(server_dir)
  if [[ -f $dir/.complete ]]; then
    log "server cached in $dir"
  else
    build_server "$dir"
  fi
  # the start that makes the seed runs this script's `up`, which must not seed again
  [[ -n ${SB_KEYCLOAK_SEEDING:-} ]] || make_seed
}

build_server() {
  local dir=$1 tmp tarball
  command -v mvn >/dev/null || die "mvn not found"
  tmp=$SWITCHBOARD_CACHE/keycloak/download
  rm -rf "$dir" "$tmp"
  mkdir -p "$tmp" "$SWITCHBOARD_CACHE/m2"
  log "fetching the Keycloak distribution from Maven Central"
  if ! mvn -q -B -f "$SRC/pom.xml" -Dmaven.repo.local="$SWITCHBOARD_CACHE/m2" \
    dependency:copy-dependencies -DoutputDirectory="$tmp" -DincludeTypes=tar.gz \
    >"$SWITCHBOARD_CACHE/keycloak/mvn.log" 2>&1; then
    cat "$SWITCHBOARD_CACHE/keycloak/mvn.log" >&2
    die "mvn could not fetch the Keycloak distribution"
  fi
  tarball=$(compgen -G "$tmp/keycloak-quarkus-dist-*.tar.gz" | head -n 1) || die "no distribution in $tmp"
  mkdir -p "$dir"
  tar -xzf "$tarball" -C "$dir" --strip-components=1
  rm -rf "$tmp"
  # the build step fixes the build-time options once, so each start is `start --optimized` and
  # skips the re-augmentation (30-90 s on these machines)
  log "building the server (kc.sh build)"
  JAVA_HOME=$(java_home) "$dir/bin/kc.sh" build "${BUILD_OPTS[@]}" \
    >"$SWITCHBOARD_CACHE/keycloak/build.log" 2>&1 ||
    { tail -n 30 "$SWITCHBOARD_CACHE/keycloak/build.log" >&2; die "kc.sh build failed"; }
  touch "$dir/.complete" # last: marks the directory complete
  log "$(du -sh "$dir" | cut -f1) in $dir"
}

# The seed: a database with the schema made and the realm imported, copied into a new state
# dir by `up`. Making both is most of a first start (a minute and more on a busy machine), so
# it is done once per server and realm, here, by one start of this script on spare ports.
seed_dir() { echo "$SWITCHBOARD_CACHE/keycloak/seed-$(files_hash <(server_dir) "$SRC/realm.json")"; }

make_seed() {
  local seed tmp port
  seed=$(seed_dir)
  [[ -f $seed/.complete ]] && return 0
  for port in $(shuf -i 20000-29998 -n 20); do port_free "$port" && port_free $((port + 1)) && break; done
  tmp=$(mktemp -d "$SWITCHBOARD_CACHE/keycloak/seeding-XXXXXX")
  log "making the seed database (one start that imports the realm, on 127.0.0.1:$port)"
  if ! SWITCHBOARD_STATE=$tmp SB_KEYCLOAK_PORT=$port SB_KEYCLOAK_MANAGEMENT_PORT=$((port + 1)) \
    SB_KEYCLOAK_SEEDING=1 "$0" up; then
    SWITCHBOARD_STATE=$tmp "$0" down >/dev/null 2>&1 || true
    rm -rf "$tmp"
    die "the seeding start failed"
  fi
  SWITCHBOARD_STATE=$tmp "$0" down
  rm -rf "$seed"
  mkdir -p "$seed"
  cp -r "$tmp/keycloak/home/data/h2" "$seed/h2"
  rm -rf "$tmp"
  touch "$seed/.complete"
  log "seed database in $seed"
}

# The realm answers its discovery document with the issuer the tests use.
realm_answers() {
  curl -fs --max-time 3 "$ISSUER/.well-known/openid-configuration" | grep -q "\"issuer\":\"$ISSUER\""
}

ready_or_dead() {
  running keycloak || return 0
  realm_answers
}

cmd_up() {
  cmd_install
  local dir t0=$SECONDS
  dir=$(server_dir)
  if ! running keycloak; then
    port_free "$SB_KEYCLOAK_PORT" || die "127.0.0.1:$SB_KEYCLOAK_PORT is taken by another process"
    port_free "$SB_KEYCLOAK_MANAGEMENT_PORT" ||
      die "127.0.0.1:$SB_KEYCLOAK_MANAGEMENT_PORT is taken by another process"
    # a home of this instance's own: its bin (kc.sh finds its home from its real path) and data,
    # the cached server's lib, conf, providers and themes linked in read-only
    mkdir -p "$STATE/home/data/import" "$SWITCHBOARD_STATE/logs"
    rm -rf "$STATE/home/bin"
    cp -r "$dir/bin" "$STATE/home/bin"
    local d
    for d in lib conf providers themes; do ln -sfn "$dir/$d" "$STATE/home/$d"; done
    cp "$SRC/realm.json" "$STATE/home/data/import/$REALM-realm.json"
    if [[ ! -d $STATE/home/data/h2 && -f $(seed_dir)/.complete ]]; then
      cp -r "$(seed_dir)/h2" "$STATE/home/data/h2"
    fi
    JAVA_HOME=$(java_home) JAVA_OPTS_KC_HEAP="-Xms64m -Xmx512m" \
      start_bg keycloak "$STATE/home/bin/kc.sh" start --optimized \
      --http-enabled=true --http-host=127.0.0.1 --http-port="$SB_KEYCLOAK_PORT" \
      --http-management-port="$SB_KEYCLOAK_MANAGEMENT_PORT" --hostname-strict=false \
      --import-realm
  else
    log "already running (pid $(cat "$(pidfile keycloak)"))"
  fi
  await_started keycloak "Keycloak" "Keycloak's realm $REALM" "$READY_TIMEOUT"
  log "ready: issuer $ISSUER after $((SECONDS - t0)) s"
}

cmd_down() { down_part keycloak "$STOP_GRACE" "$@"; }

cmd_status() {
  if running keycloak && realm_answers; then
    status_line keycloak healthy "$ISSUER (pid $(cat "$(pidfile keycloak)"))"
  elif running keycloak; then
    status_line keycloak starting "$ISSUER (pid $(cat "$(pidfile keycloak)"), not answering yet)"
    return 1
  else
    status_line keycloak down "$ISSUER"
    return 1
  fi
}

# The client and the users of hack/keycloak/realm.json: the settings a gateway needs, and the
# test users' credentials.
cmd_env() {
  echo "export SB_OIDC_ISSUER_URL=$ISSUER"
  echo "export SB_OIDC_CLIENT_ID=switchboard"
  echo "export SB_OIDC_CLIENT_SECRET=switchboard-dev-client-secret"
  echo "export SB_OIDC_USER=alice"
  echo "export SB_OIDC_PASSWORD=alice-sso-password"
  echo "export SB_OIDC_EMAIL=alice@example.test"
  echo "export SB_OIDC_UNVERIFIED_USER=mallory"
  echo "export SB_OIDC_UNVERIFIED_PASSWORD=mallory-sso-password"
  echo "export SB_OIDC_UNVERIFIED_EMAIL=mallory@example.test"
  # a client whose back-channel logout URL is a gateway on this port, and a service account
  # allowed to end people's sessions (the admin API), for e2e/sign-on
  echo "export SB_OIDC_BACKCHANNEL_CLIENT_ID=switchboard-backchannel"
  echo "export SB_OIDC_BACKCHANNEL_CLIENT_SECRET=switchboard-dev-backchannel-secret"
  echo "export SB_OIDC_BACKCHANNEL_PORT=17090"
  echo "export SB_OIDC_ADMIN_CLIENT_ID=switchboard-tests-admin"
  echo "export SB_OIDC_ADMIN_CLIENT_SECRET=switchboard-dev-tests-admin-secret"
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
