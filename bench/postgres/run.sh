#!/usr/bin/env bash
# Issue #16 §5: the scale-out benchmarks, side by side in one run, each PostgreSQL run on a
# fresh database of PG_ADMIN_URL's server that it creates and drops.
#
#   http      P1: authenticated `users:getCurrentUser` (wrk -t2 -c64, every answer checked, as
#             bench/http/run.sh) against
#               keel, SQLite          `keel dev` (its emulator issues the token for every row);
#               keel, PostgreSQL      `keel serve` on a fresh database, verifying the same
#                                     emulator's tokens (CLERK_JWT_ISSUER_DOMAIN={keel dev}/_clerk);
#               keel ×2 + nginx       a second `keel serve` on the same database, both behind
#                                     nginx: the README's production example as printed (no
#                                     upstream keep-alive: a new connection to Keel per request),
#                                     and the same with `keepalive 64` upstream;
#               node-seed             the Node baseline, PEER_WORKERS=2, same token (JWKS mode).
#             The README example's WebSocket upgrade is checked through nginx (101 from /api/sync).
#   webhooks  P3: bench/webhooks/run.sh with ENGINES="sqlite postgres" (keel dev on each engine,
#             node-seed W=1 and W=2).
#   latency   cross-instance update latency: the Rust test `cross_instance_update_latency`
#             (crates/keel/tests/it/cross_instance.rs) in release, KEEL_XINST_UPDATES updates: two
#             `keel dev` in one process on a fresh PostgreSQL database, a rename through B, the
#             subscriber's Transition on A.
#   scale     P5: keel-bench-scale (bench/scale) with SCALE_USERS users on SQLite (temporary folder)
#             and on PostgreSQL (fresh database): the four lookups' p50/p99 at the store layer.
#
#   bash bench/postgres/run.sh                  # everything (build first)
#   PARTS="http latency" bash bench/postgres/run.sh
#
# Environment: PARTS ("http webhooks latency scale"), SKIP_BUILD=1 (use the release binaries in
# $CARGO_TARGET_DIR, default target/; the latency part still lets cargo check its test binary),
# PG_ADMIN_URL (postgres://postgres@127.0.0.1:5432/postgres), DURATION (10s), WARMUP (3s),
# CONNECTIONS (64), THREADS (2), PEER_WORKERS (2), NODE_SEED_SRC, XINST_UPDATES (1000),
# SCALE_USERS (100000), SCALE_CALLS (2000), SCALE_ENGINES ("sqlite postgres").
# Every figure comes with the share of the CPUs other work took meanwhile ("other CPU").
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PARTS=${PARTS:-http webhooks latency scale}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-3s}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-64}
PEER_WORKERS=${PEER_WORKERS:-2}
NODE_SEED_SRC=${NODE_SEED_SRC:-$ROOT/../shared/peers/node-seed}
XINST_UPDATES=${XINST_UPDATES:-1000}
SCALE_USERS=${SCALE_USERS:-100000}
SCALE_CALLS=${SCALE_CALLS:-2000}
SCALE_ENGINES=${SCALE_ENGINES:-sqlite postgres}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
export CARGO_TARGET_DIR=$TARGET_DIR
LUA=$ROOT/bench/http/query.lua

# shellcheck source=../lib.sh
source "$ROOT/bench/lib.sh"

has_part() { [[ " $PARTS " == *" $1 "* ]]; }

for tool in cargo node npm curl psql; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is needed"
done
for tool in wrk nginx; do
  if ! command -v "$tool" >/dev/null 2>&1 && has_part http; then
    say "installing $tool"
    package=$tool; [ "$tool" = nginx ] && package=nginx-light
    apt-get install -y "$package" >/dev/null || { apt-get update >/dev/null && apt-get install -y "$package" >/dev/null; }
  fi
done
psql "$PG_ADMIN_URL" -qXAtc 'SELECT 1' >/dev/null || die "PostgreSQL does not answer at $PG_ADMIN_URL"

KEEL=$TARGET_DIR/release/keel
SCALE=$TARGET_DIR/release/keel-bench-scale
if [ "${SKIP_BUILD:-0}" = 1 ]; then
  [ -x "$KEEL" ] || die "SKIP_BUILD=1 but $KEEL is missing"
  say "using the existing release builds (SKIP_BUILD=1)"
