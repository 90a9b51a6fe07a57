// The official ConvexHttpClient against Keel: the product brief's calls, isolation between
// users, int64 arguments and ConvexError data.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { ConvexHttpClient } from "convex/browser";
import { ConvexError } from "convex/values";
import { anyApi } from "convex/server";
import { startKeel } from "../lib/keel.mjs";

const api = anyApi;
let keel;
before(async () => {
  keel = await startKeel();
});
after(async () => {
  await keel.stop();
});

test("a signed-in user stores a profile and creates and lists chats", async () => {
  const { user, token } = await keel.user("Ada@Example.com");
  const client = new ConvexHttpClient(keel.url);
  client.setAuth(token);

  const id = await client.mutation(api.users.store, {});
  assert.equal(typeof id, "string");
  assert.equal(await client.mutation(api.users.store, {}), id, "one record per user");

  const me = await client.query(api.users.getCurrentUser, {});
  assert.equal(me._id, id);
  assert.equal(me.clerkUserId, user.id);
  assert.equal(me.email, "ada@example.com");
  assert.equal(me.firstName, "Node");
  assert.equal(typeof me._creationTime, "number");

  const first = await client.mutation(api.chats.createUserChat, { title: "First chat" });
  const second = await client.mutation(api.chats.createUserChat, { title: "Second chat" });
  const chats = await client.query(api.chats.listUserChats, {});
  assert.deepEqual(chats.map((c) => c._id), [second, first], "newest first");
  assert.ok(chats.every((c) => c.userId === user.id));
});

test("int64 arguments arrive as integers and pages follow Convex's shape", async () => {
  const { token } = await keel.user("pages@example.com");
  const client = new ConvexHttpClient(keel.url);
  client.setAuth(token);
  for (const title of ["a", "b", "c"]) await client.mutation(api.chats.createUserChat, { title });
  const page = await client.query(api.chats.listUserChats, { paginationOpts: { numItems: 2n, cursor: null } });
  assert.deepEqual(page.page.map((c) => c.title), ["c", "b"]);
  assert.equal(page.isDone, false);
  const rest = await client.query(api.chats.listUserChats, { paginationOpts: { numItems: 2, cursor: page.continueCursor } });
  assert.deepEqual(rest.page.map((c) => c.title), ["a"]);
  assert.equal(rest.isDone, true);
});

test("a second user sees none of the first user's chats and cannot change them", async () => {
  const alice = new ConvexHttpClient(keel.url);
  alice.setAuth((await keel.user("alice@example.com")).token);
  const bob = new ConvexHttpClient(keel.url);
  bob.setAuth((await keel.user("bob@example.com")).token);

  const chat = await alice.mutation(api.chats.createUserChat, { title: "alice only" });
  assert.deepEqual(await bob.query(api.chats.listUserChats, {}), []);
  for (const [kind, fn, args] of [
    ["query", api.chats.get, { id: chat }],
    ["mutation", api.chats.update, { id: chat, title: "mine now" }],
    ["mutation", api.chats.remove, { id: chat }],
  ]) {
    await assert.rejects(bob[kind](fn, args), (e) => {
      assert.ok(e instanceof ConvexError, `${e}`);
      assert.deepEqual(e.data, { code: "NOT_FOUND", message: `Chat with ID ${chat} not found` });
      return true;
    });
  }
  assert.equal((await alice.query(api.chats.get, { id: chat })).title, "alice only");
});

test("function errors reach the client as ConvexError data; unknown functions as plain errors", async () => {
  const client = new ConvexHttpClient(keel.url);
  await assert.rejects(client.query(api.chats.listUserChats, {}), (e) => {
    assert.ok(e instanceof ConvexError);
    assert.deepEqual(e.data, { code: "UNAUTHENTICATED", message: "Not authenticated" });
    return true;
  });
  assert.equal(await client.query(api.users.getCurrentUser, {}), null, "signed out reads null");

  client.setAuth((await keel.user("errors@example.com")).token);
  await assert.rejects(client.mutation(api.chats.createUserChat, { title: "" }), (e) => {
    assert.ok(e instanceof ConvexError);
    assert.equal(e.data.code, "INVALID_ARGUMENT");
    assert.match(e.data.message, /title/);
    return true;
  });
  await assert.rejects(client.query(api.chats.nothingHere, {}), (e) => {
    assert.ok(!(e instanceof ConvexError));
    assert.match(e.message, /chats:nothingHere/);
    return true;
  });
});

test("a forged token is refused with Convex's error code", async () => {
  const { token } = await keel.user("forger@example.com");
  const [h, p] = token.split(".");
  const claims = JSON.parse(Buffer.from(p, "base64url"));
  claims.sub = "user_someone_else";
  const forged = [h, Buffer.from(JSON.stringify(claims)).toString("base64url"), token.split(".")[2]].join(".");
  const client = new ConvexHttpClient(keel.url);
  client.setAuth(forged);
  await assert.rejects(client.query(api.users.getCurrentUser, {}), /Unauthenticated/);
});
