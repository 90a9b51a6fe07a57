#!/usr/bin/env bash
# HTTP benchmark (issue «Keel foundation» §7): authenticated `users:getCurrentUser` over HTTP,
# wrk -t2 -c64 (keep-alive), requests/s and p50/p99, in one run for:
#   keel       `keel dev` (release build) with its built-in Clerk emulator; the user is stored
#              first (`users:store`), so the query reads and returns a real record;
#   node-seed  the Node baseline (../shared/peers/node-seed) with PEER_WORKERS=2, verifying the
#              SAME emulator token through its JWKS mode (CLERK_JWT_ISSUER_DOMAIN={keel}/_clerk);
#              its user Map is empty, so it answers value null after verifying the token;
#   ceiling    a bare axum route (bench/ceiling) that parses the same body, answers a fixed value.
# Every response is checked (bench/http/query.lua): any non-200 or body without
# "status":"success" marks that run FAILED.
#
#   bash bench/http/run.sh
#
# Environment: DURATION (10s), WARMUP (3s), THREADS (2), CONNECTIONS (64),
# NODE_SEED_SRC (../shared/peers/node-seed from the repository root), PEER_WORKERS (2),
# SKIP_BUILD=1 uses the release binaries already in $CARGO_TARGET_DIR (default target/),
# BENCH_EXTRA=1 also measures keel signed out (no token: no verification and no index read, but
# still a read transaction) and the ceiling without the Authorization header, to see where
# keel's time goes.
# BENCH_METRICS=1 also measures what /metrics costs (#17 §4, target: at most 5% fewer
# requests/s): two `keel serve` on SQLite trusting this `keel dev`'s emulator as issuer, one
# keeping no figures (no KEEL_METRICS_TOKEN) and one with KEEL_METRICS_TOKEN, measured in
# turns (off, on, off, on) so drift on the machine falls on both.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-3s}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-64}
PEER_WORKERS=${PEER_WORKERS:-2}
NODE_SEED_SRC=${NODE_SEED_SRC:-$ROOT/../shared/peers/node-seed}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
LUA=$ROOT/bench/http/query.lua

# shellcheck source=../lib.sh
source "$ROOT/bench/lib.sh"

# ---------------------------------------------------------------- tools --
if ! command -v wrk >/dev/null 2>&1; then
  say "installing wrk"
  apt-get install -y wrk >/dev/null || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
fi
for tool in cargo node npm curl; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is needed"
done
[ -f "$NODE_SEED_SRC/server.mjs" ] || die "node-seed not found at $NODE_SEED_SRC (set NODE_SEED_SRC)"

KEEL=$TARGET_DIR/release/keel
CEILING=$TARGET_DIR/release/keel-bench-ceiling
if [ "${SKIP_BUILD:-0}" = 1 ]; then
  [ -x "$KEEL" ] && [ -x "$CEILING" ] || die "SKIP_BUILD=1 but $KEEL or $CEILING is missing"
  say "using the existing release builds (SKIP_BUILD=1)"
else
  say "building keel and the ceiling (release)"
  (cd "$ROOT" && cargo build --release -p keel -p keel-bench-ceiling)
fi

# ------------------------------------------------------ servers, cleanup --
TMP=$(mktemp -d "${TMPDIR:-/tmp}/keel-bench-http.XXXXXX")
TEMP_PATHS+=("$TMP")

json() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const v=JSON.parse(s);const r=new Function("v","return "+process.argv[1])(v);process.stdout.write(typeof r==="string"?r:JSON.stringify(r))})' "$1"; }

# ------------------------------------------------------------------ keel --
say "starting keel dev"
export KEEL_DATA_DIR=$TMP/keel-data
KEEL_LISTEN=127.0.0.1:0 "$KEEL" dev >"$TMP/keel.log" 2>&1 &
KEEL_PID=$!
PIDS+=("$KEEL_PID")
wait_for "$TMP/keel.log" '^Keel listening on http://' "${PIDS[-1]}"
KEEL_URL=$(sed -n 's/^Keel listening on \(http:[^ ]*\).*/\1/p' "$TMP/keel.log" | head -1)
SECRET=$(cat "$KEEL_DATA_DIR/clerk-secret-key")

USER_ID=$(curl -fsS -X POST "$KEEL_URL/_clerk/v1/users" -H "Authorization: Bearer $SECRET" \
  -H 'Content-Type: application/json' \
  -d '{"email_address":["bench@example.com"],"first_name":"Bench"}' | json 'v.id')
