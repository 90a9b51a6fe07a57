// The last message before Keel closes a sync connection (an AuthError, a FatalError) reaches a
// client that is still sending. Closing a socket with unread data makes the kernel reset it,
// and `ws` (what the official client uses in Node) then drops what it had not read yet; Keel
// sends a close frame and reads until the client's own before closing.
import { test, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { ConvexClient } from "convex/browser";
import { anyApi as api } from "convex/server";
import { startKeel } from "../lib/keel.mjs";
import { sleep, waitFor, recordingWebSocket, describeFrames } from "../lib/util.mjs";

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

/** Sends `messages` at once on a new sync socket; resolves with what came back and the close. */
function burst(messages) {
  return new Promise((resolve) => {
    const socket = new WebSocket(`${keel.url.replace("http", "ws")}/api/1.48.0/sync`);
    const received = [];
    const errors = [];
    socket.on("open", () => {
      for (const message of messages) socket.send(JSON.stringify(message));
    });
    socket.on("message", (data) => received.push(JSON.parse(String(data))));
    socket.on("error", (error) => errors.push(error.code ?? String(error)));
    socket.on("close", (code, reason) => resolve({ received, errors, code, reason: String(reason) }));
  });
}

const mutation = (requestId) => ({ type: "Mutation", requestId, udfPath: "chats:createUserChat", args: [{ title: `m${requestId}` }] });

test("the official client's reconnect order with an expired token gets its AuthError", async () => {
  const { user } = await keel.user("reconnect-expired@example.com");
  const expired = await keel.token(user.id, "convex", 1);
  await sleep(6500); // 1 s lifetime + Keel's 5 s clock skew
  // What ConvexClient sends on reconnecting: Connect, its query set, its (now expired) token,
  // then every mutation still waiting for an answer.
  const order = [
    { type: "Connect", sessionId: "reconnecting", connectionCount: 1, lastCloseReason: "transient", maxObservedTimestamp: null, clientTs: Date.now() },
    { type: "ModifyQuerySet", baseVersion: 0, newVersion: 1, modifications: [{ type: "Add", queryId: 0, udfPath: "chats:listUserChats", args: [{}] }] },
    { type: "Authenticate", baseVersion: 0, tokenType: "User", value: expired },
    mutation(1),
    mutation(2),
    mutation(3),
  ];
  for (let round = 0; round < 20; round++) {
    const { received, errors, code } = await burst(order);
    const authError = received.find((m) => m.type === "AuthError");
    assert.ok(authError, `round ${round}: no AuthError (close ${code}, errors ${errors}): ${JSON.stringify(received)}`);
    assert.equal(authError.authUpdateAttempted, true);
    assert.match(authError.error, /expired/i);
    assert.equal(code, 1000, `round ${round}: a clean close, not a reset (${errors})`);
    assert.ok(!received.some((m) => m.type === "MutationResponse"), "no mutation ran on the expired token");
  }
});

test("a FatalError reaches a client that pipelined more messages", async () => {
  const filler = { type: "Event", eventType: "x", event: "x".repeat(16 * 1024) };
  for (let round = 0; round < 20; round++) {
    const { received, errors, code, reason } = await burst([
      { type: "Connect", sessionId: `fatal-${round}`, connectionCount: 0, lastCloseReason: "InitialConnect", clientTs: 0 },
      { type: "ModifyQuerySet", baseVersion: 5, newVersion: 6, modifications: [] },
      ...Array.from({ length: 40 }, () => filler),
    ]);
    const fatal = received.find((m) => m.type === "FatalError");
    assert.ok(fatal, `round ${round}: no FatalError (close ${code}, errors ${errors})`);
    assert.match(fatal.error, /base version 5/);
    assert.equal(code, 1000);
    assert.equal(reason, "FatalError");
  }
});

test("ConvexClient through a token that expires while mutations are pending: every mutation lands once", async () => {
  const { user } = await keel.user("pending-expiry@example.com");
  const session = await keel.clerk.sessions.createSession({ userId: user.id });
  const fetches = [];
  const fetchToken = async ({ forceRefreshToken }) => {
    fetches.push({ forceRefreshToken, at: Date.now() });
    const { jwt } = await keel.clerk.sessions.getToken(session.id, "convex", 2);
    return jwt;
  };
  const frames = [];
  // A leeway of -30 s: the client never refreshes early, so Keel is the one to notice `exp`.
  const client = new ConvexClient(keel.url, { webSocketConstructor: recordingWebSocket(frames), logger: false, authRefreshTokenLeewaySeconds: -30 });
  open.push(client);
  client.setAuth(fetchToken);
  await client.mutation(api.users.store, {});

  // Mutations keep going out, unanswered ones piling up, through the expiry (2 s + 5 s skew).
  const pending = [];
  const until = Date.now() + 9000;
  while (Date.now() < until) {
    pending.push(client.mutation(api.chats.createUserChat, { title: `p${pending.length}` }));
    await sleep(25);
  }
  const ids = await waitFor(async () => {
    const settled = await Promise.race([Promise.all(pending), sleep(15000).then(() => null)]);
    return settled;
  }, { timeoutMs: 20000, message: () => `every pending mutation to resolve\n${describeFrames(frames, { limit: 20 })}` });
  assert.equal(new Set(ids).size, pending.length);
  const authErrors = frames.filter((f) => f.dir === "in" && f.data.type === "AuthError");
  assert.ok(authErrors.length > 0, "Keel reported the expired identity");
  assert.ok(fetches.some((f) => f.forceRefreshToken && f.at >= authErrors[0].at), "the client fetched a fresh token after the AuthError");

  // Each mutation was applied exactly once.
  const chats = await client.query(api.chats.listUserChats, {});
  assert.equal(chats.length, pending.length);
});
