// Node's own `http` client posting a body over KEEL_MAX_BODY_BYTES while it is still sending:
// it must get the 413 answer, not EPIPE/ECONNRESET (issue #18).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { startKeel } from "../lib/keel.mjs";

let keel;
before(async () => {
  keel = await startKeel({ env: { KEEL_MAX_BODY_BYTES: "1024" } });
});
after(async () => {
  await keel.stop();
});

test("a client still sending an oversized body reads its 413", async () => {
  const url = new URL(keel.url);
  const total = 24 * 1024 * 1024;
  const piece = Buffer.alloc(64 * 1024, "x");
  const request = http.request({
    host: url.hostname,
    port: url.port,
    path: "/api/mutation",
    method: "POST",
    headers: { "content-type": "application/json", "content-length": total },
  });
  const answer = new Promise((resolve, reject) => {
    request.on("error", (err) => reject(new Error(`the request failed before its answer: ${err.code ?? err}`)));
    request.on("response", (response) => {
      let text = "";
      response.setEncoding("utf8");
      response.on("data", (d) => (text += d));
      response.on("end", () => resolve({ status: response.statusCode, text }));
    });
  });
  // Writes the whole body as fast as the socket takes it, as an upload does.
  (async () => {
    for (let sent = 0; sent < total && !request.destroyed; sent += piece.length) {
      if (!request.write(piece)) await new Promise((r) => request.once("drain", r));
    }
    request.end();
  })().catch(() => {});
  const { status, text } = await answer;
  request.destroy();
  assert.equal(status, 413, text);
  assert.equal(JSON.parse(text).code, "PayloadTooLarge");
});
