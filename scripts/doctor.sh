#!/usr/bin/env bash
# `make doctor` / `make doctor REPAIR=1` [DESTROY_RECOVERABLE=1]: lists dangling references and orphaned secrets;
# --repair fixes what holds nothing recoverable, --destroy-recoverable (with --repair) also what Vault could give back.
#
# Where it runs: the stack scripts/ops/which-stack.sh names (AURORA_STACK=compose|native, else the one it finds):
#   compose: the app container is running → `docker exec -i <app> node dist/doctor-main.js` (what
#            `$COMPOSE exec -T app` runs), with the app's own env and AppRole credentials (the same least-privilege
#            policy as the app). The app is that of the project owning the vault-init container: make prod-local's
#            or make prod-local-ha's (<project>-ha), whichever runs;
#   native:  `node services/app/dist/doctor-main.js` with .native/env (addresses; .native is NATIVE_DIR if set),
#            the app's AppRole files in .native/approle/app, and .native/app.env if present (DOCTOR_ENV_FILE).
# Exit code: doctor's own (0 no problems left, 1 problems remain, 2 usage/config, 3 could not check).
set -euo pipefail
cd "$(dirname "$0")/.."

# The running app container of the stack that owns vault-init (the names vault and vault-init are fixed in
# both profiles; the project, and so the app's name, differs).
app_container() {
  command -v docker >/dev/null 2>&1 || return 1
  local project id
  project=$(docker inspect -f '{{index .Config.Labels "com.docker.compose.project"}}' vault-init 2>/dev/null) || return 1
  id=$(docker ps -q --filter "label=com.docker.compose.project=$project" --filter label=com.docker.compose.service=app 2>/dev/null | head -n 1)
  [ -n "$id" ] && printf '%s' "$id"
}

target=$(scripts/ops/which-stack.sh none) || exit 2

case "$target" in
  compose)
    app=$(app_container) || { echo "doctor: the compose stack's app container is not running (make prod-local, or make prod-local-ha)" >&2; exit 2; }
    exec docker exec -i "$app" node dist/doctor-main.js "$@"
    ;;
  native)
    [ -f services/app/dist/doctor-main.js ] || npx tsc --build
    # The native stack's state dir, as make native and which-stack.sh find it (NATIVE_DIR, default .native).
    native_dir="${NATIVE_DIR:-$PWD/.native}"
    set -a
    # Vault and PostgreSQL addresses of the native stack (make native writes <dir>/env before vault-init starts).
    # shellcheck disable=SC1091
    [ -f "$native_dir/env" ] && . "$native_dir/env"
    set +a
    # The env file gives the CLI the operator token; doctor uses the app's identity (its AppRole), like the app.
    unset VAULT_TOKEN
    export VAULT_APPROLE_DIR="${VAULT_APPROLE_DIR:-$native_dir/approle/app}"
    # The native app's own settings, if make native wrote them (KEY=VALUE; DOCTOR_ENV_FILE overrides).
    env_file="${DOCTOR_ENV_FILE:-$native_dir/app.env}"
    if [ -f "$env_file" ]; then set -a; . "$env_file"; set +a; fi
    exec node services/app/dist/doctor-main.js "$@"
    ;;
esac