TOKEN=$("$KEEL" token --user "$USER_ID" --url "$KEEL_URL" --expires-in 3600)
[ -n "$TOKEN" ] || die "no token"

stored=$(curl -fsS -X POST "$KEEL_URL/api/mutation" -H "Authorization: Bearer $TOKEN" \
  -H 'Content-Type: application/json' -d '{"path":"users:store","args":[{}],"format":"json"}')
[ "$(json 'v.status' <<<"$stored")" = success ] || die "users:store failed: $stored"
QUERY='{"path":"users:getCurrentUser","args":[{}],"format":"json"}'
current=$(curl -fsS -X POST "$KEEL_URL/api/query" -H "Authorization: Bearer $TOKEN" \
  -H 'Content-Type: application/json' -d "$QUERY")
[ "$(json 'v.value && v.value.clerkUserId' <<<"$current")" = "$USER_ID" ] \
  || die "keel getCurrentUser did not return the stored user: $current"
say "keel $KEEL_URL: user $USER_ID stored; getCurrentUser returns the record"

# ------------------------------------------------------------- node-seed --
say "installing node-seed (npm ci) in a copy of $NODE_SEED_SRC"
mkdir -p "$TMP/node-seed"
(cd "$NODE_SEED_SRC" && tar --exclude=./node_modules -cf - .) | (cd "$TMP/node-seed" && tar -xf -)
(cd "$TMP/node-seed" && npm ci --no-audit --no-fund --loglevel=error >"$TMP/npm.log" 2>&1) \
  || { cat "$TMP/npm.log" >&2; die "npm ci failed"; }
NODE_PORT=$(free_port)
(
  cd "$TMP/node-seed"
  CLERK_JWT_ISSUER_DOMAIN="$KEEL_URL/_clerk" PEER_AUDIENCE=convex PEER_WORKERS="$PEER_WORKERS" \
    PEER_LISTEN="127.0.0.1:$NODE_PORT" PEER_LOG="$TMP/node-seed-events.jsonl" \
    exec node server.mjs
) >"$TMP/node-seed.log" 2>&1 &
NODE_PID=$!
PIDS+=("$NODE_PID")
wait_for "$TMP/node-seed.log" '^node-seed ready' "${PIDS[-1]}"
NODE_URL=http://127.0.0.1:$NODE_PORT
grep -q 'keys: jwks' "$TMP/node-seed.log" || die "node-seed is not in JWKS mode: $(cat "$TMP/node-seed.log")"
answer=$(curl -sS -X POST "$NODE_URL/api/query" -H "Authorization: Bearer $TOKEN" \
  -H 'Content-Type: application/json' -d "$QUERY")
[ "$answer" = '{"status":"success","value":null,"logLines":[]}' ] \
  || die "node-seed did not accept the emulator token: $answer"
say "node-seed $NODE_URL (PEER_WORKERS=$PEER_WORKERS, JWKS from $KEEL_URL/_clerk): token accepted, value null (empty user Map)"

# --------------------------------------------------------------- ceiling --
"$CEILING" 0 >"$TMP/ceiling.log" 2>&1 &
CEILING_PID=$!
PIDS+=("$CEILING_PID")
wait_for "$TMP/ceiling.log" '^ceiling listening on http://' "${PIDS[-1]}"
CEILING_URL=$(sed -n 's/^ceiling listening on \(http:[^ ]*\).*/\1/p' "$TMP/ceiling.log" | head -1)
say "ceiling $CEILING_URL"

# ----------------------------------------------------------------- runs --
# CPU accounting (ticks_of, busy_ticks: bench/lib.sh), to see who used the 2 CPUs during a run:
# the server (with its child processes: node-seed's cluster workers), wrk, and everything else
# on the machine (other users' builds make a run noisy: reported as "other CPU").
CLK_TCK=$(getconf CLK_TCK)
NCPU=$(nproc)

# measure NAME URL TOKEN PID: warm-up, then the measured run; appends "NAME key=value..." to RESULTS.
RESULTS=$TMP/results
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
if awk '{exit !($1 > 1.0)}' /proc/loadavg; then
  say "warning: load average $LOAD_BEFORE before the runs: other work shares these CPUs"
