// Keel stopped (SIGTERM) and started again on the same address and data: the official client
// reconnects by itself, its subscription delivers again, its pending mutations complete, and
// no mutation is applied twice, including one that committed while its answer was lost.
import { test, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import WebSocket from "ws";
import { ConvexClient, ConvexHttpClient } from "convex/browser";
import { anyApi as api } from "convex/server";
import { startKeel } from "../lib/keel.mjs";
import { sleep, waitFor, within, recordingWebSocket, describeFrames } from "../lib/util.mjs";

let keel;
before(async () => {
  keel = await startKeel();
});
after(async () => {
  await keel.stop();
});
const open = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

/** Stops Keel and brings it back on the same address, data folder and emulator key. */
async function restart() {
  const { listen } = keel;
  keel = await keel.restart();
  assert.equal(keel.listen, listen, "same address");
}

/** A live client with a long-lived token, and its view of the caller's chats. */
async function liveClient(userId) {
  const frames = [];
  const client = new ConvexClient(keel.url, { webSocketConstructor: recordingWebSocket(frames), logger: false });
  open.push(client);
  const token = await keel.token(userId, "convex", 600);
  client.setAuth(async () => token);
  const view = { client, frames, values: [], errors: [] };
  client.onUpdate(api.chats.listUserChats, {}, (v) => view.values.push(v), (e) => view.errors.push(e));
  await waitFor(() => view.values.length > 0, { message: "the first result" });
  view.latest = () => view.values.at(-1);
  return view;
}

/** Titles of the user's chats, read over HTTP (a fresh token each time: Keel may have restarted). */
async function titles(userId) {
  const http = new ConvexHttpClient(keel.url);
  http.setAuth(await keel.token(userId));
  return (await http.query(api.chats.listUserChats, {})).map((c) => c.title);
}

const count = (list, title) => list.filter((t) => t === title).length;

test("after a restart the client reconnects, the subscription delivers again, and a mutation queued while down applies once", async () => {
  const { user } = await keel.user("restart@example.com");
  const view = await liveClient(user.id);
  const first = await view.client.mutation(api.chats.createUserChat, { title: "before restart" });
  await waitFor(() => view.latest().some((c) => c._id === first), { message: "the first chat" });
  const connectionsBefore = view.client.connectionState().connectionCount;

  const { listen, dir, secretKey } = keel;
  await keel.stop({ keepData: true });
  // Made while Keel is down: the client holds it and sends it once it has reconnected.
  let settled = false;
  const whileDown = view.client.mutation(api.chats.createUserChat, { title: "while down" });
  whileDown.then(() => (settled = true), () => (settled = true));
  await sleep(500);
  assert.equal(settled, false, "nothing can answer while Keel is down");
  keel = await startKeel({ listen, dataDir: dir, secretKey });

  const id = await within(whileDown, 20000, () => `the pending mutation\n${describeFrames(view.frames, { limit: 15 })}`);
  assert.equal(typeof id, "string");
  await waitFor(() => view.latest().some((c) => c._id === id), {
    timeoutMs: 10000,
    message: () => `the subscription to show the new chat\n${describeFrames(view.frames, { limit: 15 })}`,
  });
  assert.deepEqual(view.latest().map((c) => c.title), ["while down", "before restart"]);
  assert.ok(view.client.connectionState().connectionCount > connectionsBefore, "it reconnected by itself");
  assert.ok(view.client.connectionState().isWebSocketConnected);
  assert.deepEqual(view.errors, []);

  // The subscription is live again on the new process: another client's write reaches it.
  const other = new ConvexHttpClient(keel.url);
  other.setAuth(await keel.token(user.id));
  const third = await other.mutation(api.chats.createUserChat, { title: "after restart" });
  await waitFor(() => view.latest().some((c) => c._id === third), { message: "a write made after the restart" });
  assert.deepEqual(await titles(user.id), ["after restart", "while down", "before restart"]);
});

test("SIGTERM while mutations are in flight: every pending mutation completes, each applied exactly once", async (t) => {
  const { user } = await keel.user("in-flight@example.com");
  const view = await liveClient(user.id);
  const expected = [];
  // Stop Keel at slightly different moments after sending, so some mutations commit before the
  // process ends (their answer lost) and others never reach it.
  for (const [round, delayMs] of [0, 2, 5, 10].entries()) {
    const title = `round ${round}`;
    const pending = view.client.mutation(api.chats.createUserChat, { title });
    await sleep(delayMs);
    const framesBefore = view.frames.length;
    await restart();
    const id = await within(pending, 20000, () => `${title}\n${describeFrames(view.frames, { limit: 15 })}`);
    expected.push({ id, title });
    const sends = view.frames.filter((f) => f.dir === "out" && f.data.type === "Mutation" && f.data.args[0].title === title);
    const answeredBefore = view.frames
      .slice(0, framesBefore)
      .some((f) => f.dir === "in" && f.data.type === "MutationResponse" && f.data.requestId === sends[0].data.requestId);
    t.diagnostic(`${title}: sent ${sends.length} time(s); answered before the stop: ${answeredBefore}`);
  }
  const all = await titles(user.id);
  for (const { title } of expected) assert.equal(count(all, title), 1, `${title} applied once: ${JSON.stringify(all)}`);
  assert.equal(all.length, expected.length);
  await waitFor(() => view.latest().length === expected.length, { message: "the subscription to show every chat" });
  assert.deepEqual(
    view.latest().map((c) => c._id),
    expected.map((e) => e.id).reverse(),
    "each promise resolved with the id of the one chat it created",
  );
  assert.deepEqual(view.errors, []);
});

/** A raw sync-protocol connection: send messages, await the next one matching a predicate. */
async function rawSession(url) {
  const ws = new WebSocket(`${url.replace("http", "ws")}/api/1.48.0/sync`);
  const inbox = [];
  const waiters = [];
  ws.on("message", (data) => {
    inbox.push(JSON.parse(String(data)));
    for (const w of [...waiters]) w();
  });
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  return {
    inbox,
    send: (message) => ws.send(JSON.stringify(message)),
    next(predicate, timeoutMs = 10000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = inbox.find(predicate);
          if (!found) return false;
          waiters.splice(waiters.indexOf(check), 1);
          clearTimeout(timer);
          resolve(found);
          return true;
        };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(check), 1);
          reject(new Error(`no matching message; got ${JSON.stringify(inbox)}`));
        }, timeoutMs);
        waiters.push(check);
        check();
      });
    },
    close: () =>
      new Promise((resolve) => {
        if (ws.readyState === WebSocket.CLOSED) return resolve();
        ws.once("close", resolve);
        ws.close();
      }),
  };
}

