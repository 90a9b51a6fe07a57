// Webhooks signed by the real `svix` package: what Clerk's deliveries look like on the wire.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { Webhook } from "svix";
import { ConvexHttpClient } from "convex/browser";
import { anyApi as api } from "convex/server";
import { startKeel } from "../lib/keel.mjs";

const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const reference = (name) => JSON.parse(readFileSync(new URL(`../../../../shared/reference/clerk/${name}`, import.meta.url)));

let keel;
before(async () => {
  // The emulator's own deliveries go nowhere: this test signs and sends every webhook itself.
  keel = await startKeel({ env: { CLERK_WEBHOOK_SECRET: SECRET, KEEL_EMULATOR_WEBHOOK_URL: "http://127.0.0.1:9/nowhere" } });
});
after(async () => {
  await keel.stop();
});

let counter = 0;
async function deliver(event, { secret = SECRET, id = `msg_node_${++counter}`, body, timestamp = new Date() } = {}) {
  const payload = body ?? JSON.stringify(event);
  const headers = {
    "svix-id": id,
    "svix-timestamp": Math.floor(timestamp.getTime() / 1000).toString(),
    "svix-signature": new Webhook(secret).sign(id, timestamp, payload),
  };
  const response = await fetch(`${keel.url}/clerk-webhook`, { method: "POST", headers: { ...headers, "content-type": "application/json" }, body: payload });
  return { status: response.status, body: await response.json() };
}

test("svix-signed user events sync the users table; the user's token then finds the record", async () => {
  const { user, token } = await keel.user("svix@example.com");
  const event = reference("user.created.json");
  event.data.id = user.id;
  event.data.first_name = "FromWebhook";
  event.data.email_addresses[0].email_address = "svix@example.com";
  const first = await deliver(event, { id: "msg_fixed" });
  assert.deepEqual(first, { status: 200, body: { status: "applied" } });
  assert.deepEqual(await deliver(event, { id: "msg_fixed" }), { status: 200, body: { status: "duplicate" } });

  const client = new ConvexHttpClient(keel.url);
  client.setAuth(token);
  const me = await client.query(api.users.getCurrentUser, {});
  assert.equal(me.firstName, "FromWebhook");
  assert.equal(me.source, "webhook");
});

test("a re-serialized body, a wrong secret and an old timestamp are refused with 400", async () => {
  const event = reference("user.updated.json");
  const id = "msg_tamper";
  const timestamp = new Date();
  const signed = JSON.stringify(event);
  const signature = new Webhook(SECRET).sign(id, timestamp, signed);
  const reserialized = JSON.stringify(JSON.parse(signed), null, 2);
  const response = await fetch(`${keel.url}/clerk-webhook`, {
    method: "POST",
    headers: { "svix-id": id, "svix-timestamp": Math.floor(timestamp / 1000).toString(), "svix-signature": signature },
    body: reserialized,
  });
  assert.equal(response.status, 400);
  assert.ok((await response.json()).error);
  assert.equal((await deliver(event, { secret: "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD" })).status, 400);
  assert.equal((await deliver(event, { timestamp: new Date(Date.now() - 10 * 60 * 1000) })).status, 400);
  const truncated = JSON.stringify(event).slice(0, 40);
  const bad = await deliver(null, { body: truncated });
  assert.equal(bad.status, 400);
  assert.match(bad.body.error, /JSON/);
});
