// The official ConvexClient over the WebSocket sync protocol: live queries, mutations that
// resolve only once their write is visible, isolation between users, auth errors.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { ConvexClient } from "convex/browser";
import { ConvexError } from "convex/values";
import { anyApi as api } from "convex/server";
import { startKeel } from "../lib/keel.mjs";

let keel;
before(async () => {
  keel = await startKeel();
});
after(async () => {
  await keel.stop();
});

/** Resolves with the first value `predicate` accepts from a subscription. */
function nextValue(client, query, args, predicate) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no matching update within 10 s")), 10000);
    const unsubscribe = client.onUpdate(query, args, (value) => {
      if (predicate(value)) {
        clearTimeout(timer);
        unsubscribe();
        resolve(value);
      }
    }, reject);
  });
}

function authedClient(userId) {
  const client = new ConvexClient(keel.url);
  let fetches = 0;
  client.setAuth(async () => {
    fetches++;
    // The client refetches a token right after the server accepts the first one; a test that
    // closes it first leaves that fetch to fail once Keel stops. A fetcher answers null then,
    // as Convex asks of token fetchers, instead of an unhandled rejection.
    return keel.token(userId).catch(() => null);
  });
  return { client, fetches: () => fetches };
}

test("a subscribed list updates live, and a mutation resolves after its write is visible", async () => {
  const { user } = await keel.user("live@example.com");
  const { client } = authedClient(user.id);
  const updates = [];
  const unsubscribe = client.onUpdate(api.chats.listUserChats, {}, (chats) => updates.push(chats));
  await nextValue(client, api.chats.listUserChats, {}, (v) => Array.isArray(v) && v.length === 0);

  const id = await client.mutation(api.chats.createUserChat, { title: "live one" });
  // Read-your-writes: once the promise resolves, the client's local result includes it.
  const local = client.client.localQueryResult("chats:listUserChats", {});
  assert.deepEqual(local.map((c) => c._id), [id]);
  await nextValue(client, api.chats.listUserChats, {}, (v) => v.length === 1);
  assert.equal(updates.at(-1)[0].title, "live one");
  unsubscribe();
  await client.close();
});

test("users are isolated: a write to one user's chats never reaches the other's subscription", async () => {
  const a = await keel.user("iso-a@example.com");
  const b = await keel.user("iso-b@example.com");
  const alice = authedClient(a.user.id).client;
  const bob = authedClient(b.user.id).client;
  const bobUpdates = [];
  bob.onUpdate(api.chats.listUserChats, {}, (v) => bobUpdates.push(v));
  await nextValue(bob, api.chats.listUserChats, {}, (v) => Array.isArray(v));
  await nextValue(alice, api.chats.listUserChats, {}, (v) => Array.isArray(v));
  const before = bobUpdates.length;
  await alice.mutation(api.chats.createUserChat, { title: "alice private" });
  await nextValue(alice, api.chats.listUserChats, {}, (v) => v.length === 1);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(bobUpdates.length, before, "bob got no update");
  assert.deepEqual(bobUpdates.at(-1), []);
  await alice.close();
  await bob.close();
});

test("errors: ConvexError data from mutations and queries; actions answer", async () => {
  const { user } = await keel.user("ws-errors@example.com");
  const { client } = authedClient(user.id);
  await assert.rejects(client.mutation(api.chats.createUserChat, { title: "" }), (e) => {
    assert.ok(e instanceof ConvexError, String(e));
    assert.equal(e.data.code, "INVALID_ARGUMENT");
    return true;
  });
  // Actions answer over the socket too, with ConvexError data.
  await assert.rejects(client.action(api.organizations.update, { clerkOrgId: "org_missing", name: "x" }), (e) => {
    assert.ok(e instanceof ConvexError, String(e));
    assert.equal(e.data.code, "FORBIDDEN", "not an admin of that organization");
    return true;
  });
  const signedOut = new ConvexClient(keel.url);
  const failure = await new Promise((resolve) => {
    signedOut.onUpdate(api.chats.listUserChats, {}, () => {}, resolve);
  });
  assert.ok(failure instanceof ConvexError, String(failure));
  assert.deepEqual(failure.data, { code: "UNAUTHENTICATED", message: "Not authenticated" });
  await client.close();
  await signedOut.close();
});
