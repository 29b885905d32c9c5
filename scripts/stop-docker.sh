#!/usr/bin/env bash
# Stops the Docker engine that scripts/ensure-docker.sh started, and nothing else: without its pid file
# (an engine the user runs), or when that pid is no longer a dockerd, this does nothing.
# With AURORA_DOCKER_SESSION set (the Makefile and the e2e test set it), only an engine started under that same
# session is stopped. KEEP_DOCKER=1 keeps it running (for example to go on with `make prod-local` after `make test`).
set -euo pipefail
log() { printf '[stop-docker] %s\n' "$*" >&2; }

state="${AURORA_DOCKER_STATE:-/run/aurora-secrets}"
pidfile="$state/dockerd.pid"

if [ -n "${KEEP_DOCKER:-}" ]; then log "KEEP_DOCKER is set: leaving the engine running"; exit 0; fi
[ -s "$pidfile" ] || { log "no engine was started by this project: nothing to stop"; exit 0; }
pid=$(cat "$pidfile")
if [ -n "${AURORA_DOCKER_SESSION:-}" ] && [ "$(cat "$state/dockerd.session" 2>/dev/null)" != "$AURORA_DOCKER_SESSION" ]; then
  log "the engine (pid $pid) was started by an earlier run, not this one: left running (scripts/stop-docker.sh alone stops it)"
  exit 0
fi
# The pid may have been reused by an unrelated process since: only a dockerd is ours to stop.
if ! kill -0 "$pid" 2>/dev/null || [ "$(cat "/proc/$pid/comm" 2>/dev/null)" != dockerd ]; then
  log "the engine this project started (pid $pid) is gone already"
  rm -f "$pidfile" "$state/dockerd.session"; exit 0
fi

log "stopping the dockerd this project started (pid $pid); containers stop with it, volumes and images stay"
t0=$SECONDS
kill -TERM "$pid"
# dockerd gives each container its stop timeout (10 s) before it exits; a little more than that, then force.
while kill -0 "$pid" 2>/dev/null; do
  if [ $((SECONDS - t0)) -ge 30 ]; then
    log "dockerd did not exit within 30s: sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    break
  fi
  sleep 0.5
done
rm -f "$pidfile" "$state/dockerd.session"
log "stopped after $((SECONDS - t0))s"
