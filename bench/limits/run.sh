#!/usr/bin/env bash
# Resource limits (issue #18): the peak resident memory of a `keel dev` (release build) for
#   one   one 7.9 MiB body `{"path":…,"args":[{"x":[0,0,…]}]}` (SHAPE=args: `"args":[0,0,…]`);
#   four  4 senders posting that body back to back, with GET /healthz latency beside them;
#   held  64 unfinished 7.9 MiB bodies held open.
# Each scenario gets a fresh Keel and data folder, so VmHWM is that scenario's peak.
#
#   bash bench/limits/run.sh
#
# Environment: KEEL_BIN (default: target/release/keel, built unless SKIP_BUILD=1), SECONDS_FOUR
# (10), SCENARIOS ("one four held"), SHAPE (field).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
SCENARIOS=${SCENARIOS:-one four held}
SECONDS_FOUR=${SECONDS_FOUR:-10}
SHAPE=${SHAPE:-field}
# shellcheck source=../lib.sh
source "$ROOT/bench/lib.sh"

KEEL=${KEEL_BIN:-$TARGET_DIR/release/keel}
if [ -z "${KEEL_BIN:-}" ] && [ "${SKIP_BUILD:-0}" != 1 ]; then
  say "building keel (release)"
  (cd "$ROOT" && cargo build --release -p keel)
fi
[ -x "$KEEL" ] || die "no keel binary at $KEEL"

for scenario in $SCENARIOS; do
  dir=$(mktemp -d "${TMPDIR:-/tmp}/keel-bench-limits.XXXXXX")
  TEMP_PATHS+=("$dir")
  KEEL_LISTEN=127.0.0.1:0 KEEL_DATA_DIR="$dir" KEEL_LOG=warn "$KEEL" dev >"$dir/out.log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  wait_for "$dir/out.log" 'Keel listening on http://' "$pid"
  url=$(grep -Eo 'Keel listening on http://[^ ]+' "$dir/out.log" | head -1 | sed 's/Keel listening on //')
  say "$scenario against $url (pid $pid)"
  node "$ROOT/bench/limits/load.mjs" --scenario "$scenario" --url "$url" --pid "$pid" --seconds "$SECONDS_FOUR" --shape "$SHAPE"
  stop "$pid"
done
