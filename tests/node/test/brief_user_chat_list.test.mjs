// The product brief's `UserChatList` as it calls Keel: first
// `syncProfile({ email, firstName, lastName, imageUrl })` with the values Clerk's `useUser()`
// gives, then the chat list. Both official clients, with the brief's exact call.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { ConvexClient, ConvexHttpClient } from "convex/browser";
import { anyApi as api } from "convex/server";
import { startKeel } from "../lib/keel.mjs";

let keel;
before(async () => {
  keel = await startKeel();
});
after(async () => {
  await keel.stop();
});

/** What `useUser()` exposes for the profile, from the Clerk user. */
function profileOf(user) {
  const primary = user.emailAddresses.find((e) => e.id === user.primaryEmailAddressId);
  return {
    email: primary?.emailAddress,
    firstName: user.firstName,
    lastName: user.lastName,
    imageUrl: user.imageUrl,
  };
}

test("ConvexHttpClient: syncUserProfile with the brief's arguments, then list chats", async () => {
  const { user, token } = await keel.user("brief-http@example.com");
  const client = new ConvexHttpClient(keel.url);
  client.setAuth(token);
  const { email, firstName, lastName, imageUrl } = profileOf(user);
  const id = await client.mutation(api.users.syncUserProfile, { email, firstName, lastName, imageUrl });
  assert.equal(typeof id, "string");
  assert.deepEqual(await client.query(api.chats.listUserChats, {}), []);
  const me = await client.query(api.users.getCurrentUser, {});
  assert.equal(me._id, id);
  assert.equal(me.email, "brief-http@example.com");

  // A spoofed address is accepted as an argument but never stored.
  await client.mutation(api.users.syncUserProfile, { email: "someone-else@example.com", firstName, lastName, imageUrl });
  assert.equal((await client.query(api.users.getCurrentUser, {})).email, "brief-http@example.com");
});

test("ConvexClient: syncUserProfile with the brief's arguments (a null last name), then list chats", async () => {
  const { user } = await keel.user("brief-ws@example.com", { lastName: undefined });
  const client = new ConvexClient(keel.url);
  client.setAuth(() => keel.token(user.id));
  const { email, firstName, lastName, imageUrl } = profileOf(user);
  assert.equal(lastName, null, "the brief passes Clerk's null as is");
  const id = await client.mutation(api.users.syncUserProfile, { email, firstName, lastName, imageUrl });
  assert.equal(typeof id, "string");
  assert.deepEqual(await client.query(api.chats.listUserChats, {}), []);
  await client.mutation(api.chats.createUserChat, { title: "after sync" });
  const chats = await client.query(api.chats.listUserChats, {});
  assert.deepEqual(chats.map((c) => c.title), ["after sync"]);
  await client.close();
});
