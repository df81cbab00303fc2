#!/bin/sh
# Kills a real `masknet run` with SIGKILL (and SIGINT, SIGTERM) in the middle of a stage, then checks
# that nothing partial was published and that the next run resumes from the completed stages.
# Usage: Tools/pipeline-crash-check.sh [path/to/masknet]   (default .build-rel/release/masknet)
set -eu
MASKNET=$(cd "$(dirname "${1:-.build-rel/release/masknet}")" && pwd)/$(basename "${1:-.build-rel/release/masknet}")
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
cat > p.yaml <<'YAML'
pipeline: crash
stages:
  first: {kind: command, params: {run: "echo one > out", outputs: [out]}}
  slow:
    kind: command
    inputs: {x: first.out}
    params:
      run: |
        echo partial > out
        echo $$ > "$MARKER_DIR/pid"
        if [ -e "$MARKER_DIR/hang" ]; then sleep 30; fi
        cat "$IN_x" >> out
      outputs: [out]
      env: {MARKER_DIR: "."}
  last: {kind: command, inputs: {x: slow.out}, params: {run: "cp $IN_x out", outputs: [out]}}
YAML
sed -i "s|MARKER_DIR: \".\"|MARKER_DIR: \"$WORK\"|" p.yaml
for SIG in KILL INT TERM; do
  rm -rf Artifacts "$WORK/pid"; touch "$WORK/hang"
  ( exec "$MASKNET" run p.yaml --quiet > /dev/null 2>&1 ) &
  RUNNER=$!
  i=0; while [ ! -s "$WORK/pid" ] && [ $i -lt 500 ]; do sleep 0.01; i=$((i+1)); done
  kill -s $SIG $RUNNER
  wait $RUNNER || true
  rm -f "$WORK/hang"
  # Nothing of 'slow' may be recorded as a result.
  if grep -rl '"stage" : "slow"' Artifacts/actions > /dev/null 2>&1; then echo "FAIL ($SIG): partial stage recorded"; exit 1; fi
  OUT=$("$MASKNET" run p.yaml --json)
  echo "$OUT" | grep -q '"event":"stage_cached","key":"[0-9a-f]*","stage":"first"' || { echo "FAIL ($SIG): first not resumed from the store"; echo "$OUT"; exit 1; }
  echo "$OUT" | grep -q '"event":"stage_finished".*"stage":"slow"' || { echo "FAIL ($SIG): slow not recomputed"; exit 1; }
  # The script process of the killed attempt must not survive the next run (it is killed by process group).
  if kill -0 "$(cat "$WORK/pid")" 2>/dev/null; then echo "FAIL ($SIG): the killed run's command is still running"; exit 1; fi
  LAST=$(ls -d Artifacts/runs/* | while read d; do grep -l '"status" : "succeeded"' "$d/run.json" >/dev/null 2>&1 && echo "$d"; done | tail -1)
  [ -n "$LAST" ] || { echo "FAIL ($SIG): no succeeded run"; exit 1; }
  [ -z "$(ls Artifacts/scratch)" ] || { echo "FAIL ($SIG): scratch not cleaned"; exit 1; }
  echo "ok: runner killed with SIG$SIG mid-stage: nothing partial recorded, completed stage reused, killed stage recomputed"
done

# Two `masknet run` processes on one store: every stage key is computed exactly once.
rm -rf Artifacts "$WORK/count"
cat > conc.yaml <<YAML
pipeline: conc
stages:
  a: {kind: command, params: {run: 'echo a >> "$WORK/count"; sleep 0.5; echo a > out', outputs: [out]}}
  b: {kind: command, inputs: {x: a.out}, params: {run: 'echo b >> "$WORK/count"; sleep 0.5; cp \$IN_x out', outputs: [out]}}
  c: {kind: command, params: {run: 'echo c >> "$WORK/count"; sleep 0.5; echo c > out', outputs: [out]}}
YAML
"$MASKNET" run conc.yaml --jobs 2 --quiet & P1=$!
"$MASKNET" run conc.yaml --jobs 2 --quiet & P2=$!
wait $P1; wait $P2
[ "$(sort "$WORK/count" | tr -d '\n')" = "abc" ] || { echo "FAIL: concurrent runs computed $(sort "$WORK/count" | tr '\n' ' ')"; exit 1; }
echo "ok: two concurrent runs on one store computed each stage once"
