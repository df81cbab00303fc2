#!/usr/bin/env bash
# Overhead of the Slurm executor against local execution, on a private one-node Slurm (Tools/slurm-cluster.sh):
# a sweep of N trivial `command` cells (default 100) plus one upstream stage, run once with --executor process
# (each stage a `masknet stage exec` child, as on a node) and once with --executor slurm, each into a fresh store.
# Prints both wall times, their ratio, the overhead per stage, and the status queries (total and per minute)
# from the run's slurm/accounting.json.
#   bash Tools/slurm-benchmark.sh [CELLS]        (uses $SLURM_CONF when set, else starts and stops a cluster)
set -euo pipefail
cd "$(dirname "$0")/.."
cells=${1:-100}
masknet=${MASKNET_BINARY:-$PWD/.build/release/masknet}
[ -x "$masknet" ] || { echo "slurm-benchmark: build masknet first: swift build -c release" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/masknet-slurm-bench.XXXXXX")
cluster=""
tools=$PWD/Tools
# Absolute paths: the runs below happen inside $work. The cluster's watchdog also stops it if this script is killed.
cleanup() { [ -z "$cluster" ] || bash "$tools/slurm-cluster.sh" stop "$cluster" || true; rm -rf "$work"; }
trap cleanup EXIT
if [ -z "${SLURM_CONF:-}" ]; then
    cluster="$work/cluster"
    eval "$(SLURM_CLUSTER_OWNER_PID=$$ bash "$tools/slurm-cluster.sh" start "$cluster")"
fi
values=$(seq -s, 1 "$cells" | sed 's/\([0-9]*\)/"\1"/g')
cat > "$work/bench.yaml" <<YAML
pipeline: slurm-bench
stages:
  base:
    kind: command
    params:
      run: echo base > base.txt
      outputs: [base.txt]
  cell:
    kind: command
    inputs: {base: base.base.txt}
    matrix:
      env.N: [$values]
    params:
      run: echo "\$N" > n.txt
      outputs: [n.txt]
YAML
cat > "$work/profile.yaml" <<YAML
local_cheap: false
submits_per_second: 20
resources:
  evaluation: {cpus: 1, mem: 100M, time: 10}
YAML
now() { date +%s.%N; }
cd "$work"
t0=$(now); "$masknet" run bench.yaml --store local-store --executor process --jobs 2 --quiet; t1=$(now)
"$masknet" run bench.yaml --store slurm-store --executor slurm --profile profile.yaml --jobs 1000 --quiet; t2=$(now)
accounting=$(ls -d slurm-store/runs/*/slurm/accounting.json | tail -1)
python3 - "$t0" "$t1" "$t2" "$cells" "$accounting" <<'PY'
import json, sys
t0, t1, t2, cells = float(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
a = json.load(open(sys.argv[5]))
local, slurm = t1 - t0, t2 - t1
stages = cells + 1
waits = [j["queue_wait_seconds"] for j in a["jobs"] if "queue_wait_seconds" in j]
print(f"stages: {stages} ({cells} cells of one swept stage + 1 upstream); machine: {open('/proc/cpuinfo').read().split('model name')[1].split(':')[1].splitlines()[0].strip()}, {len([l for l in open('/proc/cpuinfo') if l.startswith('processor')])} CPUs")
print(f"local (--executor process --jobs 2): {local:.1f} s   slurm (one node): {slurm:.1f} s   ratio slurm/local: {slurm / local:.2f}")
print(f"overhead per stage: {(slurm - local) / stages:.2f} s   submit→start latency: median {sorted(waits)[len(waits)//2]:.2f} s, max {max(waits):.2f} s" if waits else "")
print(f"sbatch calls: {a['submissions']} ({a['arrays']} arrays)   status queries: {a['status_queries']} in {a['elapsed_seconds']:.1f} s = {a['status_queries'] / a['elapsed_seconds'] * 60:.1f} per minute   queue-length queries: {a['queue_count_queries']}")
PY
