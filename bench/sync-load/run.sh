#!/usr/bin/env bash
# Live-query benchmark (issue «Live queries» #8): builds keel and the load generator in release
# mode, raises the open-files limit for 10,000+ sockets, starts `keel dev` on a fresh data folder
# and runs (a) per-user update latency, (b) fan-out to one shared query, (c) RSS per connection.
#
#   bash bench/sync-load/run.sh                      # the full benchmark
#   bash bench/sync-load/run.sh --users 100 --shared 1000 --rounds 3   # a quick one
#
# Arguments go to keel-bench-sync (see --help). SKIP_BUILD=1 uses the binaries already built.
# compare.sh runs the same load against the node-sync peer and Keel and prints the ratios;
# `keel-bench-sync --hostile` measures what misbehaving sync clients cost (BENCHMARKS.md).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
cd "$ROOT"
if [[ "${SKIP_BUILD:-}" != 1 ]]; then
  cargo build --release -p keel -p keel-bench-sync
fi
# 65,536 where allowed; otherwise the hard limit (the generator checks it covers its sockets).
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
exec "$TARGET_DIR/release/keel-bench-sync" --keel "$TARGET_DIR/release/keel" "$@"