fi
measure() {
  local name=$1 url=$2 token=$3 pid=$4 out server0 server1 busy0 busy1 wrk_cpu requests
  say "$name: warm-up $WARMUP, then wrk -t$THREADS -c$CONNECTIONS -d$DURATION"
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" -s "$LUA" "$url/api/query" -- "$token" >/dev/null
  server0=$(ticks_of "$pid")
  busy0=$(busy_ticks)
  TIMEFORMAT='%3U %3S'
  { time wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" -s "$LUA" "$url/api/query" -- "$token" \
      >"$TMP/wrk.out"; } 2>"$TMP/wrk.time"
  busy1=$(busy_ticks)
  server1=$(ticks_of "$pid")
  out=$(cat "$TMP/wrk.out")
  printf '%s\n' "$out" >&2
  wrk_cpu=$(awk '{print $1 + $2}' "$TMP/wrk.time")
  requests=$(grep '^RESULT ' <<<"$out" | sed 's/.* requests=\([0-9]*\).*/\1/')
  printf '%s %s %s\n' "$name" "$(grep '^RESULT ' <<<"$out" | sed 's/^RESULT //')" "$(awk \
    -v s="$((server1 - server0))" -v b="$((busy1 - busy0))" -v w="$wrk_cpu" -v hz="$CLK_TCK" \
    -v n="$requests" -v ncpu="$NCPU" -v secs="$(grep -o 'duration_s=[0-9.]*' <<<"$out" | cut -d= -f2)" \
    'BEGIN {
      other = b / hz - s / hz - w; if (other < 0) other = 0
      printf "server_cpu_us=%.1f wrk_cpu_us=%.1f other_cpu_pct=%.0f", 1e6 * s / hz / n, 1e6 * w / n, 100 * other / (secs * ncpu)
    }')" >>"$RESULTS"
}

measure keel "$KEEL_URL" "$TOKEN" "$KEEL_PID"
measure node-seed "$NODE_URL" "$TOKEN" "$NODE_PID"
measure ceiling "$CEILING_URL" "$TOKEN" "$CEILING_PID"
if [ "${BENCH_EXTRA:-0}" = 1 ]; then
  measure keel-signed-out "$KEEL_URL" none "$KEEL_PID"
  measure ceiling-no-auth-header "$CEILING_URL" none "$CEILING_PID"
fi

# start_serve NAME [METRICS_TOKEN]: a `keel serve` on its own SQLite folder, the bench user
# stored; sets SERVE_URL and SERVE_PID.
start_serve() {
  local name=$1 token=${2:-} stored
  mkdir -p "$TMP/$name"
  (
    export KEEL_DATA_DIR=$TMP/$name KEEL_LISTEN=127.0.0.1:0
    export CLERK_FRONTEND_API_URL="$KEEL_URL/_clerk"
    unset CLERK_WEBHOOK_SECRET
    if [ -n "$token" ]; then export KEEL_METRICS_TOKEN=$token; fi
    exec "$KEEL" serve
  ) >"$TMP/$name.log" 2>&1 &
  SERVE_PID=$!
  PIDS+=("$SERVE_PID")
  wait_for "$TMP/$name.log" '^Keel listening on http://' "$SERVE_PID"
  SERVE_URL=$(sed -n 's/^Keel listening on \(http:[^ ]*\).*/\1/p' "$TMP/$name.log" | head -1)
  stored=$(curl -fsS -X POST "$SERVE_URL/api/mutation" -H "Authorization: Bearer $TOKEN" \
    -H 'Content-Type: application/json' -d '{"path":"users:store","args":[{}],"format":"json"}')
  [ "$(json 'v.status' <<<"$stored")" = success ] || die "$name: users:store failed: $stored"
}

if [ "${BENCH_METRICS:-0}" = 1 ]; then
  METRICS_TOKEN=bench-metrics-token
  start_serve serve-metrics-off
  OFF_URL=$SERVE_URL OFF_PID=$SERVE_PID
  start_serve serve-metrics-on "$METRICS_TOKEN"
  ON_URL=$SERVE_URL ON_PID=$SERVE_PID
  [ "$(curl -s -o /dev/null -w '%{http_code}' "$OFF_URL/metrics")" = 404 ] || die "metrics are not off"
  for round in 1 2; do
    measure "serve-metrics-off-$round" "$OFF_URL" "$TOKEN" "$OFF_PID"
    measure "serve-metrics-on-$round" "$ON_URL" "$TOKEN" "$ON_PID"
  done
  # Read whole before matching: `grep -q` stops reading at the first match, and curl's
  # failed write would then fail the pipeline.
  SCRAPE=$(curl -fsS -H "Authorization: Bearer $METRICS_TOKEN" "$ON_URL/metrics")
  grep -q '^keel_http_requests_total{route="/api/query",status="200"}' <<<"$SCRAPE" \
    || die "the metrics-on server counted no queries"
