#!/usr/bin/env bash
# Webhook benchmark (issue «Clerk sync» #10): Svix-signed `user.created`/`user.updated`
# deliveries from 32 concurrent senders (bench/webhook-load, `keel-bench-webhooks`);
# acknowledged events/s, p50/p99 and errors, side by side:
#   keel            `keel dev` (release build), data folder on the same disk as node-seed's log;
#                   events are committed in groups (one SQLite transaction per batch), and an
#                   event's 200 waits until the WAL holding it has been fsynced;
#   node-seed (W)   the Node baseline (../shared/peers/node-seed), PEER_WORKERS=1 and 2: every
#                   event is one line appended to its log with write + fsync before 200.
# The baseline is the best node-seed result; the ratio keel / baseline is printed (target >= 5x).
# Every server gets the same secret and the same load; one server runs at a time, each on a
# fresh data folder / log. Afterwards, each server's durable record is counted (Keel's
# `clerkEvents` ledger rows, node-seed's log lines): it must hold at least the acknowledged events.
#
#   bash bench/webhooks/run.sh
#
# Environment: SENDERS (32), DURATION (10, seconds), WARMUP (2), CREATE_FRACTION (0.5),
# NODE_SEED_SRC (../shared/peers/node-seed from the repository root), WORKERS ("1 2": the
# node-seed PEER_WORKERS values to run), DATA_PARENT (${TMPDIR:-/tmp}: where the data folders
# and logs go), SKIP_BUILD=1 uses the release binaries already in $CARGO_TARGET_DIR (target/),
# PROBE=1 also measures the disk's fsync rate and SQLite commits/s in DATA_PARENT
# (bench/webhooks/fsync_probe.py), SHM=1 also runs keel with its data folder on /dev/shm
# (tmpfs, where fsync costs nothing: a diagnosis of how fsync-bound keel is, NOT a result),
# ENGINES ("sqlite"; "sqlite postgres" for issue #16) runs keel once per engine: postgres is
# `keel dev` with KEEL_DATABASE_URL on a fresh database of PG_ADMIN_URL's server
# (postgres://postgres@127.0.0.1:5432/postgres), dropped afterwards; its backends' CPU is reported
# apart (pg CPU µs/ev, over the whole run) and taken out of its other-CPU share,
# SLOW_FSYNC_US=N simulates a slower disk, NOT a result on this one: every fsync/fdatasync of the
# servers (not of the load generator) takes N µs longer (bench/webhooks/slow_fsync.c, preloaded;
# needs gcc).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SENDERS=${SENDERS:-32}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
CREATE_FRACTION=${CREATE_FRACTION:-0.5}
WORKERS=${WORKERS:-1 2}
ENGINES=${ENGINES:-sqlite}
NODE_SEED_SRC=${NODE_SEED_SRC:-$ROOT/../shared/peers/node-seed}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
DATA_PARENT=${DATA_PARENT:-${TMPDIR:-/tmp}}

# shellcheck source=../lib.sh
source "$ROOT/bench/lib.sh"

for tool in cargo node npm python3; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is needed"
done
[ -f "$NODE_SEED_SRC/server.mjs" ] || die "node-seed not found at $NODE_SEED_SRC (set NODE_SEED_SRC)"

KEEL=$TARGET_DIR/release/keel
LOAD=$TARGET_DIR/release/keel-bench-webhooks
if [ "${SKIP_BUILD:-0}" = 1 ]; then
  [ -x "$KEEL" ] && [ -x "$LOAD" ] || die "SKIP_BUILD=1 but $KEEL or $LOAD is missing"
  say "using the existing release builds (SKIP_BUILD=1)"
else
  say "building keel and keel-bench-webhooks (release)"
  (cd "$ROOT" && cargo build --release -p keel -p keel-bench-webhooks)
fi

# ------------------------------------------------------------ cleanup --
TMP=$(mktemp -d "$DATA_PARENT/keel-bench-webhooks.XXXXXX")
TEMP_PATHS+=("$TMP")

