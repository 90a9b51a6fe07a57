#!/usr/bin/env python3
"""How fast can this disk make data durable? (the webhook benchmark's diagnosis)

    python3 bench/webhooks/fsync_probe.py DIR [SECONDS]

In DIR (use the folder the servers write to), for SECONDS (3) each:
  1. append 300 bytes + fdatasync, and + fsync, in a loop: durable appends/s, one writer
     (node-seed does write + fsyncSync per webhook);
  2. the same with 2 and 32 threads appending to one O_APPEND file, each syncing after its own
     write: whether the filesystem merges concurrent syncs (node-seed with PEER_WORKERS=2);
  3. SQLite in WAL mode with synchronous=FULL (Keel's settings): transactions of B events
     (B = 1, 2, 4, 8, 16, 32), each event one ~1 KB document row plus two index rows, one
     transaction per COMMIT: commits/s and events/s. B = 1 is what Keel does today (one
     transaction and one WAL sync per webhook); B > 1 is what a group commit would do.
Prints one `PROBE key=value ...` line per measurement.
"""

import os
import sqlite3
import sys
import tempfile
import threading
import time

DIR = sys.argv[1] if len(sys.argv) > 1 else "."
SECS = float(sys.argv[2]) if len(sys.argv) > 2 else 3.0
LINE = b"x" * 299 + b"\n"


def appends(path, sync, threads):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    counts = [0] * threads
    stop = time.monotonic() + SECS

    def loop(i):
        n = 0
        while time.monotonic() < stop:
            os.write(fd, LINE)
            sync(fd)
            n += 1
        counts[i] = n

    start = time.monotonic()
    workers = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.monotonic() - start
    os.close(fd)
    os.unlink(path)
    return sum(counts) / elapsed


def sqlite_batches(path, batch):
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE IF NOT EXISTS docs (id TEXT PRIMARY KEY, body TEXT) WITHOUT ROWID")
    db.execute(
        "CREATE TABLE IF NOT EXISTS idx (n INTEGER, key BLOB, id TEXT, PRIMARY KEY (n, key)) WITHOUT ROWID"
    )
    body = "y" * 1000
    events = commits = 0
    stop = time.monotonic() + SECS
    start = time.monotonic()
    while time.monotonic() < stop:
        db.execute("BEGIN IMMEDIATE")
        for _ in range(batch):
            key = f"{batch}-{events}"
            db.execute("INSERT INTO docs VALUES (?, ?)", (key, body))
            db.execute("INSERT INTO idx VALUES (1, ?, ?)", (key.encode(), key))
            db.execute("INSERT INTO idx VALUES (2, ?, ?)", (("e" + key).encode(), key))
            events += 1
        db.execute("COMMIT")
        commits += 1
    elapsed = time.monotonic() - start
    db.close()
    return commits / elapsed, events / elapsed


def main():
    fs = os.popen(f"df -T {DIR} | tail -1 | awk '{{print $2}}'").read().strip()
    print(f"# fsync probe in {DIR} ({fs}), {SECS:g} s per measurement", flush=True)
    path = os.path.join(DIR, f"fsync-probe-{os.getpid()}.log")
    for name, sync in (("fdatasync", os.fdatasync), ("fsync", os.fsync)):
        for threads in (1, 2, 32):
            rate = appends(path, sync, threads)
            print(
                f"PROBE kind=append sync={name} threads={threads} ops_per_s={rate:.0f} "
                f"us_per_op={1e6 / rate:.0f}",
                flush=True,
            )
    with tempfile.TemporaryDirectory(dir=DIR, prefix="sqlite-probe-") as tmp:
        for batch in (1, 2, 4, 8, 16, 32):
            commits, events = sqlite_batches(os.path.join(tmp, f"b{batch}.db"), batch)
            print(
                f"PROBE kind=sqlite-wal-full batch={batch} commits_per_s={commits:.0f} "
                f"events_per_s={events:.0f}",
                flush=True,
            )


main()
