// Small helpers shared by the live-query tests: waiting, JWT claims, and a `ws` WebSocket
// that records every frame (to show exactly what the client sent and what Keel answered).
import WebSocket from "ws";

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Polls `predicate` until it returns a truthy value (which is returned), or fails after
 * `timeoutMs` with `message` (a string or a function giving one, for the current state).
 */
export async function waitFor(predicate, { timeoutMs = 10000, intervalMs = 20, message = "condition", tick } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await predicate();
    if (value) return value;
    if (Date.now() > deadline) {
      const text = typeof message === "function" ? message() : message;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${text}`);
    }
    if (tick) await tick(intervalMs);
    else await sleep(intervalMs);
  }
}

/** The claims of a JWT, unverified. */
export function claims(jwt) {
  return JSON.parse(Buffer.from(jwt.split(".")[1], "base64url"));
}

/**
 * A `ws` WebSocket class for `webSocketConstructor` that appends every frame to `log` as
 * `{dir: "out"|"in"|"close", at, data}` with `data` parsed from JSON.
 */
export function recordingWebSocket(log) {
  return class RecordingWebSocket extends WebSocket {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (event) => log.push({ dir: "in", at: Date.now(), data: parse(event.data) }));
      this.addEventListener("close", (event) => log.push({ dir: "close", at: Date.now(), data: { code: event.code, reason: event.reason } }));
    }
    send(data, ...rest) {
      log.push({ dir: "out", at: Date.now(), data: parse(data) });
      return super.send(data, ...rest);
    }
  };
}

function parse(data) {
  try {
    return JSON.parse(String(data));
  } catch {
    return String(data);
  }
}

/** A frame log as short lines, tokens elided, for failure messages and reports. */
export function describeFrames(log, { limit = 60 } = {}) {
  return log
    .slice(-limit)
    .map(({ dir, data }) => `${dir === "out" ? "→" : dir === "in" ? "←" : "×"} ${JSON.stringify(data, (k, v) => (k === "value" && typeof v === "string" && v.split(".").length === 3 ? "<jwt>" : v))}`)
    .join("\n");
}

/** `promise`, or a failure after `ms` (with `message`, a string or a function giving one). */
export async function within(promise, ms, message = "promise") {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${typeof message === "function" ? message() : message}`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}
