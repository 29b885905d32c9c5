#!/usr/bin/env bash
# Runs test files with node's built-in runner, then makes sure no server process of the run survives.
# Arguments: test files or directories (directories are searched for *.test.ts).
set -uo pipefail
cd "$(dirname "$0")/.."
export AURORA_TEST_ROOT="${AURORA_TEST_ROOT:-${TMPDIR:-/tmp}/aurora-test-$$}"
mkdir -p "$AURORA_TEST_ROOT"
# The app and vault-init run on the production images' Node (fetched once and cached by the script), so the tests
# exercise the V8 users run; the test runner and the in-process unit tests stay on this machine's Node.
if [ -z "${AURORA_SERVICE_NODE:-}" ]; then
  AURORA_SERVICE_NODE="$(scripts/ensure-production-node.sh)" ||
    { echo "run-tests: no Node for the services (above: why); AURORA_SERVICE_NODE=\$(command -v node) uses this one" >&2; exit 2; }
  export AURORA_SERVICE_NODE
fi

files=()
for arg in "$@"; do
  if [ -d "$arg" ]; then
    while IFS= read -r f; do files+=("$f"); done < <(find "$arg" -name '*.test.ts' | sort)
  elif [ -f "$arg" ]; then files+=("$arg")
  else echo "run-tests: no such test file or directory: $arg" >&2; exit 2
  fi
done
[ ${#files[@]} -gt 0 ] || { echo "run-tests: no test files found in: $*" >&2; exit 2; }

sweep() {
  # Anything still running with the run directory on its command line is ours: kill it.
  pkill -9 -f "$AURORA_TEST_ROOT" 2>/dev/null || true
  [ -n "${KEEP_TEST_ROOT:-}" ] || rm -rf "$AURORA_TEST_ROOT"
}
trap sweep EXIT
trap 'exit 130' INT TERM

# node --test starts the files in the order of their paths, two at a time, whatever the order given here. The two
# compose e2e files take turns on the Docker engine (test/support/compose-lock.ts), and a file waiting for its
# turn holds one of the two slots idle. So they live apart: test/e2e sorts first and starts at once, and
# test/ha-profile sorts after test/faults, which keep the other slot busy meanwhile (about as long as the
# walkthrough takes), so the HA e2e rarely waits at all.
#
# The timeout is per file, and a compose e2e file counts in it its wait for the other one (one compose e2e at a
# time, test/support/compose-lock.ts) and, on a fresh machine, the offline image builds: together up to ~20 min on
# 2 busy cores (the e2e files allow 41 min for that part alone). Stories set their own, shorter
# timeouts for what they wait on.
node --conditions=aurora-source --import tsx --test --test-concurrency="${TEST_CONCURRENCY:-2}" \
  --test-timeout="${TEST_TIMEOUT_MS:-2700000}" "${files[@]}"
