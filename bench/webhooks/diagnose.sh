#!/usr/bin/env bash
# Where Keel's webhook time goes (a diagnosis for bench/webhooks/run.sh, not a result).
# Runs `keel dev` (release) under the webhook load in several set-ups and, with `perf stat`
# attached to the server for the middle of the measured window, counts its fsync + fdatasync
# calls (SQLite syncs the WAL once per commit, so syncs/s ≈ commits/s) and context switches:
#   disk-32      data on DATA_PARENT (the benchmark's set-up), 32 senders
#   tmpfs-32     data on /dev/shm: fsync costs nothing (NOT durable)
#   disk-1       one sender: no batching possible, the latency of one event end to end
#   duplicates   32 senders re-sending one applied delivery: answered `duplicate` after the ledger
#                lookup, nothing written: the cost of HTTP + verification + parsing + the queue
#   ceiling      32 senders against bench/ceiling, which reads each delivery and answers
#                `applied` without verifying, parsing or storing it: what axum + hyper + tokio
#                alone reach on this machine with this load generator (an upper bound)
# then bench/webhooks/fsync_probe.py in DATA_PARENT.
#
#   bash bench/webhooks/diagnose.sh
#
# Environment: DURATION (8), WARMUP (2), DATA_PARENT (${TMPDIR:-/tmp}), SKIP_BUILD=1, CASES
# ("disk-32 tmpfs-32 disk-1 duplicates"), KEEL (the keel binary; default the release build, e.g.
# another commit's build to compare). Needs perf (apt-get install linux-perf) for the syncs
# and context switches; without it those columns are empty.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DURATION=${DURATION:-8}
WARMUP=${WARMUP:-2}
DATA_PARENT=${DATA_PARENT:-${TMPDIR:-/tmp}}
CASES=${CASES:-disk-32 tmpfs-32 disk-1 duplicates ceiling}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
KEEL=${KEEL:-$TARGET_DIR/release/keel}
LOAD=$TARGET_DIR/release/keel-bench-webhooks
CEILING=$TARGET_DIR/release/keel-bench-ceiling

# shellcheck source=../lib.sh
source "$ROOT/bench/lib.sh"
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  (cd "$ROOT" && cargo build --release -p keel -p keel-bench-webhooks -p keel-bench-ceiling)
fi
HAVE_PERF=0
if command -v perf >/dev/null 2>&1 && perf stat -e syscalls:sys_enter_fdatasync true >/dev/null 2>&1; then
  HAVE_PERF=1
fi

export CLERK_WEBHOOK_SECRET="whsec_$(head -c 24 /dev/urandom | base64)"
TABLE=$(mktemp "$DATA_PARENT/keel-webhooks-diagnosis.XXXXXX")
TEMP_PATHS+=("$TABLE")

