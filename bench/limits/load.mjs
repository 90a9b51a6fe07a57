// Load for bench/limits/run.sh (issue #18): what large request bodies cost a running Keel.
// One scenario per run, against a fresh `keel dev` whose pid is given, so the process's peak
// resident memory (VmHWM in /proc/PID/status) belongs to that scenario alone.
//
//   node load.mjs --scenario one|four|held --url http://127.0.0.1:PORT --pid PID [--shape field|args]
//
// one:  one 7.9 MiB body `{"path":…,"args":[0,0,…]}` to /api/query.
// four: 4 senders posting that body back to back for --seconds (10), while one keep-alive
//       connection asks GET /healthz every 20 ms; prints its latencies.
// held: 64 connections each send the headers of that body and all of it but its last byte,
//       then wait; memory is read once all 64 have written, and after --hold-ms (2,000).
import http from "node:http";
import net from "node:net";
import { readFileSync } from "node:fs";

const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, arg, i, all) => {
    if (arg.startsWith("--")) pairs.push([arg.slice(2), all[i + 1]]);
    return pairs;
  }, []),
);
const url = new URL(args.url);
const pid = Number(args.pid);
const seconds = Number(args.seconds ?? 10);
const holdMs = Number(args["hold-ms"] ?? 2000);

// --shape args: `"args":[0,0,…]`, refused once parsed (args must be an object);
// --shape field (the default): `"args":[{"x":[0,0,…]}]`, which reaches the function.
const shape = args.shape ?? "field";
const BODY_BYTES = Math.floor(7.9 * 1024 * 1024);
const head = shape === "args"
  ? '{"path":"users:getCurrentUser","args":['
  : '{"path":"users:getCurrentUser","args":[{"x":[';
const tail = shape === "args" ? '0],"format":"json"}' : '0]}],"format":"json"}';
const zeros = Math.floor((BODY_BYTES - head.length - tail.length) / 2);
const body = Buffer.from(head + "0,".repeat(zeros) + tail);

/** KiB figures from /proc/PID/status. */
function memory() {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const field = (name) => Number(status.match(new RegExp(`^${name}:\\s+(\\d+) kB`, "m"))[1]);
  return { peak: field("VmHWM"), rss: field("VmRSS"), anon: field("RssAnon") };
}
const mib = (kib) => (kib / 1024).toFixed(1);

function post(agent) {
  return new Promise((resolve) => {
    const started = performance.now();
    const request = http.request(
      { host: url.hostname, port: url.port, path: "/api/query", method: "POST", agent,
        headers: { "content-type": "application/json", "content-length": body.length } },
      (response) => {
        let text = "";
        response.on("data", (d) => (text += d));
        response.on("end", () =>
          resolve({ status: response.statusCode, ms: performance.now() - started, text }));
      },
    );
    request.on("error", (err) => resolve({ status: err.code, ms: performance.now() - started, text: "" }));
    request.end(body);
  });
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))];
}

async function one() {
  const before = memory();
  const answer = await post(undefined);
  const after = memory();
  console.log(`one: status ${answer.status} in ${answer.ms.toFixed(0)} ms: ${answer.text.slice(0, 160)}`);
  console.log(`one: peak RSS ${mib(after.peak)} MiB (at start ${mib(before.peak)} MiB), RSS after ${mib(after.rss)} MiB`);
}

async function four() {
  const before = memory();
  const stopAt = performance.now() + seconds * 1000;
  const statuses = {};
  const sender = async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    while (performance.now() < stopAt) {
      const answer = await post(agent);
      statuses[answer.status] = (statuses[answer.status] ?? 0) + 1;
    }
    agent.destroy();
  };
  const latencies = [];
  const prober = async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    while (performance.now() < stopAt) {
      const started = performance.now();
      await new Promise((resolve) => {
        http.get({ host: url.hostname, port: url.port, path: "/healthz", agent }, (response) => {
          response.resume();
          response.on("end", resolve);
        }).on("error", resolve);
      });
      latencies.push(performance.now() - started);
      await new Promise((r) => setTimeout(r, 20));
    }
    agent.destroy();
  };
  await Promise.all([sender(), sender(), sender(), sender(), prober()]);
  const after = memory();
  latencies.sort((a, b) => a - b);
  console.log(`four: ${seconds} s, answers by status ${JSON.stringify(statuses)}`);
  console.log(`four: /healthz ${latencies.length} probes, median ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms, max ${latencies.at(-1).toFixed(1)} ms`);
  console.log(`four: peak RSS ${mib(after.peak)} MiB (at start ${mib(before.peak)} MiB), RSS after ${mib(after.rss)} MiB`);
}

async function held() {
  const before = memory();
  const count = 64;
  const partial = body.subarray(0, body.length - 1);
  const sockets = [];
  const answers = {};
  await Promise.all(
    Array.from({ length: count }, () => new Promise((resolve) => {
      const socket = net.connect(Number(url.port), url.hostname, () => {
        socket.write(`POST /api/query HTTP/1.1\r\nhost: ${url.host}\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n`);
        socket.write(partial, resolve);
      });
      let text = "";
      socket.on("data", (d) => {
        text += d;
        const status = text.match(/^HTTP\/1\.1 (\d+)/)?.[1];
        if (status) answers[status] = (answers[status] ?? 0) + 1;
      });
      socket.on("error", () => resolve());
      sockets.push(socket);
    })),
  );
  const written = memory();
  await new Promise((r) => setTimeout(r, holdMs));
  const later = memory();
  for (const socket of sockets) socket.destroy();
  console.log(`held: ${count} connections each wrote ${(partial.length / 1048576).toFixed(2)} MiB of a ${(body.length / 1048576).toFixed(2)} MiB body; answers before closing ${JSON.stringify(answers)}`);
  console.log(`held: RSS once written ${mib(written.rss)} MiB, ${holdMs} ms later ${mib(later.rss)} MiB; peak RSS ${mib(later.peak)} MiB (at start ${mib(before.peak)} MiB)`);
}

const scenarios = { one, four, held };
if (!scenarios[args.scenario]) {
  console.error("--scenario one|four|held");
  process.exit(2);
}
await scenarios[args.scenario]();
