# Shared by the benchmark scripts (`source "$ROOT/bench/lib.sh"` after `set -euo pipefail`):
# messages, the servers a script starts (stopped on exit or Ctrl-C), the temporary paths it
# makes (removed on exit), and waiting for a server's start-up line.

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Processes to stop on exit (`PIDS+=("$!")`) and paths to remove (`TEMP_PATHS+=("$dir")`).
PIDS=()
TEMP_PATHS=()
cleanup() {
  local pid path
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  for path in "${TEMP_PATHS[@]}"; do rm -rf "$path"; done
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