run_case() {
  local name=$1 parent=$2 dir log url out perf_out syncs=- cs=- stat_secs perf_pid= pid
  shift 2
  dir=$(mktemp -d "$parent/keel-webhooks-diagnosis.XXXXXX")
  TEMP_PATHS+=("$dir")
  log=$dir/keel.log
  if [ "$name" = ceiling ]; then
    "$CEILING" 0 >"$log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    wait_for "$log" '^ceiling listening on http://' "$pid"
    url=$(sed -n 's/^ceiling listening on \(http:[^ ]*\).*/\1/p' "$log" | head -1)
  else
    KEEL_DATA_DIR=$dir/data KEEL_LISTEN=127.0.0.1:0 KEEL_EMULATOR_WEBHOOK_URL=http://127.0.0.1:9/ \
      "$KEEL" dev >"$log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    wait_for "$log" '^Keel listening on http://' "$pid"
    url=$(sed -n 's/^Keel listening on \(http:[^ ]*\).*/\1/p' "$log" | head -1)
  fi
  say "$name ($dir, $(df -T "$dir" | awk 'NR==2{print $2}'))"
  perf_out=$dir/perf
  stat_secs=$(awk -v d="$DURATION" 'BEGIN{print (d > 4 ? d - 2 : d / 2)}')
  if [ "$HAVE_PERF" = 1 ]; then
    ( sleep "$(awk -v w="$WARMUP" 'BEGIN{print w + 1}')"
      perf stat -x, -e syscalls:sys_enter_fsync,syscalls:sys_enter_fdatasync,context-switches \
        -p "$pid" -o "$perf_out" -- sleep "$stat_secs" >/dev/null 2>&1 ) &
    perf_pid=$!
  fi
  out=$("$LOAD" --url "$url" --duration "$DURATION" --warmup "$WARMUP" --label "$name" \
    --server-pid "$pid" "$@" | grep '^RESULT ' | sed 's/^RESULT //')
  [ -z "$perf_pid" ] || wait "$perf_pid" || true
  if [ -s "$perf_out" ]; then
    syncs=$(awk -F, -v s="$stat_secs" '/sys_enter_f(data)?sync/{n += $1} END{printf "%.0f", n / s}' "$perf_out")
    cs=$(awk -F, -v s="$stat_secs" '/context-switches/{printf "%.0f", $1 / s}' "$perf_out")
  fi
  stop "$pid"
  printf '%s syncs_per_s=%s cs_per_s=%s\n' "$out" "$syncs" "$cs" >>"$TABLE"
}

for c in $CASES; do
  case $c in
    disk-32) run_case disk-32 "$DATA_PARENT" ;;
    tmpfs-32) run_case tmpfs-32 /dev/shm ;;
    disk-1) run_case disk-1 "$DATA_PARENT" --senders 1 ;;
    duplicates) run_case duplicates "$DATA_PARENT" --duplicates ;;
    ceiling) run_case ceiling "$DATA_PARENT" ;;
    *) echo "unknown case $c" >&2; exit 2 ;;
  esac
done

echo
echo "keel binary $KEEL (work tree $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet -- crates 2>/dev/null || echo '+changes in crates/')); $(nproc) CPUs; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
awk '
  function field(line, key,   re) {
    re = " " key "=[^ ]*"
    if (match(" " line, re)) return substr(" " line, RSTART + length(key) + 2, RLENGTH - length(key) - 2)
    return ""
  }
  BEGIN {
    printf "| %-10s | %8s | %8s | %8s | %-22s | %9s | %10s | %12s | %10s | %9s |\n", "case", "events/s", "p50 (ms)", "p99 (ms)", "answers", "syncs/s", "events/sync", "server µs/ev", "ctx sw/ev", "other CPU"
    printf "|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|\n", "------------", "---------:", "---------:", "---------:", "------------------------", "----------:", "-----------:", "-------------:", "-----------:", "----------:"
  }
  {
    rate = field($0, "events_per_s") + 0; syncs = field($0, "syncs_per_s"); cs = field($0, "cs_per_s")
    printf "| %-10s | %8.0f | %8.2f | %8.2f | %-22s | %9s | %10s | %12.0f | %10s | %8.0f%% |\n", field($0, "label"), rate,
      field($0, "p50_ms"), field($0, "p99_ms"), field($0, "answers"), syncs,
      (syncs > 0 ? sprintf("%.1f", rate / syncs) : "-"), field($0, "server_cpu_us"),
      (cs != "-" && rate > 0 ? sprintf("%.0f", cs / rate) : "-"), field($0, "other_cpu_pct")
  }
  END {
    print ""
    print "syncs/s: fsync + fdatasync calls of the server per second (SQLite WAL: one per commit, plus"
    print "checkpoints); events/sync: events acknowledged per sync (the group commit batch size);"
    print "ctx sw/ev: the server'"'"'s context switches per event."
  }
' "$TABLE"
echo
say "fsync probe in $DATA_PARENT"
python3 "$ROOT/bench/webhooks/fsync_probe.py" "$DATA_PARENT" 3 | sed 's/^PROBE /probe: /'