else
  say "building keel, keel-bench-webhooks and keel-bench-scale (release)"
  (cd "$ROOT" && cargo build --release -p keel -p keel-bench-webhooks -p keel-bench-scale)
fi
if has_part latency; then
  say "building the integration test binary (release) for the latency part"
  (cd "$ROOT" && cargo nextest run --release -p keel --test it --no-run) >/dev/null 2>&1 \
    || (cd "$ROOT" && cargo nextest run --release -p keel --test it --no-run)
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/keel-bench-postgres.XXXXXX")
TEMP_PATHS+=("$TMP")
CLK_TCK=$(getconf CLK_TCK)
NCPU=$(nproc)
REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')
git -C "$ROOT" diff --quiet HEAD 2>/dev/null || REV="$REV+uncommitted changes"
REPORT=$TMP/report
: >"$REPORT"
report() { printf '%s\n' "$*" >>"$REPORT"; }

json() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const v=JSON.parse(s);const r=new Function("v","return "+process.argv[1])(v);process.stdout.write(typeof r==="string"?r:JSON.stringify(r))})' "$1"; }

# start_keel NAME [ENV=VALUE...] -- ARGS...: a keel process with these variables, on a free
# port; sets STARTED_PID and STARTED_URL.
start_keel() {
  local name=$1 vars=() log
  shift
  while [ "$1" != -- ]; do vars+=("$1"); shift; done
  shift
  log=$TMP/$name.log
  env "${vars[@]}" KEEL_LISTEN=127.0.0.1:0 "$KEEL" "$@" >"$log" 2>&1 &
  STARTED_PID=$!
  PIDS+=("$STARTED_PID")
  wait_for "$log" '^Keel listening on http://' "$STARTED_PID"
  STARTED_URL=$(sed -n 's/^Keel listening on \(http:[^ ]*\).*/\1/p' "$log" | head -1)
}

# busy_share TICKS_BUSY TICKS_OURS SECONDS: the share of all CPUs (percent) busy with other work.
other_share() {
  awk -v b="$1" -v o="$2" -v s="$3" -v hz="$CLK_TCK" -v n="$NCPU" \
    'BEGIN { x = (b - o) / hz; if (x < 0) x = 0; printf "%.0f", 100 * x / (s * n) }'
}

