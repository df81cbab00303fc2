#!/usr/bin/env bash
# Runs the whole test suite (what CI runs, via .ci/run) with a private one-node Slurm up for the Slurm
# executor's tests: Tools/slurm-cluster.sh starts it, and the trap stops it on every exit, also on failure
# and on INT/TERM/HUP; a watchdog stops it when this script was killed by a signal no trap sees (SIGKILL).
# Under CI=true the Slurm tests must not be skipped: a missing slurmctld or a skipped Slurm test fails the run.
# Extra arguments go to `swift test` (e.g. --filter SlurmExecutionTests).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/sbin"
ci=false; [ "${CI:-}" = "true" ] && ci=true

cluster=""
cleanup() { if [ -n "$cluster" ]; then bash Tools/slurm-cluster.sh stop "$cluster" || true; fi; }
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
if command -v slurmctld >/dev/null; then
    cluster=$(mktemp -d "${TMPDIR:-/tmp}/masknet-slurm.XXXXXX")
    # A small MaxArraySize so the tests see arrays split by index.
    # The owner pid arms the cluster's watchdog: if this script is killed outright (SIGKILL, no trap runs),
    # the cluster still stops within seconds.
    eval "$(SLURM_CLUSTER_OWNER_PID=$$ SLURM_CLUSTER_MAX_ARRAY_SIZE=${SLURM_CLUSTER_MAX_ARRAY_SIZE:-8} bash Tools/slurm-cluster.sh start "$cluster")"
    echo "test: private Slurm up (SLURM_CONF=$SLURM_CONF)"
elif $ci; then
    echo "test: slurmctld is not installed, so the Slurm tests would be skipped; run: bash Tools/setup.sh --tests" >&2
    exit 1
else
    echo "test: slurmctld is not installed: the Slurm tests will be skipped (bash Tools/setup.sh --tests installs it)" >&2
fi

log=$(mktemp "${TMPDIR:-/tmp}/masknet-test.XXXXXX.log")
status=0
swift test -c release -Xswiftc -enable-testing "$@" 2>&1 | tee "$log" || status=$?
if [ "$status" -eq 0 ] && $ci && grep -q "SLURM TESTS SKIPPED" "$log"; then
    echo "test: CI=true but Slurm tests were skipped:" >&2
    grep "SLURM TESTS SKIPPED" "$log" | sort -u >&2
    status=1
fi
rm -f "$log"
exit "$status"
