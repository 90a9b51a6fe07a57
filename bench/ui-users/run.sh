#!/usr/bin/env bash
# The web app's performance (issue #15 §5), in Debian's Chromium against a release `keel dev`:
#   - first load of the signed-in dashboard `/`: JS+CSS gzipped as served (< 250 KiB), hashed
#     assets `Cache-Control: … immutable` and `Content-Encoding: gzip`;
#   - Users search at 100,000 synced users: keystroke → rendered results, p50/p95/p99
#     (p95 ≤ 100 ms).
# The users are written by keel-bench-users (bench/users-list) through the app's own sync
# writers into a fresh data folder before Keel starts, which is far faster than 100,000
# webhooks; an admin then signs in through the emulator's page like a person.
#
#   bash bench/ui-users/run.sh
#
# Environment: USERS (100000), SAMPLES (300 keystrokes), PAUSE_MS (50, between keystrokes),
# SKIP_BUILD=1 (use the binaries in $CARGO_TARGET_DIR, default target/), CHROMIUM_PATH
# (/usr/bin/chromium), JSON_OUT (a file for every sample).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$ROOT/bench/ui-users
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
USERS=${USERS:-100000}
SAMPLES=${SAMPLES:-300}
PAUSE_MS=${PAUSE_MS:-50}
# shellcheck source=../lib.sh
source "$ROOT/bench/lib.sh"

for tool in cargo node npm; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is needed"
done
CHROMIUM=${CHROMIUM_PATH:-/usr/bin/chromium}
if [ ! -x "$CHROMIUM" ] && [ -z "${CHROMIUM_PATH:-}" ]; then
  say "installing Debian's chromium (apt), as scripts/test does"
  sudo_if_needed=()
  if [ "$(id -u)" -ne 0 ]; then sudo_if_needed=(sudo); fi
  "${sudo_if_needed[@]}" apt-get update -qq
  "${sudo_if_needed[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
[ -x "$CHROMIUM" ] || die "no Chromium at $CHROMIUM"
say "$("$CHROMIUM" --version 2>/dev/null)"

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  say "building keel and keel-bench-users (release; the web app is built into keel)"
  (cd "$ROOT" && cargo build --release -p keel -p keel-bench-users)
fi
KEEL=$TARGET_DIR/release/keel
SEED=$TARGET_DIR/release/keel-bench-users
[ -x "$KEEL" ] && [ -x "$SEED" ] || die "no release binaries in $TARGET_DIR/release"

# playwright-core only: it never downloads a browser (the variable is belt and braces).
if [ ! -d "$HERE/node_modules" ] || [ "$HERE/package-lock.json" -nt "$HERE/node_modules" ]; then
  say "npm ci in bench/ui-users"
  (cd "$HERE" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/keel-bench-ui.XXXXXX")
TEMP_PATHS+=("$dir")
say "seeding $USERS users into $dir/keel.db"
"$SEED" --seed-only --users "$USERS" --dir "$dir"

# The emulator knows none of the seeded users, so a reconcile with it would mark them all
# deleted: keep it beyond the run (keel dev's default is every 5 minutes).
KEEL_LISTEN=127.0.0.1:0 KEEL_DATA_DIR="$dir" KEEL_RECONCILE_EVERY=24h KEEL_LOG=warn \
  "$KEEL" dev >"$dir/out.log" 2>&1 &
pid=$!
PIDS+=("$pid")
wait_for "$dir/out.log" 'Keel listening on http://' "$pid"
url=$(grep -Eo 'Keel listening on http://[^ ]+' "$dir/out.log" | head -1 | sed 's/Keel listening on //')
say "keel dev at $url (pid $pid), $(git -C "$ROOT" rev-parse --short HEAD), $(date -u '+%Y-%m-%d %H:%M UTC')"

CHROMIUM_PATH=$CHROMIUM node "$HERE/bench.mjs" --url "$url" --pid "$pid" --samples "$SAMPLES" --pause-ms "$PAUSE_MS" \
  ${JSON_OUT:+--json "$JSON_OUT"}
