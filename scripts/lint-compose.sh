#!/usr/bin/env bash
# Checks docker-compose.yml without an engine: Debian's docker-compose v1 `config -q` (which rejects, for
# example, a top-level `name:`), when it is installed. The contract test (test/unit/compose-contract.test.ts)
# checks the rest in every case.
set -euo pipefail
cd "$(dirname "$0")/.."
if command -v docker-compose >/dev/null 2>&1; then
  docker-compose -f docker-compose.yml config -q
  # The HA profile (make prod-local-ha): the same file with docker-compose.ha.yml on top.
  COMPOSE_PROFILES=ha docker-compose -f docker-compose.yml -f docker-compose.ha.yml config -q
  echo "[lint-compose] docker-compose $(docker-compose version --short 2>/dev/null) config -q: ok" >&2
else
  echo "[lint-compose] docker-compose v1 not installed: skipped here (make deps installs it with the Docker engine)" >&2
fi
