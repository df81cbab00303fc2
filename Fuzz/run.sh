#!/usr/bin/env bash
# Builds the libFuzzer binary and runs one harness until its process has used SECONDS of CPU time (off CI;
# CI replays the corpora). CPU time, not wall time, so that a campaign on a busy machine counts what it
# really got; the fuzzer is then stopped with SIGINT and prints its final stats.
#
#   bash Fuzz/run.sh HARNESS SECONDS      e.g. bash Fuzz/run.sh pth 1200
#   bash Fuzz/run.sh build                just build
#   FUZZ_NO_BUILD=1 bash Fuzz/run.sh ...  use the binary already built (two campaigns at once)
#
# Harnesses: pth safetensors png jpeg coco-gt coco-results split-list pipeline (FuzzHarness raw values).
# One process (no -jobs: libFuzzer would then log to fuzz-N.log), 2 GiB RSS limit, 10 s per input: a crash, a hang over 10 s or an allocation over 2 GiB is a
# finding, written to Fuzz/Findings/HARNESS/; fix it, then move the input to Fuzz/Regressions/HARNESS/.
# New corpus entries go to a scratch corpus (Fuzz/.corpus-work/HARNESS), seeded from Fuzz/Corpus/HARNESS;
# the committed corpus stays small. The log (with libFuzzer's cov:/exec/s lines) is Fuzz/Logs/HARNESS.log.
set -euo pipefail
cd "$(dirname "$0")"
scratch=.build-fuzz
build() {
    swift build --package-path . --scratch-path "$scratch" -c debug \
        -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xswiftc -g >&2
}
if [ "${1:-}" = build ]; then build; exit 0; fi
harness=${1:?harness name}
seconds=${2:?seconds}
[ -n "${FUZZ_NO_BUILD:-}" ] || build
binary="$scratch/debug/masknet-fuzz"
mkdir -p ".corpus-work/$harness" "Findings/$harness" Logs
cp -n "Corpus/$harness"/* ".corpus-work/$harness/" 2>/dev/null || true
# Leaks are not findings here (a parser that throws may leave Foundation caches); memory growth is bounded
# by -rss_limit_mb instead.
export ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1
# Swift's own crash handler reads foreign stacks, which ASan reports instead of the real trap.
export SWIFT_BACKTRACE=enable=no
export MASKNET_FUZZ_TARGET=$harness
start=$(date +%s)
log="Logs/$harness.log"
# The wall-clock cap (ten times the CPU target) only guards against a stopped process.
"$binary" ".corpus-work/$harness" "Corpus/$harness" -rss_limit_mb=2048 -malloc_limit_mb=2048 \
    -timeout=10 -max_total_time=$(( seconds * 10 )) -max_len=65536 -print_final_stats=1 \
    -artifact_prefix="Findings/$harness/" > "$log" 2>&1 &
pid=$!
trap 'kill -INT $pid 2>/dev/null' INT TERM
ticks_per_second=$(getconf CLK_TCK)
cpu=0
while kill -0 "$pid" 2>/dev/null; do
    sleep 5
    # utime + stime of the fuzzer (fields 14 and 15 of /proc/PID/stat).
    ticks=$(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null) || break
    [ -n "$ticks" ] || break
    cpu=$(( ticks / ticks_per_second ))
    if [ "$cpu" -ge "$seconds" ]; then kill -INT "$pid"; break; fi
done
set +e
wait "$pid"
status=$?
set -e
grep -E "^#[0-9]+ +(pulse|DONE|NEW)|ERROR|SUMMARY|stat::" "$log" | tail -n 40
# libFuzzer exits 72 when stopped by SIGINT after printing its stats: a finished campaign, not a finding.
[ "$status" -eq 72 ] && status=0
echo "harness $harness: exit $status after $cpu CPU s, $(( $(date +%s) - start )) wall s; $(grep -oE "cov: [0-9]+ ft: [0-9]+" "$log" | tail -1); findings: $(ls "Findings/$harness" | wc -l)"
exit "$status"
