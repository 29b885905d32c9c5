#!/usr/bin/env bash
# The Docker verbs of the Makefile: up (make prod-local), down, clean (make prod-local-clean), logs, ps.
#
# Images (docs/docker.md):
#   VAULT_IMAGE / POSTGRES_IMAGE / NODE_IMAGE set (shell or .env)  -> used as given
#   OFFLINE=1   -> the local builds aurora-offline/*, built first by scripts/images-offline.sh (no-op when current)
#   OFFLINE=0   -> the official images (pulled by compose when missing)
#   neither     -> per image: the official one when it is present locally or `docker pull` fetches it,
#                  else the offline build (built when missing). A machine without a registry needs no flag.
#
# The compose project keeps compose's own default name (the checkout's folder, or COMPOSE_PROJECT_NAME from the
# environment or .env), so that the docs' plain `docker compose exec app ...`, run from the checkout, finds the
# stack this script started.
set -euo pipefail
cd "$(dirname "$0")/.."

# Compose's default project name: the folder's name, lower-cased, without characters it does not allow.
project_name() {
  local from_env=""
  [ -f .env ] && from_env=$(sed -n 's/^COMPOSE_PROJECT_NAME=//p' .env | tail -n 1)
  printf '%s' "${COMPOSE_PROJECT_NAME:-${from_env:-$(basename "$PWD" | tr '[:upper:]' '[:lower:]' | tr -cd 'a-z0-9_-')}}"
}
# HA=1 (make prod-local-ha): the three-node Raft profile. Its own compose project (<project>-ha), so that its
# volumes never mix with the single-node stack's; docker-compose.ha.yml adds vault-1..3 and re-points the stack.
HA_MODE=""
case "${HA:-}" in 1|true|yes) HA_MODE=1 ;; esac
use_ha_project() {
  HA_MODE=1
  COMPOSE_PROJECT_NAME="$(project_name)-ha"
  export COMPOSE_PROJECT_NAME COMPOSE_FILE=docker-compose.yml:docker-compose.ha.yml COMPOSE_PROFILES=ha
}
[ -z "$HA_MODE" ] || use_ha_project
# Compose v1 builds through the docker CLI only when asked; the classic builder needs no buildx plugin.
export DOCKER_BUILDKIT="${DOCKER_BUILDKIT:-0}" COMPOSE_DOCKER_CLI_BUILD="${COMPOSE_DOCKER_CLI_BUILD:-0}"

t_start=$SECONDS
log() { printf '[prod-local %3ss] %s\n' "$((SECONDS - t_start))" "$*" >&2; }
die() { log "$*"; exit 1; }

VAULT_VERSION=$(cat vault/VERSION)
# Kept in step with docker-compose.yml's defaults and scripts/images-offline.sh (a unit test checks both).
OFFICIAL_VAULT=hashicorp/vault:$VAULT_VERSION
OFFICIAL_POSTGRES=postgres:15.15-bookworm
OFFICIAL_NODE=node:24.21.0-bookworm-slim
OFFLINE_VAULT=aurora-offline/vault:$VAULT_VERSION
OFFLINE_POSTGRES=aurora-offline/postgres:15
OFFLINE_NODE=aurora-offline/node:24.21.0

if [ -z "${COMPOSE:-}" ]; then
  if docker compose version >/dev/null 2>&1; then COMPOSE="docker compose"
  elif command -v docker-compose >/dev/null 2>&1; then COMPOSE=docker-compose; fi
fi

need_engine() {
  command -v docker >/dev/null 2>&1 || die "the docker CLI is missing. Install Docker (Docker Desktop, or Debian: sudo apt-get install docker.io docker-compose), or run the stack without Docker: make native."
  [ -n "${COMPOSE:-}" ] || die "neither 'docker compose' (v2) nor 'docker-compose' (v1) is installed. Install one (Debian: sudo apt-get install docker-compose) and rerun."
  if ! docker info >/dev/null 2>&1; then
    log "no Docker engine answers ('docker info' fails)."
    log "Start one: Docker Desktop, 'sudo systemctl start docker', or 'sudo dockerd &' (scripts/ensure-docker.sh does that as root on Debian), then rerun."
    die "Without Docker: make native runs the same services as local processes."
  fi
}

