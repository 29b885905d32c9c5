#!/usr/bin/env bash
# Makes sure a Docker engine answers, starting one when none does and it can be started.
#
#   engine already answers      -> nothing is started, nothing is recorded (stop-docker.sh will leave it alone)
#   none, and we are root on Debian -> install docker.io / docker-compose / debootstrap when missing, start
#                                  `dockerd` in the background (log: $AURORA_DOCKER_STATE/dockerd.log), wait
#                                  until `docker info` answers, record its pid in $AURORA_DOCKER_STATE/dockerd.pid
#   otherwise                   -> exit 1 with what to do
#
# The pid file is the only thing stop-docker.sh acts on: an engine the user started (Docker Desktop, systemd,
# a `sudo dockerd` of their own) is never stopped by this project. AURORA_DOCKER_SESSION (set once per `make`
# run by the Makefile, once per run by the e2e test) is recorded with it, so that a run stops only the engine
# that it started itself, not one an earlier `make deps` left running for the user.
set -euo pipefail
log() { printf '[ensure-docker] %s\n' "$*" >&2; }

state="${AURORA_DOCKER_STATE:-/run/aurora-secrets}"
pidfile="$state/dockerd.pid"
logfile="$state/dockerd.log"
timeout_s="${DOCKER_START_TIMEOUT:-90}"
is_root() { [ "$(id -u)" = 0 ]; }

engine_answers() { docker info >/dev/null 2>&1; }

# Debian packages the stack and the offline images need; installed only when one is missing.
install_missing() {
  local want=()
  command -v dockerd >/dev/null 2>&1 || want+=(docker.io)
  command -v docker-compose >/dev/null 2>&1 || docker compose version >/dev/null 2>&1 || want+=(docker-compose)
  command -v debootstrap >/dev/null 2>&1 || want+=(debootstrap)
  [ ${#want[@]} -gt 0 ] || return 0
  if ! is_root || ! command -v apt-get >/dev/null 2>&1; then
    log "missing: ${want[*]}, and this is not root on Debian/Ubuntu, so they cannot be installed here."
    log "Install them with your package manager (Debian: sudo apt-get install ${want[*]}) and rerun."
    return 1
  fi
  local t0=$SECONDS
  log "installing Debian packages: ${want[*]} (apt-get update first; about a minute)..."
  apt-get update -qq >&2
  # The package must not start an engine through an init system of its own: the engine we start is the one
  # we record, so that stop-docker.sh knows what is ours. A temporary policy-rc.d says "do not start services".
  local policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod +x "$policy"
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${want[@]}" >&2 || {
    [ -z "$policy" ] || rm -f "$policy"; log "apt-get install failed (see above)"; return 1; }
  [ -z "$policy" ] || rm -f "$policy"
  log "installed in $((SECONDS - t0))s"
}

mkdir -p "$state"
# Parallel callers (test files, make targets) must not start two engines.
exec 9>"$state/ensure-docker.lock"
if ! flock -w "${DOCKER_LOCK_TIMEOUT:-300}" 9; then
  log "another scripts/ensure-docker.sh has held $state/ensure-docker.lock for ${DOCKER_LOCK_TIMEOUT:-300}s."
  log "Find it with 'fuser -v $state/ensure-docker.lock', let it finish or stop it, and rerun."
  exit 1
fi

if engine_answers; then
  install_missing || true
  if [ -s "$pidfile" ]; then log "engine answers (started earlier by this project, pid $(cat "$pidfile"))"
  else log "engine answers (not started by this project: it will be left alone)"; fi
  exit 0
fi

install_missing || exit 1

if ! is_root; then
  log "no Docker engine answers and this is not root, so none can be started here."
  log "Start one: Docker Desktop, 'sudo systemctl start docker', or 'sudo dockerd &'; then rerun."
  exit 1
fi

# A pid file whose process is gone is a leftover of an engine that was killed (machine stop, kill -9).
if [ -s "$pidfile" ] && ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then rm -f "$pidfile"; fi
# dockerd refuses to start while its own pid file names a live process; a stale one from a killed engine is fine.
if [ -s /var/run/docker.pid ] && kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
  log "a dockerd (pid $(cat /var/run/docker.pid)) is running but does not answer 'docker info'."
  log "Look at its log, or stop it (kill $(cat /var/run/docker.pid)) and rerun."
  exit 1
fi

log "no Docker engine answers: starting dockerd (log: $logfile)"
t0=$SECONDS
# setsid: the engine must outlive this script and the make/test process that called it.
# 9>&-: the engine must not inherit the lock, or it would hold it for its whole life.
setsid dockerd >>"$logfile" 2>&1 < /dev/null 9>&- &
pid=$!
echo "$pid" > "$pidfile"
printf '%s\n' "${AURORA_DOCKER_SESSION:-}" > "$state/dockerd.session"
next=$((SECONDS + 3))
until engine_answers; do
  if ! kill -0 "$pid" 2>/dev/null; then
    rm -f "$pidfile"
    log "dockerd exited during start-up. Its last log lines:"
    tail -n 20 "$logfile" >&2 || true
    log "Fix what the log says (a container without the privileges to run dockerd cannot host the stack; use 'make native' there) and rerun."
    exit 1
  fi
  if [ $((SECONDS - t0)) -ge "$timeout_s" ]; then
    log "dockerd (pid $pid) did not answer within ${timeout_s}s; last log lines:"
    tail -n 20 "$logfile" >&2 || true
    log "It is still running: stop it with scripts/stop-docker.sh, or wait and rerun (DOCKER_START_TIMEOUT=$timeout_s)."
    exit 1
  fi
  if [ "$SECONDS" -ge "$next" ]; then log "  waiting for dockerd to answer... $((SECONDS - t0))s"; next=$((SECONDS + 3)); fi
  sleep 0.5
done
log "dockerd (pid $pid) answers after $((SECONDS - t0))s; scripts/stop-docker.sh stops it"