# ================================================================ P1: HTTP ==
http_part() {
  local token user_id secret query stored current answer db node_port node_url
  local a_pid a_url b_pid b_url nginx_pid readme_port keepalive_port
  query='{"path":"users:getCurrentUser","args":[{}],"format":"json"}'
  [ -f "$NODE_SEED_SRC/server.mjs" ] || die "node-seed not found at $NODE_SEED_SRC (set NODE_SEED_SRC)"

  say "P1: starting keel dev (SQLite; its emulator issues the token for every server)"
  start_keel keel-sqlite KEEL_DATA_DIR="$TMP/keel-data" -- dev
  local dev_pid=$STARTED_PID dev_url=$STARTED_URL
  secret=$(cat "$TMP/keel-data/clerk-secret-key")
  user_id=$(curl -fsS -X POST "$dev_url/_clerk/v1/users" -H "Authorization: Bearer $secret" \
    -H 'Content-Type: application/json' \
    -d '{"email_address":["bench@example.com"],"first_name":"Bench"}' | json 'v.id')
  token=$(KEEL_DATA_DIR="$TMP/keel-data" "$KEEL" token --user "$user_id" --url "$dev_url" --expires-in 3600)
  [ -n "$token" ] || die "no token"

  # store_user URL: users:store with the token, then getCurrentUser must return the record.
  store_user() {
    stored=$(curl -fsS -X POST "$1/api/mutation" -H "Authorization: Bearer $token" \
      -H 'Content-Type: application/json' -d '{"path":"users:store","args":[{}],"format":"json"}')
    [ "$(json 'v.status' <<<"$stored")" = success ] || die "users:store at $1 failed: $stored"
    current=$(curl -fsS -X POST "$1/api/query" -H "Authorization: Bearer $token" \
      -H 'Content-Type: application/json' -d "$query")
    [ "$(json 'v.value && v.value.clerkUserId' <<<"$current")" = "$user_id" ] \
      || die "getCurrentUser at $1 did not return the stored user: $current"
  }
  store_user "$dev_url"

  pg_create_database keel_bench_http
  db=$PG_URL
  say "P1: starting keel serve A on PostgreSQL ($db)"
  local serve_env=(KEEL_DATABASE_URL="$db" CLERK_JWT_ISSUER_DOMAIN="$dev_url/_clerk")
  start_keel keel-pg-a "${serve_env[@]}" KEEL_DATA_DIR="$TMP/a" -- serve
  a_pid=$STARTED_PID a_url=$STARTED_URL
  store_user "$a_url"
  say "keel serve A $a_url: user stored in PostgreSQL; getCurrentUser returns the record"

  say "P1: installing node-seed (npm ci) in a copy of $NODE_SEED_SRC"
  mkdir -p "$TMP/node-seed"
  (cd "$NODE_SEED_SRC" && tar --exclude=./node_modules -cf - .) | (cd "$TMP/node-seed" && tar -xf -)
  (cd "$TMP/node-seed" && npm ci --no-audit --no-fund --loglevel=error >"$TMP/npm.log" 2>&1) \
    || { cat "$TMP/npm.log" >&2; die "npm ci failed"; }
  node_port=$(free_port)
  (
    cd "$TMP/node-seed"
    CLERK_JWT_ISSUER_DOMAIN="$dev_url/_clerk" PEER_AUDIENCE=convex PEER_WORKERS="$PEER_WORKERS" \
      PEER_LISTEN="127.0.0.1:$node_port" PEER_LOG="$TMP/node-seed-events.jsonl" exec node server.mjs
  ) >"$TMP/node-seed.log" 2>&1 &
  local node_pid=$!
  PIDS+=("$node_pid")
  wait_for "$TMP/node-seed.log" '^node-seed ready' "$node_pid"
  node_url=http://127.0.0.1:$node_port
  answer=$(curl -sS -X POST "$node_url/api/query" -H "Authorization: Bearer $token" \
    -H 'Content-Type: application/json' -d "$query")
  [ "$answer" = '{"status":"success","value":null,"logLines":[]}' ] \
    || die "node-seed did not accept the emulator token: $answer"

  # measure NAME URL DATABASE PID...: warm-up, then wrk; appends a RESULT line to HTTP_RESULTS.
  # CPU: the servers' process trees (PIDs), and PostgreSQL's backends of DATABASE ("-": none).
  HTTP_RESULTS=$TMP/http-results
  measure() {
    local name=$1 url=$2 database=$3 out server0 server1 busy0 busy1 pg0=0 pg1=0 pg_pids="" wrk_cpu
    shift 3
    say "P1 $name: warm-up $WARMUP, then wrk -t$THREADS -c$CONNECTIONS -d$DURATION"
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" -s "$LUA" "$url/api/query" -- "$token" >/dev/null
    [ "$database" = - ] || pg_pids=$(pg_backend_pids "$database")
    # shellcheck disable=SC2086
    { server0=$(ticks_of "$@"); pg0=$(ticks_of $pg_pids); busy0=$(busy_ticks); }
    TIMEFORMAT='%3U %3S'
    { time wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" -s "$LUA" "$url/api/query" -- "$token" \
        >"$TMP/wrk.out"; } 2>"$TMP/wrk.time"
    # shellcheck disable=SC2086
    { busy1=$(busy_ticks); server1=$(ticks_of "$@"); pg1=$(ticks_of $pg_pids); }
    out=$(cat "$TMP/wrk.out")
    printf '%s\n' "$out" >&2
    wrk_cpu=$(awk '{print $1 + $2}' "$TMP/wrk.time")
    printf '%s %s %s\n' "$name" "$(grep '^RESULT ' <<<"$out" | sed 's/^RESULT //')" "$(awk \
      -v s="$((server1 - server0))" -v p="$((pg1 - pg0))" -v b="$((busy1 - busy0))" -v w="$wrk_cpu" \
      -v hz="$CLK_TCK" -v ncpu="$NCPU" \
      -v n="$(grep -o 'requests=[0-9]*' <<<"$out" | head -1 | cut -d= -f2)" \
      -v secs="$(grep -o 'duration_s=[0-9.]*' <<<"$out" | cut -d= -f2)" \
      'BEGIN {
        other = b / hz - s / hz - p / hz - w; if (other < 0) other = 0
        printf "server_cpu_us=%.1f pg_cpu_us=%.1f wrk_cpu_us=%.1f other_cpu_pct=%.0f", 1e6 * s / hz / n, 1e6 * p / hz / n, 1e6 * w / n, 100 * other / (secs * ncpu)
      }')" >>"$HTTP_RESULTS"
  }
  : >"$HTTP_RESULTS"
  LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
  measure keel-sqlite "$dev_url" - "$dev_pid"
  measure keel-postgres "$a_url" "$db" "$a_pid"
  measure node-seed "$node_url" - "$node_pid"
  stop "$node_pid"

  say "P1: starting keel serve B on the same database, and nginx in front of A and B"
  start_keel keel-pg-b "${serve_env[@]}" KEEL_DATA_DIR="$TMP/b" -- serve
  b_pid=$STARTED_PID b_url=$STARTED_URL
  current=$(curl -fsS -X POST "$b_url/api/query" -H "Authorization: Bearer $token" \
    -H 'Content-Type: application/json' -d "$query")
  [ "$(json 'v.value && v.value.clerkUserId' <<<"$current")" = "$user_id" ] \
    || die "getCurrentUser through B did not return the user A stored: $current"
  readme_port=$(free_port)
  keepalive_port=$(free_port)
  mkdir -p "$TMP/nginx"
  local a_addr=${a_url#http://} b_addr=${b_url#http://}
  cat >"$TMP/nginx/nginx.conf" <<EOF
# Two Keel instances behind nginx (bench/postgres/run.sh).
user root;
worker_processes auto;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $TMP/nginx/body;
  proxy_temp_path $TMP/nginx/proxy;
  fastcgi_temp_path $TMP/nginx/fastcgi;
  uwsgi_temp_path $TMP/nginx/uwsgi;
  scgi_temp_path $TMP/nginx/scgi;

  # The README's example ("Production: PostgreSQL and several instances") as printed, on
  # loopback without TLS instead of 443 ssl.
  upstream keel { server $a_addr; server $b_addr; }
  server {
    listen 127.0.0.1:$readme_port;
    location / {
      proxy_pass http://keel;
      proxy_http_version 1.1;
      proxy_set_header Upgrade \$http_upgrade;
      proxy_set_header Connection "upgrade";
      proxy_set_header Host \$host;
      proxy_read_timeout 1h;   # live-query connections stay open
    }
  }

  # The same with upstream keep-alive: "Connection: upgrade" only when the client asks for one.
  map \$http_upgrade \$connection_upgrade { default upgrade; '' ''; }
  upstream keel_keepalive { server $a_addr; server $b_addr; keepalive 64; }
  server {
    listen 127.0.0.1:$keepalive_port;
    location / {
      proxy_pass http://keel_keepalive;
      proxy_http_version 1.1;
      proxy_set_header Upgrade \$http_upgrade;
      proxy_set_header Connection \$connection_upgrade;
      proxy_set_header Host \$host;
      proxy_read_timeout 1h;
    }
  }
}
EOF
  nginx -c "$TMP/nginx/nginx.conf" -p "$TMP/nginx" -g 'daemon off;' >"$TMP/nginx/out.log" 2>&1 &
  nginx_pid=$!
  PIDS+=("$nginx_pid")
  local i
  for i in $(seq 50); do
    curl -fsS "http://127.0.0.1:$keepalive_port/healthz" >/dev/null 2>&1 && break
    kill -0 "$nginx_pid" 2>/dev/null || { cat "$TMP/nginx/out.log" "$TMP/nginx/error.log" >&2; die "nginx did not start"; }
    sleep 0.1
  done
  # The README example passes the WebSocket upgrade of the sync endpoint.
  local upgrade
  upgrade=$(curl -sS -i --max-time 2 -H 'Connection: Upgrade' -H 'Upgrade: websocket' \
    -H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' \
    "http://127.0.0.1:$readme_port/api/sync" 2>/dev/null | head -1 | tr -d '\r' || true)
  [[ "$upgrade" == *" 101 "* ]] || die "no WebSocket upgrade through the README's nginx example: '$upgrade'"
  say "nginx: the README's example upgrades /api/sync ($upgrade)"

  measure keel-postgres-x2-nginx-readme "http://127.0.0.1:$readme_port" "$db" "$a_pid" "$b_pid" "$nginx_pid"
  measure keel-postgres-x2-nginx-keepalive "http://127.0.0.1:$keepalive_port" "$db" "$a_pid" "$b_pid" "$nginx_pid"
  # How the requests were shared: each instance's own count is not exposed; nginx round-robins.

  {
    echo "## P1: authenticated users:getCurrentUser over HTTP"
    echo "wrk -t$THREADS -c$CONNECTIONS -d$DURATION after $WARMUP warm-up, every response checked; load average before: $LOAD_BEFORE"
    echo
    awk -v workers="$PEER_WORKERS" '
      function field(line, key,   re) {
        re = " " key "=[^ ]*"
        if (match(" " line, re)) return substr(" " line, RSTART + length(key) + 2, RLENGTH - length(key) - 2)
        return ""
      }
      BEGIN {
        label["keel-sqlite"] = "keel dev, SQLite"
        label["keel-postgres"] = "keel serve, PostgreSQL"
        label["keel-postgres-x2-nginx-readme"] = "2 × keel serve, PG, nginx (README)"
        label["keel-postgres-x2-nginx-keepalive"] = "2 × keel serve, PG, nginx keepalive"
        label["node-seed"] = "node-seed (PEER_WORKERS=" workers ")"
        printf "| %-36s | %10s | %8s | %8s | %10s | %8s | %8s | %9s | %s |\n", "server", "requests/s", "p50 (ms)", "p99 (ms)", "server CPU µs/req", "PG µs/req", "wrk µs/req", "other CPU", "errors"
        print "|---|---:|---:|---:|---:|---:|---:|---:|---|"
      }
      {
        name = $1; rps[name] = field($0, "rps") + 0
        fail[name] = field($0, "non200") + field($0, "bad_body") + field($0, "socket_errors")
        printf "| %-36s | %10.0f | %8.2f | %8.2f | %10s | %8s | %8s | %8s%% | %s |\n", label[name], rps[name],
          field($0, "p50_us") / 1000, field($0, "p99_us") / 1000, field($0, "server_cpu_us"), field($0, "pg_cpu_us"),
          field($0, "wrk_cpu_us"), field($0, "other_cpu_pct"),
          (fail[name] == 0 ? "0 of " field($0, "requests") : "FAILED: " fail[name] " of " field($0, "requests"))
      }
      END {
        print ""
        print "server CPU: the keel processes (and nginx) per request; PG: the database'"'"'s backends; other CPU: the"
        print "share of all CPUs used by anything else during the run."
        n = rps["node-seed"]
        if (n > 0) for (k in label) if (k != "node-seed" && (k in rps))
          printf "%-36s / node-seed = %.2fx%s\n", label[k], rps[k] / n, (k == "keel-postgres" ? (rps[k] / n >= 4 ? " (target >= 4x: met)" : " (target >= 4x: NOT met)") : "")
        bad = 0; for (k in fail) if (fail[k] > 0) bad = 1
        if (bad) print "FAILED: some responses were not successes"
      }' "$HTTP_RESULTS"
    echo
  } >>"$REPORT"
  stop "$nginx_pid"; stop "$b_pid"; stop "$a_pid"; stop "$dev_pid"
}

# ============================================================ P3: webhooks ==
webhooks_part() {
  say "P3: bench/webhooks/run.sh on both engines"
  {
    echo "## P3: durable signed webhooks, 32 senders (bench/webhooks/run.sh, ENGINES=\"sqlite postgres\")"
    echo
    SKIP_BUILD=1 ENGINES="sqlite postgres" PG_ADMIN_URL=$PG_ADMIN_URL bash "$ROOT/bench/webhooks/run.sh" \
      | sed -n '/^machine:/,$p'
    echo
  } >>"$REPORT"
}

# ============================================= cross-instance update latency ==
latency_part() {
  local busy0 busy1 start end took cpu
  say "latency: cross_instance_update_latency in release, $XINST_UPDATES updates"
  busy0=$(busy_ticks)
  start=$(date +%s.%N)
  TIMEFORMAT='%3U %3S'
  { time (cd "$ROOT" && KEEL_XINST_UPDATES=$XINST_UPDATES KEEL_TEST_POSTGRES_URL=$PG_ADMIN_URL \
      cargo nextest run --release -p keel --test it -E 'test(=cross_instance::cross_instance_update_latency)' \
      --no-capture >"$TMP/latency.out" 2>&1); } 2>"$TMP/latency.time" \
    || { cat "$TMP/latency.out" >&2; die "the latency test failed"; }
  end=$(date +%s.%N)
  busy1=$(busy_ticks)
  took=$(awk -v a="$start" -v b="$end" 'BEGIN{printf "%.1f", b - a}')
  cpu=$(awk -v hz="$CLK_TCK" '{printf "%d", ($1 + $2) * hz}' "$TMP/latency.time")
  {
    echo "## Cross-instance update latency (mutation through B → Transition on A's subscriber)"
    echo "KEEL_XINST_UPDATES=$XINST_UPDATES cargo nextest run --release -p keel --test it -E 'test(=cross_instance::cross_instance_update_latency)' --no-capture"
    echo
    grep -E '^cross-instance|^commit log' "$TMP/latency.out" || grep -iE 'cross-instance' "$TMP/latency.out"
    echo "wall ${took} s; the test process (and cargo) used $(awk -v hz="$CLK_TCK" -v c="$cpu" -v s="$took" -v n="$NCPU" 'BEGIN{printf "%.0f", 100 * c / hz / (s * n)}')% of the CPUs, PostgreSQL and other work $(other_share "$((busy1 - busy0))" "$cpu" "$took")%"
    echo "target: p99 <= 25 ms on loopback"
    echo
  } >>"$REPORT"
}

# ========================================================= P5: data at scale ==
scale_part() {
  local engine where busy0 busy1 start end took cpu size
  for engine in $SCALE_ENGINES; do
    case $engine in
      sqlite) where=(--dir "$TMP/scale-sqlite") ;;
      postgres)
        pg_create_database keel_bench_scale
        where=(--database-url "$PG_URL")
        ;;
      *) die "unknown engine $engine" ;;
    esac
    say "P5 on $engine: $SCALE_USERS users, $SCALE_CALLS calls each"
    busy0=$(busy_ticks)
    start=$(date +%s.%N)
    TIMEFORMAT='%3U %3S'
    { time "$SCALE" "${where[@]}" --users "$SCALE_USERS" --calls "$SCALE_CALLS" >"$TMP/scale-$engine.out" 2>&1; } \
      2>"$TMP/scale.time" || { cat "$TMP/scale-$engine.out" >&2; die "keel-bench-scale failed on $engine"; }
    end=$(date +%s.%N)
    busy1=$(busy_ticks)
    took=$(awk -v a="$start" -v b="$end" 'BEGIN{printf "%.1f", b - a}')
    cpu=$(awk -v hz="$CLK_TCK" '{printf "%d", ($1 + $2) * hz}' "$TMP/scale.time")
    if [ "$engine" = postgres ]; then
      size="$(pg_size "${where[1]}") bytes (pg_database_size)"
    else
      size="$(du -cb "$TMP/scale-sqlite"/keel.db* | tail -1 | cut -f1) bytes (keel.db, -wal, -shm)"
    fi
    {
      echo "## P5 on $engine: $SCALE_USERS users (keel-bench-scale --users $SCALE_USERS --calls $SCALE_CALLS)"
      echo
      cat "$TMP/scale-$engine.out"
      echo "database size: $size"
      echo "wall ${took} s (seeding included); other work$([ "$engine" = postgres ] && echo ' and PostgreSQL') took $(other_share "$((busy1 - busy0))" "$cpu" "$took")% of the CPUs; load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
      echo "target: p99 < 2 ms for each lookup"
      echo
    } >>"$REPORT"
  done
}

has_part http && http_part
has_part webhooks && webhooks_part
has_part latency && latency_part
has_part scale && scale_part

echo
echo "machine: $NCPU CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'); $(psql "$PG_ADMIN_URL" -qXAtc 'SHOW server_version' | sed 's/^/PostgreSQL /') at ${PG_ADMIN_URL%%/postgres}; node $(node --version)"
echo "keel $REV; $(date -u '+%Y-%m-%d %H:%M UTC'); load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
cat "$REPORT"