const tsValue = (b64) => Buffer.from(b64, "base64").readBigUInt64LE();

test("raw protocol: a mutation re-sent with the same sessionId and requestId after a restart is answered, not re-run", async () => {
  const { user } = await keel.user("replay@example.com");
  const token = await keel.token(user.id, "convex", 600);
  const sessionId = randomUUID();
  const mutation = { type: "Mutation", requestId: 0, udfPath: "chats:createUserChat", args: [{ title: "exactly once" }] };

  const first = await rawSession(keel.url);
  first.send({ type: "Connect", sessionId, connectionCount: 0, lastCloseReason: "InitialConnect", clientTs: Date.now() });
  first.send({ type: "Authenticate", baseVersion: 0, tokenType: "User", value: token });
  first.send({ type: "ModifyQuerySet", baseVersion: 0, newVersion: 1, modifications: [] });
  first.send(mutation);
  const answer = await first.next((m) => m.type === "MutationResponse");
  assert.equal(answer.success, true, JSON.stringify(answer));
  assert.equal(answer.requestId, 0);
  assert.equal(typeof answer.result, "string");
  await first.close();

  await restart();

  // The client did not see that answer: it reconnects with the same session and re-sends.
  const second = await rawSession(keel.url);
  second.send({ type: "Connect", sessionId, connectionCount: 1, lastCloseReason: null, maxObservedTimestamp: answer.ts, clientTs: Date.now() });
  second.send({ type: "Authenticate", baseVersion: 0, tokenType: "User", value: token });
  second.send({ type: "ModifyQuerySet", baseVersion: 0, newVersion: 1, modifications: [] });
  second.send(mutation);
  const replay = await second.next((m) => m.type === "MutationResponse");
  assert.equal(replay.success, true, JSON.stringify(replay));
  assert.equal(replay.requestId, 0);
  assert.equal(replay.result, answer.result, "the same answer: the id of the chat created the first time");
  assert.ok(tsValue(replay.ts) >= tsValue(answer.ts), "timestamps never go backwards across the restart");
  // Read-your-writes holds for the replayed answer too: a transition reaches its ts.
  await second.next((m) => m.type === "Transition" && tsValue(m.endVersion.ts) >= tsValue(replay.ts));
  assert.ok(!second.inbox.some((m) => m.type === "FatalError" || m.type === "AuthError"), JSON.stringify(second.inbox));
  await second.close();
  assert.deepEqual(await titles(user.id), ["exactly once"], "created once");

  // The same requestId in another session is another mutation.
  const other = await rawSession(keel.url);
  other.send({ type: "Connect", sessionId: randomUUID(), connectionCount: 0, lastCloseReason: "InitialConnect", clientTs: Date.now() });
  other.send({ type: "Authenticate", baseVersion: 0, tokenType: "User", value: token });
  other.send(mutation);
  const fresh = await other.next((m) => m.type === "MutationResponse");
  assert.equal(fresh.success, true);
  assert.notEqual(fresh.result, answer.result);
  await other.close();
  assert.deepEqual(await titles(user.id), ["exactly once", "exactly once"]);
});
