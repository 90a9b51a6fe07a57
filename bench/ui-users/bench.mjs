// The web app's figures for issue #15 §5, against a running `keel dev` whose database already
// holds the seeded users (bench/ui-users/run.sh does all of that):
//   1. first load of the signed-in dashboard `/`: JS+CSS bytes as served gzipped (< 250 KiB),
//      hashed assets with `Cache-Control: … immutable` and `Content-Encoding: gzip`;
//   2. Users search, keystroke → rendered results (p95 ≤ 100 ms).
//
//   node bench.mjs --url http://127.0.0.1:PORT [--pid KEEL_PID] [--samples 300] [--pause-ms 50]
//                  [--json FILE]
import { writeFileSync } from "node:fs";
import { cpuShares, cpuSnapshot } from "./cpu.mjs";
import { launchBrowser, signInAsAdmin, VIEWPORT } from "./browser.mjs";
import { measureFirstLoad } from "./first_load.mjs";
import { measureSearch, SAMPLE_TIMEOUT_MS } from "./search.mjs";

const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, arg, i, all) => {
    if (arg.startsWith("--")) pairs.push([arg.slice(2), all[i + 1]]);
    return pairs;
  }, []),
);
const url = args.url ?? "http://127.0.0.1:3210";
const samples = Number(args.samples ?? 300);
const pauseMs = Number(args["pause-ms"] ?? 50);
const keelPid = args.pid ? Number(args.pid) : undefined;

const FIRST_LOAD_TARGET_KIB = 250;
const SEARCH_P95_TARGET_MS = 100;

const kib = (bytes) => (bytes / 1024).toFixed(1);
const verdict = (ok) => (ok ? "met" : "NOT MET");
/** Nearest rank, as bench/users-list does. */
function percentile(sorted, p) {
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil(sorted.length * p))) - 1];
}

function reportFirstLoad({ rows, unloaded, indexCacheControl }) {
  console.log("\nFirst load of / (signed in, empty cache): JS and CSS the browser fetched");
  console.log(`${"asset".padEnd(40)} ${"raw KiB".padStart(8)} ${"gzip KiB".padStart(9)} ${"browser".padStart(8)}  encoding  cache-control`);
  for (const r of rows) {
    const name = `${r.path}${r.listed ? "" : " (lazy)"}`;
    console.log(`${name.padEnd(40)} ${kib(r.plainBytes).padStart(8)} ${kib(r.servedBytes).padStart(9)} ${kib(r.browserBytes).padStart(8)}  ${r.encoding.padEnd(8)}  ${r.cacheControl}`);
  }
  if (unloaded.length) console.log(`index.html names assets the browser did not fetch: ${unloaded.join(", ")}`);
  console.log(`index.html: Cache-Control ${indexCacheControl}`);
  const served = rows.reduce((sum, r) => sum + r.servedBytes, 0);
  const browser = rows.reduce((sum, r) => sum + r.browserBytes, 0);
  const hashed = rows.filter((r) => r.path.startsWith("/assets/"));
  const immutable = hashed.every((r) => /\bimmutable\b/.test(r.cacheControl));
  const compressed = rows.every((r) => r.encoding === "gzip" || r.encoding === "br");
  return [
    [`first load JS+CSS, gzip as served (${rows.length} files)`, `${kib(served)} KiB`, `< ${FIRST_LOAD_TARGET_KIB} KiB`, served < FIRST_LOAD_TARGET_KIB * 1024],
    ["first load JS+CSS, encoded bytes Chromium received", `${kib(browser)} KiB`, `< ${FIRST_LOAD_TARGET_KIB} KiB`, browser < FIRST_LOAD_TARGET_KIB * 1024],
    ["hashed assets Cache-Control immutable", `${hashed.filter((r) => /\bimmutable\b/.test(r.cacheControl)).length} of ${hashed.length}`, "all", immutable && hashed.length > 0],
    ["JS+CSS Content-Encoding gzip or br", `${rows.filter((r) => r.encoding !== "identity").length} of ${rows.length}`, "all", compressed],
  ];
}

function reportSearch(results) {
  const timeouts = results.filter((r) => r.timeout).length;
  const ok = results.filter((r) => !r.timeout);
  const stats = (field) => {
    const sorted = ok.map((r) => r[field]).filter(Number.isFinite).sort((a, b) => a - b);
    return { n: sorted.length, p50: percentile(sorted, 0.5), p95: percentile(sorted, 0.95), p99: percentile(sorted, 0.99), max: sorted.at(-1) };
  };
  console.log(`\nUsers search, keystroke → rendered results: ${results.length} keystrokes, ${timeouts} timed out (after ${SAMPLE_TIMEOUT_MS / 1000} s)`);
  console.log(`${"ms from keydown to".padEnd(44)} ${"p50".padStart(7)} ${"p95".padStart(7)} ${"p99".padStart(7)} ${"max".padStart(7)}`);
  const lines = [
    ["table busy (React rendered the new search)", "busy"],
    ["query sent (ModifyQuerySet on the WebSocket)", "sent"],
    ["answer arrived (the server's Transition)", "received"],
    ["matching rows in the DOM (commit)", "commit"],
    ["next animation frame", "frame"],
    ["after that frame's paint", "paint"],
  ];
  for (const [label, field] of lines) {
    const s = stats(field);
    const figures = s.n ? [s.p50, s.p95, s.p99, s.max].map((v) => v.toFixed(1).padStart(7)).join(" ") : "    n/a";
    console.log(`${label.padEnd(44)} ${figures}${s.n < ok.length ? ` (seen in ${s.n})` : ""}`);
  }
  const slowest = [...ok].sort((a, b) => b.paint - a.paint).slice(0, 5);
  console.log(`slowest (to paint): ${slowest.map((r) => `"${r.prefix}" ${r.paint.toFixed(1)} ms (${r.rows} rows)`).join(", ")}`);
  const paint = stats("paint");
  return [
    [`search keystroke → painted results p95 (p50 ${paint.p50.toFixed(1)}, p99 ${paint.p99.toFixed(1)})`, `${paint.p95.toFixed(1)} ms`, `≤ ${SEARCH_P95_TARGET_MS} ms`, paint.p95 <= SEARCH_P95_TARGET_MS && timeouts === 0],
  ];
}

const browser = await launchBrowser();
try {
  const context = await browser.newContext({ viewport: VIEWPORT });
  const page = await context.newPage();
  await signInAsAdmin(page, url, "bench.admin@example.org");
  const firstLoad = await measureFirstLoad(browser, url, await context.storageState());
  const before = cpuSnapshot(keelPid);
  const search = await measureSearch(page, { samples, pauseMs });
  const cpu = cpuShares(before, cpuSnapshot(keelPid));
  const summary = [...reportFirstLoad(firstLoad), ...reportSearch(search)];
  const share = (v) => `${v.toFixed(0)}%`;
  console.log(`CPU during the search, share of all ${cpu.cpus} CPUs: busy ${share(cpu.busy)} = keel ${share(cpu.keel)} + Chromium and this driver ${share(cpu.bench)} + other work ${share(cpu.other)}`);
  console.log(`\n${"figure".padEnd(66)} ${"measured".padStart(10)}  ${"target".padEnd(10)} verdict`);
  for (const [label, value, target, ok] of summary) {
    console.log(`${label.padEnd(66)} ${value.padStart(10)}  ${target.padEnd(10)} ${verdict(ok)}`);
  }
  if (args.json) writeFileSync(args.json, JSON.stringify({ firstLoad, search, cpu }, null, 1));
} finally {
  await browser.close();
}