# Servers start through SERVER_ENV: empty, or the slow-fsync preload.
SERVER_ENV=()
if [ -n "${SLOW_FSYNC_US:-}" ]; then
  command -v gcc >/dev/null 2>&1 || die "SLOW_FSYNC_US needs gcc"
  gcc -shared -fPIC -O2 -o "$TMP/slow_fsync.so" "$ROOT/bench/webhooks/slow_fsync.c" -ldl
  SERVER_ENV=(env LD_PRELOAD="$TMP/slow_fsync.so" SLOW_FSYNC_US="$SLOW_FSYNC_US")
  say "SIMULATION: every fsync of the servers takes ${SLOW_FSYNC_US} µs longer"
fi

# One signing secret for every server (Svix's format: whsec_ + base64 of 24 random bytes).
SECRET="whsec_$(head -c 24 /dev/urandom | base64)"
export CLERK_WEBHOOK_SECRET=$SECRET
RESULTS=$TMP/results
: >"$RESULTS"

# load NAME URL PID: runs the load generator, appends its RESULT line (plus extra fields) to RESULTS.
# (In the background and waited for, so that Ctrl-C or SIGTERM stops everything at once.)
load() {
  local name=$1 url=$2 pid=$3 out=$TMP/$1.load gen
  say "$name: $SENDERS senders, ${WARMUP}s warm-up, ${DURATION}s measured"
  "$LOAD" --url "$url" --senders "$SENDERS" --duration "$DURATION" --warmup "$WARMUP" \
    --create-fraction "$CREATE_FRACTION" --label "$name" --server-pid "$pid" >"$out" &
  gen=$!
  PIDS+=("$gen")
  wait "$gen" || die "the load generator failed against $name"
  stop "$gen"
  grep -v '^RESULT ' "$out" >&2
  LAST_RESULT=$(grep '^RESULT ' "$out" | sed 's/^RESULT //')
}

# ledger_rows DB: rows of Keel's clerkEvents table (the durable record of every event).
ledger_rows() {
  python3 - "$1" <<'EOF'
import sqlite3, sys
db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
(n,) = db.execute("SELECT number FROM keel_tables WHERE name = 'clerkEvents'").fetchone()
print(db.execute("SELECT count(*) FROM keel_documents WHERE table_number = ?", (n,)).fetchone()[0])
EOF
}

# pg_ledger_rows URL: the same count in a PostgreSQL database.
pg_ledger_rows() {
  psql "$1" -qXAtc "SELECT count(*) FROM keel_documents WHERE table_number =
    (SELECT number FROM keel_tables WHERE name = 'clerkEvents')"
}

# keel_run NAME DATA_DIR [DATABASE_URL]: keel dev on SQLite in DATA_DIR, or on PostgreSQL at
# DATABASE_URL (DATA_DIR then only holds the emulator's files).
keel_run() {
  local name=$1 data=$2 database=${3:-} log=$TMP/$1.log url pid rows mode fs pg_ticks=0
  local engine_env=()
  [ -z "$database" ] || engine_env=(KEEL_DATABASE_URL="$database")
  say "starting keel dev ($name, data in ${database:-$data})"
  env "${engine_env[@]}" KEEL_DATA_DIR="$data" KEEL_LISTEN=127.0.0.1:0 \
    KEEL_EMULATOR_WEBHOOK_URL=http://127.0.0.1:9/ "${SERVER_ENV[@]}" "$KEEL" dev >"$log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  wait_for "$log" '^Keel listening on http://' "$pid"
  url=$(sed -n 's/^Keel listening on \(http:[^ ]*\).*/\1/p' "$log" | head -1)
  load "$name" "$url" "$pid"
  if [ -n "$database" ]; then
    # shellcheck disable=SC2046
    pg_ticks=$(ticks_of $(pg_backend_pids "$database"))
  fi
  stop "$pid"
  if [ -n "$database" ]; then
    rows=$(pg_ledger_rows "$database")
    mode=postgres
    fs=$(df -T "$(psql "$database" -qXAtc 'SHOW data_directory' 2>/dev/null || echo /)" 2>/dev/null | awk 'NR==2{print $2}')
  else
    mode=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("PRAGMA journal_mode").fetchone()[0])' "$data/keel.db")
    rows=$(ledger_rows "$data/keel.db")
    fs=$(df -T "$data" | awk 'NR==2{print $2}')
  fi
  # PostgreSQL's backends of this database, CPU per durable event (warm-up included).
  printf '%s durable=%s fs=%s journal=%s pg_cpu_us=%s\n' "$LAST_RESULT" "$rows" "${fs:-?}" "$mode" \
    "$(awk -v t="$pg_ticks" -v hz="$(getconf CLK_TCK)" -v n="$rows" 'BEGIN { printf "%.0f", (n > 0 ? 1e6 * t / hz / n : 0) }')" >>"$RESULTS"
}

