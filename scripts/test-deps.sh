#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian machine; each step is a no-op when already done.
# Usage: test-deps.sh [--docker]   (--docker: also a Docker engine, for the compose e2e)
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '[deps] %s\n' "$*" >&2; }

# npm packages: `npm ci` when node_modules is missing or older than the lock file.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "npm ci"
  npm ci --no-audit --no-fund >&2
fi
log "PostgreSQL server: $(scripts/ensure-postgres.sh)"
log "Vault: $(scripts/ensure-vault.sh)"
# The compose e2e needs a Docker engine (`--docker`); ensure-docker.sh starts one if it can, loudly if not.
if [ "${1:-}" = --docker ] && [ -z "${SKIP_DOCKER:-}" ]; then
  scripts/ensure-docker.sh || { [ "${CI:-}" = true ] && { log "CI=true and no Docker engine could be started"; exit 1; }; log "continuing without Docker: the compose e2e will be skipped"; }
fi