fi

# --------------------------------------------------------------- report --
echo
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'); wrk $(wrk -v 2>&1 | head -1 | awk '{print $2}'); node $(node --version)"
echo "load average (1, 5, 15 min) just before the runs: $LOAD_BEFORE"
if REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null); then
  git -C "$ROOT" diff --quiet HEAD 2>/dev/null || REV="$REV+uncommitted changes"
else
  REV="(not a git checkout)"
fi
echo "keel $REV; wrk -t$THREADS -c$CONNECTIONS -d$DURATION (after ${WARMUP} warm-up), every response checked"
echo
awk -v workers="$PEER_WORKERS" '
  function thousands(n,   s) {
    s = sprintf("%d", n)
    while (s ~ /[0-9][0-9][0-9][0-9]/) sub(/[0-9][0-9][0-9]($|,)/, ",&", s)
    return s
  }
  function field(line, key,   re, m) {
    re = " " key "=[^ ]*"
    if (match(" " line, re)) return substr(" " line, RSTART + length(key) + 2, RLENGTH - length(key) - 2)
    return ""
  }
  {
    name = $1; rps[name] = field($0, "rps") + 0
    failures = field($0, "non200") + field($0, "bad_body") + field($0, "socket_errors")
    fail[name] = failures
    label = name; if (name == "node-seed") label = "node-seed (PEER_WORKERS=" workers ")"
    printf "| %-30s | %10s | %8.2f | %8.2f | %15s | %12s | %9s%% | %s |\n", label, thousands(rps[name]),
      field($0, "p50_us") / 1000, field($0, "p99_us") / 1000, field($0, "server_cpu_us"),
      field($0, "wrk_cpu_us"), field($0, "other_cpu_pct"),
      (failures == 0 ? "0 of " field($0, "requests") : "FAILED: " field($0, "non200") " non-200, " field($0, "bad_body") " bad body, " field($0, "socket_errors") " socket errors, of " field($0, "requests"))
  }
  BEGIN {
    printf "| %-30s | %10s | %8s | %8s | %15s | %12s | %10s | %s |\n", "server", "requests/s", "p50 (ms)", "p99 (ms)", "server CPU µs/req", "wrk CPU µs/req", "other CPU", "errors"
    printf "|%s|%s|%s|%s|%s|%s|%s|%s|\n", "--------------------------------", "-----------:", "---------:", "---------:", "----------------:", "-------------:", "-----------:", "--------"
  }
  END {
    print ""
    print "server/wrk CPU µs/req: CPU time (user+system) of the server process tree / of wrk, per request;"
    print "other CPU: share of all CPUs used by anything else during the run (noise from other work)."
    print ""
    ok = (fail["keel"] == 0)
    if (rps["node-seed"] > 0) {
      r = rps["keel"] / rps["node-seed"]
      printf "keel / node-seed = %.2fx (target >= 4x): %s\n", r, (ok && fail["node-seed"] == 0 && r >= 4 ? "met" : "NOT met")
    }
    if (rps["ceiling"] > 0) {
      r = rps["keel"] / rps["ceiling"]
      printf "keel / ceiling   = %.1f%% (target >= 60%%): %s\n", 100 * r, (ok && fail["ceiling"] == 0 && r >= 0.6 ? "met" : "NOT met")
    }
    off = rps["serve-metrics-off-1"] + rps["serve-metrics-off-2"]
    on = rps["serve-metrics-on-1"] + rps["serve-metrics-on-2"]
    if (off > 0 && on > 0) {
      printf "keel serve, metrics on / off = %.1f%% (target >= 95%%): %s\n", 100 * on / off, (on / off >= 0.95 ? "met" : "NOT met")
    }
    any = 0; for (n in fail) if (fail[n] > 0) any = 1
    if (any) { print "FAILED: some responses were not successes (see the errors column)"; exit 1 }
  }
' "$RESULTS"