# ------------------------------------------------------------------ keel --
for engine in $ENGINES; do
  case $engine in
    sqlite) keel_run keel "$TMP/keel-data" ;;
    postgres)
      pg_create_database keel_bench_webhooks
      keel_run keel-postgres "$TMP/keel-pg-data" "$PG_URL"
      ;;
    *) die "unknown engine $engine (sqlite or postgres)" ;;
  esac
done

# ------------------------------------------------------------- node-seed --
say "installing node-seed (npm ci) in a copy of $NODE_SEED_SRC"
mkdir -p "$TMP/node-seed"
(cd "$NODE_SEED_SRC" && tar --exclude=./node_modules -cf - .) | (cd "$TMP/node-seed" && tar -xf -)
(cd "$TMP/node-seed" && npm ci --no-audit --no-fund --loglevel=error >"$TMP/npm.log" 2>&1) \
  || { cat "$TMP/npm.log" >&2; die "npm ci failed"; }
# node-seed refuses to start without a JWT key; this benchmark sends it no token, so any RSA-2048
# public key does.
JWT_KEY=$(node -e 'const {publicKey}=require("crypto").generateKeyPairSync("rsa",{modulusLength:2048});process.stdout.write(publicKey.export({type:"spki",format:"pem"}))')
for workers in $WORKERS; do
  name="node-seed-w$workers"
  port=$(free_port)
  peer_log=$TMP/$name-events.jsonl
  say "starting node-seed (PEER_WORKERS=$workers, log $peer_log)"
  (
    cd "$TMP/node-seed"
    CLERK_JWT_KEY=$JWT_KEY PEER_WORKERS=$workers PEER_LISTEN="127.0.0.1:$port" PEER_LOG="$peer_log" \
      exec "${SERVER_ENV[@]}" node server.mjs
  ) >"$TMP/$name.log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  wait_for "$TMP/$name.log" '^node-seed ready' "$pid"
  load "$name" "http://127.0.0.1:$port" "$pid"
  stop "$pid"
  printf '%s durable=%s fs=%s journal=-\n' "$LAST_RESULT" "$(wc -l <"$peer_log")" \
    "$(df -T "$TMP" | awk 'NR==2{print $2}')" >>"$RESULTS"
done

# ------------------------------------------------------- diagnosis only --
if [ "${SHM:-0}" = 1 ]; then
  SHM_DIR=$(mktemp -d /dev/shm/keel-bench-webhooks.XXXXXX)
  TEMP_PATHS+=("$SHM_DIR")
  keel_run keel-tmpfs "$SHM_DIR/keel-data"
fi
if [ "${PROBE:-0}" = 1 ]; then
  say "fsync probe in $TMP"
  python3 "$ROOT/bench/webhooks/fsync_probe.py" "$TMP" 3 | tee "$TMP/probe" >&2
fi

