# Shared by the benchmark scripts (`source "$ROOT/bench/lib.sh"` after `set -euo pipefail`):
# messages, the servers a script starts (stopped on exit or Ctrl-C), the temporary paths it
# makes (removed on exit), and waiting for a server's start-up line.

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Processes to stop on exit (`PIDS+=("$!")`) and paths to remove (`TEMP_PATHS+=("$dir")`).
PIDS=()
TEMP_PATHS=()
# PostgreSQL databases a script created (`pg_create_database`), dropped on exit.
PG_DATABASES=()
cleanup() {
  local pid path db
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  for path in "${TEMP_PATHS[@]}"; do rm -rf "$path"; done
  for db in "${PG_DATABASES[@]}"; do
    psql "$PG_ADMIN_URL" -qXc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 \
      || printf 'warning: could not drop database %s\n' "$db" >&2
  done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# stop PID: SIGTERM, wait for the exit, forget it.
stop() {
  local pid=$1 kept=() p
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  for p in "${PIDS[@]}"; do [ "$p" = "$pid" ] || kept+=("$p"); done
  PIDS=("${kept[@]}")
}

# wait_for FILE REGEX PID: until a line of FILE matches (server start-up output), 30 s at most.
wait_for() {
  local file=$1 regex=$2 pid=$3 i
  for i in $(seq 300); do
    if grep -Eq "$regex" "$file" 2>/dev/null; then return 0; fi
    kill -0 "$pid" 2>/dev/null || { cat "$file" >&2; die "server exited during start-up"; }
    sleep 0.1
  done
  cat "$file" >&2
  die "server did not start (no line matching $regex in $file)"
}

# A free TCP port on 127.0.0.1.
free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }


# ------------------------------------------------------------- PostgreSQL --
# The server the PostgreSQL runs use (trust auth on this machine), as an admin URL.
PG_ADMIN_URL=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}

# pg_create_database PREFIX: creates a fresh database (dropped on exit) and sets PG_URL to its URL.
# (Not in a command substitution: the subshell would forget the database, which then stays.)
pg_create_database() {
  local name
  name="$1_$$_$(head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  psql "$PG_ADMIN_URL" -qXc "CREATE DATABASE \"$name\"" >/dev/null \
    || die "cannot create database $name at $PG_ADMIN_URL (is PostgreSQL running?)"
  PG_DATABASES+=("$name")
  PG_URL="${PG_ADMIN_URL%/*}/$name"
}

# pg_size URL: the database's size (pg_database_size), in bytes.
pg_size() { psql "$1" -qXAtc 'SELECT pg_database_size(current_database())'; }

# ------------------------------------------------------------ CPU shares --
# Who used the CPUs during a run, in clock ticks (getconf CLK_TCK a second).
# ticks_of PID...: user+system ticks of these processes and all their descendants.
ticks_of() {
  local total=0 pid kids
  for pid in "$@"; do
    [ -r "/proc/$pid/stat" ] || continue
    total=$((total + $(sed 's/.*) //' "/proc/$pid/stat" | awk '{print $12 + $13}')))
    kids=$(pgrep -P "$pid" | tr '\n' ' ' || true)
    if [ -n "$kids" ]; then
      # shellcheck disable=SC2086
      total=$((total + $(ticks_of $kids)))
    fi
  done
  echo "$total"
}
# busy_ticks: ticks the whole machine was busy (all CPUs).
busy_ticks() { awk '/^cpu /{print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }
# pg_backend_pids URL: the server processes of the database's other connections (a Keel
# pool's), for their CPU: the server is shared, other databases' backends are not counted.
pg_backend_pids() {
  psql "$1" -qXAtc 'SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()' | tr '\n' ' '
}
