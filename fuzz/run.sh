#!/usr/bin/env bash
# Runs every fuzz target for a bounded time and prints, per target, its run time, total
# executions, executions per second (libFuzzer's own figures) and whether it crashed.
#
#   fuzz/run.sh [seconds-per-target] [target...]     (default: 60 s, every target)
#
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`). On a stable toolchain the nightly
# flags cargo-fuzz passes are allowed through RUSTC_BOOTSTRAP=1. FUZZ_SANITIZER=none skips
# AddressSanitizer (the workspace forbids unsafe code, so it mostly costs speed). Each target
# fuzzes a scratch copy of its committed seeds (fuzz/scratch/<target>/, git-ignored), so the
# corpus stays small; a crash is written to fuzz/artifacts/<target>/.
set -euo pipefail

cd "$(dirname "$0")"
seconds="${1:-60}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(value webhook jwt jwks sync_message)
fi
sanitizer="${FUZZ_SANITIZER:-address}"
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"

cargo fuzz build -O -s "$sanitizer"

status=0
printf '%-14s %8s %14s %10s %s\n' target seconds execs execs/s result
for target in "${targets[@]}"; do
    mkdir -p "scratch/$target" "artifacts/$target"
    cp -n corpus/"$target"/* "scratch/$target/" 2>/dev/null || true
    log="scratch/$target.log"
    result=ok
    if ! cargo fuzz run -O -s "$sanitizer" "$target" "scratch/$target" -- \
        -max_total_time="$seconds" -print_final_stats=1 >"$log" 2>&1; then
        result="CRASH (see $log and artifacts/$target/)"
        status=1
    fi
    stat() { sed -n "s/^stat::$1: *//p" "$log" | tail -1; }
    runs=$(stat number_of_executed_units)
    rate=$(stat average_exec_per_sec)
    took=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
    runs="${runs:-?}" rate="${rate:-?}" took="${took:-?}"
    printf '%-14s %8s %14s %10s %s\n' "$target" "$took" "$runs" "$rate" "$result"
done
exit $status
