#!/bin/sh
# Overhead of the pipeline engine (not a test): a fully cached rerun of a chain of 10 trivial `command`
# stages, and planning/rerunning a 1,000-cell sweep.
# Usage: Tools/pipeline-benchmark.sh [path/to/masknet]   (default .build-rel/release/masknet)
set -eu
MASKNET=$(cd "$(dirname "${1:-.build-rel/release/masknet}")" && pwd)/$(basename "${1:-.build-rel/release/masknet}")
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
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
"$MASKNET" run chain10.yaml --quiet
python3 - "$MASKNET" <<'PY'
import subprocess, sys, time
masknet = sys.argv[1]
def bench(args, n):
    ts = []
    for _ in range(n):
        t = time.perf_counter(); subprocess.run([masknet] + args, check=True, stdout=subprocess.DEVNULL); ts.append(time.perf_counter() - t)
    ts.sort()
    return "median %.3f s, min %.3f s (n=%d)" % (ts[n // 2], ts[0], n)
print("masknet --help (process start):     ", bench(["--help"], 21))
print("cached rerun, 10-stage chain:        ", bench(["run", "chain10.yaml", "--quiet"], 21))
print("plan, 1,001 stages (nothing cached): ", bench(["plan", "sweep1000.yaml"], 5))
subprocess.run([masknet, "run", "sweep1000.yaml", "--quiet", "--jobs", "2"], check=True)
print("plan, 1,001 stages (all cached):     ", bench(["plan", "sweep1000.yaml"], 5))
print("cached rerun, 1,001 stages:          ", bench(["run", "sweep1000.yaml", "--quiet"], 5))
PY