# --------------------------------------------------------------- report --
echo
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'); node $(node --version)"
echo "data: $TMP ($(df -T "$TMP" | awk 'NR==2{print $2 " on " $1}'))"
echo "keel $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet 2>/dev/null || echo '+changes'); $SENDERS senders, ${DURATION}s measured after ${WARMUP}s warm-up; create fraction $CREATE_FRACTION"
echo "load average (1, 5, 15 min) at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
[ -z "${SLOW_FSYNC_US:-}" ] || echo "SIMULATED DISK: every fsync of the servers took ${SLOW_FSYNC_US} µs longer (not a result on this disk)"
echo
awk '
  function field(line, key,   re) {
    re = " " key "=[^ ]*"
    if (match(" " line, re)) return substr(" " line, RSTART + length(key) + 2, RLENGTH - length(key) - 2)
    return ""
  }
  BEGIN {
    printf "| %-23s | %9s | %8s | %8s | %6s | %-24s | %9s | %14s | %14s | %14s | %9s |\n", "server", "events/s", "p50 (ms)", "p99 (ms)", "errors", "answers", "durable", "server CPU µs/ev", "pg CPU µs/ev", "load gen CPU µs/ev", "other CPU"
    printf "|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|\n", "-------------------------", "----------:", "---------:", "---------:", "-------:", "--------------------------", "----------:", "-----------------:", "-------------:", "-------------------:", "----------:"
  }
  {
    name = field($0, "label"); rate[name] = field($0, "events_per_s") + 0
    err[name] = field($0, "errors") + 0; acked = field($0, "acked") + 0; durable = field($0, "durable") + 0
    lost[name] = (durable < acked)
    label = name
    if (name ~ /^node-seed-w/) { sub(/^node-seed-w/, "", label); label = "node-seed W=" label }
    if (name == "keel-tmpfs") label = "keel, tmpfs (diagnosis)"
    if (name == "keel-postgres") label = "keel, PostgreSQL"
    # The load generator counts PostgreSQL (another process tree) as other work: take its share out.
    pg = field($0, "pg_cpu_us") + 0
    other = field($0, "other_cpu_pct") - pg * rate[name] / 1e4 / ncpu; if (other < 0) other = 0
    printf "| %-23s | %9.0f | %8.2f | %8.2f | %6d | %-24s | %9s | %16.0f | %13s | %18.0f | %8.0f%% |\n", label, rate[name],
      field($0, "p50_ms"), field($0, "p99_ms"), err[name], field($0, "answers"),
      durable (lost[name] ? " < acked!" : ""), field($0, "server_cpu_us"), (pg > 0 ? pg : "-"), field($0, "gen_cpu_us"), other
    if (name ~ /^node-seed-w/ && rate[name] > best) { best = rate[name]; bestname = label }
  }
  END {
    print ""
    print "events/s: 2xx answers in the measured window / its length; errors: non-2xx + transport errors"
    print "(must be 0); durable: ledger rows (keel) or log lines (node-seed) after the run, warm-up and"
    print "probe included (must be >= the acknowledged events); CPU µs/ev: server process tree CPU time"
    print "per acknowledged event, and the same for the load generator (same machine); other CPU: share of"
    print "all CPUs used by other processes during the run (noise from other work on the machine); pg CPU:"
    print "the PostgreSQL backends of keel'"'"'s database, CPU per durable event (warm-up included), not in other CPU."
    print ""
    bad = 0; for (n in err) if (err[n] > 0 || lost[n]) bad = 1
    if (best > 0 && ("keel" in rate)) {
      r = rate["keel"] / best
      printf "keel / best node-seed (%s) = %.2fx (target >= 5x, issue #10; >= 1.5x, issue #16): %s, %s\n", bestname, r,
        (!bad && r >= 5 ? "met" : "NOT met"), (!bad && r >= 1.5 ? "met" : "NOT met")
    }
    if (best > 0 && ("keel-postgres" in rate)) {
      r = rate["keel-postgres"] / best
      printf "keel on PostgreSQL / best node-seed (%s) = %.2fx (target >= 1x, issue #16): %s\n", bestname, r, (!bad && r >= 1 ? "met" : "NOT met")
    }
    if ("keel-tmpfs" in rate) printf "keel on tmpfs / keel on disk = %.2fx (not durable: diagnosis only)\n", rate["keel-tmpfs"] / rate["keel"]
    if (bad) { print "FAILED: errors, or fewer durable records than acknowledged events"; exit 1 }
  }
' ncpu="$(nproc)" "$RESULTS"
if [ -f "$TMP/probe" ]; then
  echo
  grep -v '^#' "$TMP/probe" | sed 's/^PROBE /probe: /'
fi
