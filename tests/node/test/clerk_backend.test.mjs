// Proof that the emulator is Clerk-shaped: Clerk's own SDK manages its users and sessions and
// verifies its tokens.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { verifyToken } from "@clerk/backend";
import { startKeel } from "../lib/keel.mjs";

let keel;
before(async () => {
  keel = await startKeel();
});
after(async () => {
  await keel.stop();
});

test("@clerk/backend manages emulator users", async () => {
  const created = await keel.clerk.users.createUser({ emailAddress: ["grace@example.com"], firstName: "Grace", publicMetadata: { role: "admin" } });
  assert.match(created.id, /^user_/);
  assert.equal(created.primaryEmailAddress?.emailAddress, "grace@example.com");
  const fetched = await keel.clerk.users.getUser(created.id);
  assert.equal(fetched.firstName, "Grace");
  assert.deepEqual(fetched.publicMetadata, { role: "admin" });
  const updated = await keel.clerk.users.updateUser(created.id, { lastName: "Hopper" });
  assert.equal(updated.lastName, "Hopper");
  const { data, totalCount } = await keel.clerk.users.getUserList({ limit: 500 });
  assert.ok(totalCount >= 1);
  assert.ok(data.some((u) => u.id === created.id));
});

test("@clerk/backend verifyToken accepts the emulator's session and convex tokens", async () => {
  const { user } = await keel.user("verify@example.com", { publicMetadata: { role: "admin" } });
  const session = await keel.clerk.sessions.createSession({ userId: user.id });
  const { jwt: sessionToken } = await keel.clerk.sessions.getToken(session.id);
  const claims = await verifyToken(sessionToken, { secretKey: keel.secretKey, apiUrl: keel.issuer });
  assert.equal(claims.sub, user.id);
  assert.equal(claims.sid, session.id);
  assert.equal(claims.iss, keel.issuer);
  assert.equal(claims.v, 2);
  assert.deepEqual(claims.metadata, { role: "admin" });
  assert.equal(claims.exp - claims.iat, 60);

  const { jwt: convexToken } = await keel.clerk.sessions.getToken(session.id, "convex");
  const template = await verifyToken(convexToken, { secretKey: keel.secretKey, apiUrl: keel.issuer, audience: "convex" });
  assert.equal(template.aud, "convex");
  assert.equal(template.email, "verify@example.com");

  await assert.rejects(verifyToken(convexToken, { secretKey: keel.secretKey, apiUrl: keel.issuer, audience: "other" }));
});

test("tokens with a one-second lifetime expire", async () => {
  const { user } = await keel.user("short@example.com");
  const session = await keel.clerk.sessions.createSession({ userId: user.id });
  const { jwt } = await keel.clerk.sessions.getToken(session.id, "convex", 1);
  const claims = JSON.parse(Buffer.from(jwt.split(".")[1], "base64url"));
  assert.equal(claims.exp - claims.iat, 1);
});
