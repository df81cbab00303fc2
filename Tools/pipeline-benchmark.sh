#!/bin/sh
# Overhead of the pipeline engine (not a test), with the targets of issue 10:
#   fully cached rerun of a chain of 10 trivial `command` stages      < 0.05 s median
#   plan of a 1,001-stage sweep                                       < 0.5 s
#   second plan of a pipeline whose input is 5 GB of slices           < 1 s (the state table)
# Usage: Tools/pipeline-benchmark.sh [path/to/masknet] [GB of slices, default 5; 0 skips that part]
# The slices are random 512 KiB files written to a temporary folder and deleted at the end.
set -eu
BIN=${1:-.build/release/masknet}
MASKNET=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
GB=${2:-5}
WORK=$(mktemp -d)
trap 'chmod -R u+w "$WORK" 2>/dev/null; rm -rf "$WORK"' EXIT
cd "$WORK"
{
  echo "pipeline: chain10"; echo "stages:"
  echo '  s0: {kind: command, params: {run: "echo 0 > out", outputs: [out]}}'
  for i in 1 2 3 4 5 6 7 8 9; do
    echo "  s$i: {kind: command, inputs: {x: s$((i-1)).out}, params: {run: \"cat \$IN_x > out; echo $i >> out\", outputs: [out]}}"
  done
} > chain10.yaml
V='["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]'
cat > sweep1000.yaml <<YAML
pipeline: sweep1000
stages:
  data: {kind: command, params: {run: "seq 1 100 > out", outputs: [out]}}
  cell:
    kind: command
    inputs: {x: data.out}
    matrix: {env.A: $V, env.B: $V, env.C: $V}
    params: {run: 'echo "\$A\$B\$C" > out', outputs: [out]}
YAML
cat > slices.yaml <<YAML
pipeline: slices
stages:
  count: {kind: command, inputs: {slices: 'file:$WORK/slices'}, params: {run: 'ls \$IN_slices | wc -l > out', outputs: [out]}}
YAML
"$MASKNET" run chain10.yaml --quiet
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; load average now: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$MASKNET" "$GB" "$WORK" <<'PY'
import os, resource, subprocess, sys, time
masknet, gb, work = sys.argv[1], float(sys.argv[2]), sys.argv[3]
# Wall time, and CPU time (user + system of the child): on a machine shared with other jobs the wall
# time includes waiting for a core, the CPU time does not.
def bench(args, n):
    ts, cs = [], []
    for _ in range(n):
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter(); subprocess.run([masknet] + args, check=True, stdout=subprocess.DEVNULL); ts.append(time.perf_counter() - t)
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cs.append(r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime)
    ts.sort(); cs.sort()
    return ts[n // 2], "wall median %.3f s (min %.3f), CPU median %.3f s (n=%d)" % (ts[n // 2], ts[0], cs[n // 2], n)
def line(label, result, target):
    median, text = result
    print("%-44s %s   target < %.2f s wall: %s" % (label, text, target, "met" if median < target else "MISSED"))
print("%-44s %s" % ("masknet --help (process start):", bench(["--help"], 21)[1]))
line("cached rerun, 10-stage chain:", bench(["run", "chain10.yaml", "--quiet"], 21), 0.05)
line("plan, 1,001 stages (nothing cached):", bench(["plan", "sweep1000.yaml"], 5), 0.5)
subprocess.run([masknet, "run", "sweep1000.yaml", "--quiet", "--jobs", "2"], check=True)
line("plan, 1,001 stages (all cached):", bench(["plan", "sweep1000.yaml"], 5), 0.5)
print("%-44s %s" % ("cached rerun, 1,001 stages:", bench(["run", "sweep1000.yaml", "--quiet"], 5)[1]))
if gb > 0:
    folder = os.path.join(work, "slices")
    os.makedirs(folder)
    size = 512 * 1024
    count = int(gb * 1024**3 / size)
    block = os.urandom(size)
    for i in range(count):
        with open(os.path.join(folder, "slice-%06d.bin" % i), "wb") as f:
            f.write(i.to_bytes(8, "little") + block[8:])
    # Files younger than 2 s are never trusted by the state table (timestamp granularity); wait that out.
    time.sleep(2.5)
    t = time.perf_counter(); subprocess.run([masknet, "plan", "slices.yaml"], check=True, stdout=subprocess.DEVNULL); first = time.perf_counter() - t
    print("%-44s %.3f s (%d files, %.2f GB hashed)" % ("first plan, %g GB of slices:" % gb, first, count, count * size / 1e9))
    line("second plan, %g GB of slices:" % gb, bench(["plan", "slices.yaml"], 5), 1.0)
    subprocess.run(["sh", "-c", "touch %s/slice-000007.bin" % folder], check=True)
    line("plan after touching one slice:", bench(["plan", "slices.yaml"], 1), 1.0)
PY
