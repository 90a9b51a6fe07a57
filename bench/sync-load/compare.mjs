// Prints node-sync's and Keel's figures from keel-bench-sync --json side by side, with the
// ratios issue #18 sets goals for: peer / Keel for times (≥ 3), Keel / peer for memory (≤ 1).
//   node compare.mjs peer.json keel.json [revision]
import fs from "node:fs";

const [peerFile, keelFile, revision = "?"] = process.argv.slice(2);
const peer = JSON.parse(fs.readFileSync(peerFile, "utf8"));
const keel = JSON.parse(fs.readFileSync(keelFile, "utf8"));
const get = (o, path) => path.split(".").reduce((v, k) => (v == null ? v : v[k]), o);
const f = (v, d = 2) => (typeof v === "number" && Number.isFinite(v) ? v.toFixed(d) : "–");

// [label, path, unit, kind]: kind "time" (ratio peer/keel, goal ≥ 3), "mem" (keel/peer, ≤ 1),
// "zero" (must be 0), "info" (a ratio, no goal).
const rows = [
  ["(a) send → subscriber's update, p50", "a.p50_ms", "ms", "info"],
  ["(a) send → subscriber's update, p99", "a.p99_ms", "ms", "time"],
  ["(a) max", "a.max_ms", "ms", "info"],
  ["(a) updates pushed to other users", "a.foreign", "", "zero"],
  ["(a) samples without their update", "a.missing", "", "zero"],
  ["(b) last of the shared subscribers updated, median of rounds", "b.last_median_ms", "ms", "time"],
  ["(b) first / median subscriber updated, median of rounds", null, "ms", "pair"],
  ["(b) updates pushed to untouched subscriptions", "b.foreign", "", "zero"],
  ["(c) RssAnon per idle connection, shared query (marginal)", "c_shared_query_kib", "KiB", "mem"],
  ["(c) RssAnon per idle connection, own query (marginal)", "c_own_query_kib", "KiB", "mem"],
  ["subscribers dropped", "subscribers_dropped", "", "zero"],
];
const perSample = (s, key, n) => {
  const v = get(s, key);
  return typeof v === "number" && n ? (v * 1000) / n : undefined;
};
console.log(`\nKeel at ${revision} against node-sync, same load generator and arguments.\n`);
console.log("| measure | node-sync | Keel | ratio | goal |");
console.log("|---|---:|---:|---:|---|");
for (const [label, path, unit, kind] of rows) {
  if (kind === "pair") {
    const p = `${f(peer.b?.first_median_ms, 1)} / ${f(peer.b?.median_median_ms, 1)}`;
    const k = `${f(keel.b?.first_median_ms, 1)} / ${f(keel.b?.median_median_ms, 1)}`;
    console.log(`| ${label} | ${p} ${unit} | ${k} ${unit} | | |`);
    continue;
  }
  const p = get(peer, path);
  const k = get(keel, path);
  const u = unit ? ` ${unit}` : "";
  let ratio = "";
  let goal = "";
  if (kind === "time" || kind === "info") {
    ratio = `${f(p / k, 2)}× (peer / Keel)`;
    if (kind === "time") goal = p / k >= 3 ? "≥ 3×: **met**" : "≥ 3×: **not met**";
  } else if (kind === "mem") {
    ratio = `${f(k / p, 2)} (Keel / peer)`;
    goal = k <= p ? "≤ 1: **met**" : "≤ 1: **not met**";
  } else if (kind === "zero") {
    goal = k === 0 && p === 0 ? "0: met by both" : `0: Keel ${k === 0 ? "met" : "NOT met"}, peer ${p === 0 ? "met" : "NOT met"}`;
  }
  const digits = kind === "zero" ? 0 : unit === "KiB" ? 2 : path.startsWith("b.") ? 1 : 2;
  console.log(`| ${label} | ${f(p, digits)}${u} | ${f(k, digits)}${u} | ${ratio} | ${goal} |`);
}
const cpuRow = (label, phase, n) => {
  const show = (s) =>
    `${f(perSample(s, `${phase}.cpu.server_s`, n(s)), 2)} / ${f(perSample(s, `${phase}.cpu.load_generator_s`, n(s)), 2)} ms; others ${f(get(s, `${phase}.cpu.other_processes_s`), 1)} CPU-s in ${f(get(s, `${phase}.cpu.wall_s`), 1)} s`;
  console.log(`| ${label} | ${show(peer)} | ${show(keel)} | | |`);
};
cpuRow("(a) CPU per sample: server / load generator", "a", (s) => s.a?.samples);
cpuRow("(b) CPU per round: server / load generator", "b", (s) => s.b?.last_rounds_ms?.length);
const rounds = (s) => (s.b?.last_rounds_ms ?? []).map((v) => v.toFixed(0)).join(", ");
console.log(`\n(b) rounds, ms: node-sync ${rounds(peer)}; Keel ${rounds(keel)}.`);
