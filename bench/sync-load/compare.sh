#!/usr/bin/env bash
# The live benchmark (run.sh) against the plain-Node peer and against Keel, in one run, with
# the same load generator and arguments for both: issue #18 section 4. Prints each server's
# figures and the ratios (peer / Keel for times, Keel / peer for memory).
#
#   bash bench/sync-load/compare.sh                       # the full load, peer first
#   ORDER="keel peer" bash bench/sync-load/compare.sh     # Keel first
#   bash bench/sync-load/compare.sh --users 100 --shared 1000 --rounds 3   # a quick one
#
# Arguments go to keel-bench-sync for both runs (see --help). The peer is
# ../shared/peers/node-sync beside the repository (NODE_SYNC_SRC overrides), copied with its
# package files to $CARGO_TARGET_DIR/node-sync (default target/) and installed there with
# `npm ci`; it is started by peer.sh exactly as keel is. SKIP_BUILD=1 uses the binaries
# already built. Each side's output, its JSON figures and the machine load before and after
# it are kept in $OUT_DIR (default target/sync-compare/<UTC time>).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
source "$ROOT/bench/lib.sh"
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
PEER_SRC=${NODE_SYNC_SRC:-$ROOT/../shared/peers/node-sync}
ORDER=${ORDER:-peer keel}
cd "$ROOT"

[ -f "$PEER_SRC/server.mjs" ] || die "no node-sync peer at $PEER_SRC (set NODE_SYNC_SRC)"
if [[ "${SKIP_BUILD:-}" != 1 ]]; then
  cargo build --release -p keel -p keel-bench-sync
fi

# The peer's copy and packages live under target/, never in the repository.
PEER_DIR="$TARGET_DIR/node-sync"
mkdir -p "$PEER_DIR"
if ! cmp -s "$PEER_SRC/package-lock.json" "$PEER_DIR/package-lock.json" || [ ! -d "$PEER_DIR/node_modules" ]; then
  say "installing the node-sync peer's packages in $PEER_DIR"
  rm -rf "$PEER_DIR/node_modules"
  cp "$PEER_SRC/package.json" "$PEER_SRC/package-lock.json" "$PEER_DIR/"
  (cd "$PEER_DIR" && npm ci --no-audit --no-fund --loglevel=error >&2)
fi
cp "$PEER_SRC/server.mjs" "$PEER_DIR/server.mjs"

# 65,536 where allowed; otherwise the hard limit (the generator checks it covers its sockets).
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

OUT_DIR=${OUT_DIR:-$TARGET_DIR/sync-compare/$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT_DIR"
load() {
  { echo "--- machine load $1, $(date -u +%H:%M:%S) UTC"; uptime; top -bn1 | head -15; } | tee -a "$OUT_DIR/load.txt" >&2
}
revision=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
for side in $ORDER; do
  case $side in
    peer) server=("$ROOT/bench/sync-load/peer.sh") ;;
    keel) server=("$TARGET_DIR/release/keel") ;;
    *) die "ORDER: peer or keel, not $side" ;;
  esac
  load "before $side"
  say "$side: keel-bench-sync --keel ${server[0]} $*"
  NODE_SYNC_DIR="$PEER_DIR" "$TARGET_DIR/release/keel-bench-sync" --keel "${server[0]}" \
    --json "$OUT_DIR/$side.json" "$@" 2> >(tee "$OUT_DIR/$side.stderr" >&2) | tee "$OUT_DIR/$side.md"
  load "after $side"
done
node "$ROOT/bench/sync-load/compare.mjs" "$OUT_DIR/peer.json" "$OUT_DIR/keel.json" "$revision" | tee "$OUT_DIR/compare.md"
say "outputs in $OUT_DIR"
