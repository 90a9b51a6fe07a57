// Function logs (`ctx.log` in Rust) printed by the official clients as they print Convex's:
// `[CONVEX Q(notes:list)] [LOG] …` in the console, over HTTP (ConvexHttpClient) and over the
// WebSocket (ConvexClient), for queries and mutations. Runs examples/notes, whose functions log.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { ConvexClient, ConvexHttpClient } from "convex/browser";
import { anyApi as api } from "convex/server";
import { startKeel, KEEL_NOTES_BIN } from "../lib/keel.mjs";

let keel;
before(async () => {
  keel = await startKeel({ bin: KEEL_NOTES_BIN });
});
after(async () => {
  await keel.stop();
});

/** Runs `body` with console.log captured; returns each call's arguments joined by spaces. */
async function captureConsole(body) {
  const printed = [];
  const original = console.log;
  console.log = (...args) => printed.push(args.join(" "));
  try {
    await body(printed);
  } finally {
    console.log = original;
  }
  return printed;
}

/** Waits until `predicate` holds for what was printed so far. */
async function until(printed, predicate) {
  const deadline = Date.now() + 10000;
  while (!predicate(printed)) {
    if (Date.now() > deadline) throw new Error(`not printed within 10 s: ${JSON.stringify(printed)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test("ConvexHttpClient prints a function's log lines with Convex's prefix", async () => {
  const { token } = await keel.user("http-logs@example.com");
  const client = new ConvexHttpClient(keel.url);
  client.setAuth(token);
  const printed = await captureConsole(async () => {
    await client.mutation(api.notes.add, { text: "first" });
    await client.query(api.notes.list, {});
  });
  // The client prints `%c[CONVEX M(notes:add)] [INFO]` with a colour and the message.
  assert.ok(
    printed.some((line) => line.includes("[CONVEX M(notes:add)] [INFO]") && line.endsWith("added a note of 5 characters")),
    JSON.stringify(printed),
  );
  assert.ok(
    printed.some((line) => line.includes("[CONVEX Q(notes:list)] [LOG]") && line.endsWith("1 notes")),
    JSON.stringify(printed),
  );
});

test("ConvexClient prints log lines of live queries and mutations over the WebSocket", async () => {
  const { user } = await keel.user("ws-logs@example.com");
  const client = new ConvexClient(keel.url);
  client.setAuth(async () => keel.token(user.id).catch(() => null));
  const printed = await captureConsole(async (printed) => {
    const unsubscribe = client.onUpdate(api.notes.list, {}, () => {});
    await until(printed, (p) => p.some((line) => line.includes("[CONVEX Q(notes:list)] [LOG]") && line.endsWith("0 notes")));
    await client.mutation(api.notes.add, { text: "over ws" });
    await until(printed, (p) => p.some((line) => line.includes("[CONVEX M(notes:add)] [INFO]")));
    // The commit re-runs the live query; its new result comes with the new run's line.
    await until(printed, (p) => p.some((line) => line.includes("[CONVEX Q(notes:list)] [LOG]") && line.endsWith("1 notes")));
    unsubscribe();
  });
  await client.close();
  assert.ok(printed.some((line) => line.endsWith("added a note of 7 characters")), JSON.stringify(printed));
});
