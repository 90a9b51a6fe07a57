// What the machine's CPUs did during a phase, and how much of it was this benchmark's: keel,
// and this node process with its Chromium (a child of it). "Other" is the rest (someone
// else's build or tests on the same two CPUs), which makes a run noisy.
import { readdirSync, readFileSync } from "node:fs";
import { availableParallelism } from "node:os";

function machine() {
  const fields = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
  return { idle: fields[3] + fields[4], total: fields.reduce((a, b) => a + b, 0) };
}

/** pid → [parent pid, user+system clock ticks], for every process alive now. */
function processes() {
  const all = new Map();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      all.set(Number(name), [Number(fields[1]), Number(fields[11]) + Number(fields[12])]);
    } catch {
      // exited meanwhile
    }
  }
  return all;
}

/** Clock ticks used so far by `root` and its descendants. */
function treeTicks(all, root) {
  let ticks = 0;
  const queue = [root];
  while (queue.length) {
    const pid = queue.pop();
    ticks += all.get(pid)?.[1] ?? 0;
    for (const [child, [parent]] of all) if (parent === pid) queue.push(child);
  }
  return ticks;
}

export function cpuSnapshot(keelPid) {
  const all = processes();
  return { machine: machine(), keel: keelPid ? treeTicks(all, keelPid) : 0, bench: treeTicks(all, process.pid) };
}

/** Shares of all CPUs between two snapshots, in percent. */
export function cpuShares(before, after) {
  const total = after.machine.total - before.machine.total;
  const pct = (ticks) => (100 * ticks) / total;
  const busy = pct(total - (after.machine.idle - before.machine.idle));
  const keel = pct(after.keel - before.keel);
  const bench = pct(after.bench - before.bench);
  return { cpus: availableParallelism(), busy, keel, bench, other: Math.max(0, busy - keel - bench) };
}
