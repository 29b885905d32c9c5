#!/usr/bin/env bash
# Which stack an operation acts on (make backup, restore, status, root-token, doctor): prints `compose` or
# `native`. The one place that decides it, for the TypeScript commands (select-target.ts) and doctor.sh alike.
#
#   AURORA_STACK=compose|native   decides;
#   otherwise the compose stack (make prod-local's or make prod-local-ha's: the project owning the `vault`
#   container) when that container is running, the native one when .native/ (NATIVE_DIR) holds a Vault, the
#   compose one when its containers exist (stopped), and the fallback (the argument: `native`, or `none`, the
#   default) when there is no stack at all.
# Exit 2, with what to do on stderr, when there is no stack and no fallback, or AURORA_STACK names no stack.
set -euo pipefail
fallback="${1:-none}"
root="$(cd "$(dirname "$0")/../.." && pwd)"

case "${AURORA_STACK:-}" in
  compose | native) echo "$AURORA_STACK"; exit 0 ;;
  '') ;;
  *) echo "AURORA_STACK must be native or compose, not \"$AURORA_STACK\"." >&2; exit 2 ;;
esac

vault=""
command -v docker >/dev/null 2>&1 && vault=$(docker inspect -f '{{.State.Running}}' vault 2>/dev/null || true)
if [ "$vault" = true ]; then echo compose
elif [ -d "${NATIVE_DIR:-$root/.native}/vault/data" ]; then echo native
elif [ -n "$vault" ]; then echo compose
elif [ "$fallback" = native ]; then echo native
else
  echo "No stack found: neither a compose stack (container vault) nor a native one (.native/vault/data). Start one with make prod-local or make native." >&2
  exit 2
fi