# A variable from the shell wins, then .env (as compose itself reads them).
configured() {
  local var=$1
  if [ -n "${!var:-}" ]; then printf '%s' "${!var}"; return; fi
  [ -f .env ] && sed -n "s/^[[:space:]]*${var}[[:space:]]*=[[:space:]]*//p" .env | tail -n 1 | tr -d "\"'" || true
}

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

# The official image if it is here or can be pulled; the offline build otherwise.
official_or_offline() {
  local official=$1 offline=$2
  if have_image "$official"; then echo "$official"; return; fi
  log "  $official is not present locally: trying docker pull"
  if timeout "${PULL_TIMEOUT:-120}" docker pull -q "$official" >/dev/null 2>&1; then echo "$official"; return; fi
  log "  docker pull $official failed (no registry reachable?): using the offline build $offline"
  echo "$offline"
}

choose_images() {
  local want_offline=() spec var official offline name chosen
  for spec in "VAULT_IMAGE $OFFICIAL_VAULT $OFFLINE_VAULT vault" "POSTGRES_IMAGE $OFFICIAL_POSTGRES $OFFLINE_POSTGRES postgres" \
              "NODE_IMAGE $OFFICIAL_NODE $OFFLINE_NODE node"; do
    read -r var official offline name <<<"$spec"
    chosen=$(configured "$var")
    if [ -z "$chosen" ]; then
      case "${OFFLINE:-}" in
        1|true|yes) chosen=$offline ;;
        0|false|no) chosen=$official ;;
        *) chosen=$(official_or_offline "$official" "$offline") ;;
      esac
    fi
    [ "$chosen" != "$offline" ] || want_offline+=("$name")
    export "$var=$chosen"
  done
  if [ ${#want_offline[@]} -gt 0 ]; then
    log "offline images wanted (${want_offline[*]}): scripts/images-offline.sh builds what is missing or stale"
    # The base image first: the others are built on it.
    scripts/images-offline.sh debian "${want_offline[@]}" || die "building the offline images failed (see above). Fix it and rerun, or run scripts/images-offline.sh alone."
  fi
  log "images: vault=$VAULT_IMAGE postgres=$POSTGRES_IMAGE node=$NODE_IMAGE"
}

# name status health restarts, one line per container of the project.
container_states() {
  local ids
  ids=$($COMPOSE ps -q 2>/dev/null || true)
  [ -n "$ids" ] || return 0
  # shellcheck disable=SC2086
  docker inspect -f '{{.Name}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}} {{.RestartCount}} {{index .Config.Labels "com.docker.compose.service"}}' $ids 2>/dev/null | sed 's#^/##'
}

# Every result vault-init's healthcheck still keeps (up to 5), oldest first, one a line; empty once healthy.
vault_init_waits_for_any() {
  # One line per result: Docker's own outputs (e.g. "Health check exceeded timeout (3s)") end without a newline.
  docker inspect -f '{{if .State.Health}}{{if ne .State.Health.Status "healthy"}}{{range .State.Health.Log}}{{.Output}}{{"\n"}}{{end}}{{end}}{{end}}' vault-init 2>/dev/null |
    grep -v '^[[:space:]]*$' || true
}

# What vault-init's healthcheck last said it waits for (e.g. how many Raft nodes vote yet); empty once healthy.
vault_init_waits_for() {
  vault_init_waits_for_any | tail -n 1
}

explain_failure() {
  local services=$1
  for s in $services; do
    log "---- last log lines of $s ----"
    $COMPOSE logs --no-color --tail=40 "$s" >&2 2>&1 || true
  done
  log "What to do: read the lines above; 'make logs' follows every service, 'make ps' shows their state."
  # Keys held in memory exist nowhere else: the usual advice (a fresh state) would be the wrong first step.
  if [ -n "$(keys_held)" ]; then
    log "vault-init initialized Vault but cannot save the new unseal keys and root token to its volume (the reason is above); it keeps them in memory and tries again."
    log "Fix that cause (disk space, the volume's permissions) and it saves them on its next attempt (within 30 s), then run make prod-local${HA_MODE:+-ha} again; until then do not stop or recreate vault-init (make down and make prod-local refuse): the keys exist nowhere else, and without them Vault's data can never be unsealed. To start over instead: make prod-local${HA_MODE:+-ha}-clean (this new Vault holds nothing yet)."
    return
  fi
  log "A service that cannot start after an interrupted first run may need a fresh state: make prod-local-clean (destroys the secrets), then make prod-local."
}

# Container names are fixed (vault, vault-init, vault-agent): one stack at a time.
other_stack() {
  local project
  project=$(docker inspect -f '{{index .Config.Labels "com.docker.compose.project"}}' vault-init 2>/dev/null || true)
  [ -z "$project" ] || [ "$project" = "$(project_name)" ] || printf '%s' "$project"
}

# The host ports the compose files publish, one "SETTING default" line each (e.g. "APP_PORT 8080"): read from the
# files themselves, so a port added there is checked here too.
published_port_settings() {
  local f
  for f in $(tr ':' ' ' <<<"${COMPOSE_FILE:-docker-compose.yml}"); do
    sed -n 's/^[[:space:]]*- "[^"]*\${\([A-Z_]*_PORT\):-\([0-9]*\)}:[0-9]*".*/\1 \2/p' "$f"
  done | sort -u
}

# A port this stack publishes that something else holds: another compose project's container (a second checkout,
# a stack left running), any container, or a program such as `make native`. Compose would fail halfway with "port
# is already allocated" and leave some services started; one line per port, naming the holder.
port_conflicts() {
  local var def port holder users ours
  ours=$(project_name)
  while read -r var def; do
    port=$(configured "$var"); port=${port:-$def}
    holder=$(docker ps --format '{{.Names}}	{{.Label "com.docker.compose.project"}}	{{.Ports}}' |
      awk -F'\t' -v p=":$port->" 'index($3, p) { print $1 "\t" $2; exit }')
    if [ -n "$holder" ]; then
      [ "${holder#*$'\t'}" != "$ours" ] || continue
      if [ -n "${holder#*$'\t'}" ]; then
        printf 'port %s (%s) is published by container %s of compose project %s\n' "$port" "$var" "${holder%%$'\t'*}" "${holder#*$'\t'}"
      else
        printf 'port %s (%s) is published by container %s\n' "$port" "$var" "${holder%%$'\t'*}"
      fi
    elif command -v ss >/dev/null 2>&1 && [ -n "$(ss -Hltn "sport = :$port" 2>/dev/null)" ]; then
      users=$(ss -Hltnp "sport = :$port" 2>/dev/null | sed -n 's/.*users:(("\([^"]*\)",pid=\([0-9]*\).*/\1 (pid \2)/p' | head -n 1)
      printf 'port %s (%s) is in use by %s\n' "$port" "$var" "${users:-another program}"
    fi
  done < <(published_port_settings)
}

up() {
  need_engine
  local other conflicts
  other=$(other_stack)
  if [ -n "$other" ]; then
    if [ -n "$HA_MODE" ]; then die "the single-node stack (compose project $other) owns the containers vault, vault-init, vault-agent: stop it first (make down keeps its secrets)."
    else die "the HA stack (compose project $other) owns the containers vault, vault-init, vault-agent: stop it first (make prod-local-ha-down keeps its secrets)."; fi
  fi
  # A build or a changed setting recreates vault-init: a stop, which loses keys it holds because it cannot save them.
  refuse_while_keys_held "nothing was rebuilt or recreated" \
    "; once it has (make ps: vault-init healthy), run make prod-local${HA_MODE:+-ha} again"
  conflicts=$(port_conflicts)
  if [ -n "$conflicts" ]; then
    while IFS= read -r line; do log "$line"; done <<<"$conflicts"
    die "nothing was started. Stop what holds the port (another checkout's stack: make down there; a container: docker rm -f <name>; make native: make native-down), or give this stack another one: set the setting named above in .env (e.g. APP_PORT=18080)."
  fi
  choose_images
  local services
  services=$($COMPOSE config --services | tr '\n' ' ')
  log "building the services' images ($COMPOSE build)"
  local t0=$SECONDS
  local blog
  blog=$(mktemp "${TMPDIR:-/tmp}/aurora-build.XXXXXX")
  if ! $COMPOSE build >"$blog" 2>&1; then
    tail -n 40 "$blog" >&2; rm -f "$blog"
    die "'$COMPOSE build' failed (see above). NODE_IMAGE=$NODE_IMAGE must exist locally or be pullable."
  fi
  grep -E '^(Successfully tagged|Building )' "$blog" | sed 's/^/    /' >&2 || true
  rm -f "$blog"
  log "built in $((SECONDS - t0))s; starting: $services"

  # `up -d` itself waits for depends_on conditions: run it in the background and report states meanwhile.
  local uplog timeout_s=${PROD_LOCAL_TIMEOUT:-240}
  uplog=$(mktemp "${TMPDIR:-/tmp}/aurora-up.XXXXXX")
  $COMPOSE up -d --remove-orphans >"$uplog" 2>&1 &
  local up_pid=$! up_rc="" next=$SECONDS states bad unhealthy waiting says
  t0=$SECONDS
  while :; do
    if [ -z "$up_rc" ] && ! kill -0 "$up_pid" 2>/dev/null; then
      wait "$up_pid" && up_rc=0 || up_rc=$?
      if [ "$up_rc" != 0 ]; then
        sed 's/^/    /' "$uplog" >&2
        states=$(container_states)
        bad=$(awk '$3 != "healthy" {print $5}' <<<"$states" | sort -u | tr '\n' ' ')
        rm -f "$uplog"
        explain_failure "${bad:-$services}"
        die "'$COMPOSE up -d' failed."
      fi
    fi
    states=$(container_states)
    waiting=$(awk '!($3 == "healthy" || ($3 == "none" && $2 == "running")) {print $5}' <<<"$states" | tr '\n' ' ')
    # Crash loops and failed healthchecks do not heal by waiting.
    unhealthy=$(awk '$2 == "exited" || $2 == "dead" || $3 == "unhealthy" || $4 >= 3 {print $5}' <<<"$states" | sort -u | tr '\n' ' ')
    if [ "$up_rc" = 0 ] && [ -z "$waiting" ] && [ -n "$states" ]; then break; fi
    if [ -n "$unhealthy" ]; then
      rm -f "$uplog"
      awk '{printf "    %-14s %-10s health=%-9s restarts=%s\n", $1, $2, $3, $4}' <<<"$states" >&2
      explain_failure "$unhealthy"
      die "not healthy: $unhealthy"
    fi
    if [ $((SECONDS - t0)) -ge "$timeout_s" ]; then
      rm -f "$uplog"
      explain_failure "${waiting:-$services}"
      die "not healthy after ${timeout_s}s: ${waiting:-$services} (PROD_LOCAL_TIMEOUT=$timeout_s)"
    fi
    if [ "$SECONDS" -ge "$next" ]; then
      if [ -z "$states" ]; then log "waiting for health ($((SECONDS - t0))s): creating containers..."
      else
        says=$(vault_init_waits_for)
        log "waiting for health ($((SECONDS - t0))s): $(awk '{printf "%s=%s ", $5, ($3 == "none" ? $2 : $3)}' <<<"$states")${says:+ | vault-init: $says}"
      fi
      next=$((SECONDS + 3))
    fi
    sleep 1
  done
  rm -f "$uplog"
  log "all services healthy after $((SECONDS - t0))s ($((SECONDS - t_start))s in all)"
  local vport aport
  vport=$(configured VAULT_PORT); aport=$(configured APP_PORT)
  cat <<EOF

  aurora-secrets is up (compose project $(project_name)).
    Vault UI   http://localhost:${vport:-8200}/ui
    Vault API  http://localhost:${vport:-8200}/v1/sys/health
    App        http://localhost:${aport:-8080}

  Root token (keep it secret; prefer the CLI below, which uses a limited operator token):
    docker logs vault-init 2>&1 | grep "Root Token:"
  Vault CLI, no login needed:
    docker exec -it vault vault kv list aurora/users/
  The app's bootstrap admin client (every app route needs HTTP Basic client_id:secret):
    curl -u admin:\$(docker exec vault vault kv get -field=client-secret secret/aurora/admin) http://localhost:${aport:-8080}/fhir/Client

  make logs · make ps · make down (keeps secrets) · make prod-local-clean (destroys them)
EOF
  if [ -n "$HA_MODE" ]; then
    printf '  HA profile: three Vault nodes on Raft storage (vault-1, vault-2, vault-3); the app and the agent use\n'
    printf '  http://vault-ha:8200 (every node), the vault container is a Vault Proxy to the same:\n'
    printf '    docker exec vault vault operator raft list-peers    (needs a root token: VAULT_TOKEN=...)\n'
    printf '  make prod-local-ha-down (keeps secrets) · make prod-local-ha-clean (destroys them; the single-node volumes are separate)\n'
  fi
  [ "$VAULT_IMAGE" != "$OFFLINE_VAULT" ] || printf '  (offline Vault image: built from source without UI assets; /ui/ answers a placeholder page)\n'
}

# vault-init's own words when it runs and holds new unseal keys it could not save (empty otherwise): a stop would
# lose the only copy.
keys_held() {
  [ "$(docker inspect -f '{{.State.Running}}' vault-init 2>/dev/null)" = true ] || return 0
  # Asked now: the healthcheck's last recorded result may be Docker's "exceeded timeout" on a busy machine, or
  # older than the keys held (one check every 2 s).
  local live rc=0
  live=$(timeout 20 docker exec vault-init node dist/healthcheck.js 2>/dev/null) || rc=$?
  [ "$rc" != 0 ] || return 0
  if [ -n "$live" ] && ! grep -q 'health endpoint to answer' <<<"$live"; then
    grep 'unseal keys to be saved' <<<"$live" || true
    return 0
  fi
  # No answer now: any of the healthcheck's recent results (a false alarm for at most ~10 s after a save).
  vault_init_waits_for_any | grep 'unseal keys to be saved' | tail -n 1 || true
}

# Stops the script, saying why and what to do, when vault-init holds keys it could not save: `$1` says what was
# not done ("nothing was stopped"), `$2` what to do once they are saved.
refuse_while_keys_held() {
  local held
  held=$(keys_held)
  [ -z "$held" ] && return 0
  log "vault-init says: $held"
  die "$1: vault-init initialized Vault but cannot save the new unseal keys to its volume, and holds the only copy. Fix the cause above (disk space, the volume's permissions) and it saves them on its next attempt$2. To start over instead: make prod-local${HA_MODE:+-ha}-clean (this new Vault holds nothing yet)."
}

down() {
  need_engine
  refuse_while_keys_held "nothing was stopped" ""
  log "stopping and removing the containers; the volumes (Vault's data, init keys, PostgreSQL) are kept"
  $COMPOSE down --remove-orphans
  log "done in $((SECONDS - t_start))s; 'make prod-local${HA_MODE:+-ha}' brings the same Vault back"
}

clean() {
  need_engine
  local vols
  vols=$(docker volume ls -q --filter "label=com.docker.compose.project=$(project_name)" | tr '\n' ' ')
  log "removing the stack's containers, network AND volumes: ${vols:-(no volumes)}"
  log "this destroys every secret in Vault, its unseal keys and root token, and the PostgreSQL data (images are kept)"
  $COMPOSE down -v --remove-orphans
  log "done in $((SECONDS - t_start))s; the next 'make prod-local${HA_MODE:+-ha}' initializes a fresh Vault"
}

# make ps and make logs show the stack that runs: this checkout's HA stack when it holds the fixed container names
# (the messages of vault-init and make status say "make ps" on both).
follow_running_stack() {
  need_engine
  [ -n "$HA_MODE" ] || [ "$(other_stack)" != "$(project_name)-ha" ] || use_ha_project
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  clean) clean ;;
  logs) follow_running_stack; exec $COMPOSE logs -f --tail=100 ;;
  ps) follow_running_stack; exec $COMPOSE ps ;;
  *) echo "usage: $0 up|down|clean|logs|ps" >&2; exit 2 ;;
esac
