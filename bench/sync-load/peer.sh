#!/usr/bin/env bash
# Starts the node-sync peer (`../shared/peers/node-sync`, installed by compare.sh) the way
# keel-bench-sync starts keel: `peer.sh dev` with KEEL_DATA_DIR and KEEL_LISTEN set and no
# CLERK_SECRET_KEY. Like `keel dev`, it leaves the emulator's secret key in
# $KEEL_DATA_DIR/clerk-secret-key, where the generator reads it; the peer takes it from
# CLERK_SECRET_KEY. `exec`, so the pid the generator reads memory and CPU from is node's.
#
#   NODE_SYNC_DIR=target/node-sync keel-bench-sync --keel bench/sync-load/peer.sh
set -euo pipefail
: "${NODE_SYNC_DIR:?NODE_SYNC_DIR: the folder holding server.mjs and node_modules of node-sync}"
: "${KEEL_DATA_DIR:?KEEL_DATA_DIR}"
mkdir -p "$KEEL_DATA_DIR"
key="sk_test_$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"
printf '%s\n' "$key" >"$KEEL_DATA_DIR/clerk-secret-key"
CLERK_SECRET_KEY=$key exec node "$NODE_SYNC_DIR/server.mjs" "$@"
