#!/usr/bin/env bash
# Builds the libFuzzer binary and runs one harness for a given time (off CI; CI replays the corpora).
#
#   bash Fuzz/run.sh HARNESS SECONDS      e.g. bash Fuzz/run.sh pth 1200
#   bash Fuzz/run.sh build                just build
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
build
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
set +e
"$binary" ".corpus-work/$harness" "Corpus/$harness" -rss_limit_mb=2048 -malloc_limit_mb=2048 \
    -timeout=10 -max_total_time="$seconds" -max_len=65536 -print_final_stats=1 \
    -artifact_prefix="Findings/$harness/" 2>&1 | tee "Logs/$harness.log" | grep -E "^#[0-9]+ +(pulse|DONE|NEW)|ERROR|SUMMARY|stat::" | tail -n 40
status=${PIPESTATUS[0]}
set -e
echo "harness $harness: exit $status after $(( $(date +%s) - start )) s; findings: $(ls "Findings/$harness" | wc -l)"
exit "$status"
