import { describe, expect, it } from "vitest";
import { EmulatorSession, expiryOf } from "./emulatorSession";

function jwt(exp: number): string {
  const part = (o: object) => btoa(JSON.stringify(o)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
  return `${part({ alg: "RS256" })}.${part({ exp })}.sig`;
}

const session = { id: "sess_1", user: { id: "user_1", first_name: "Ada", last_name: null, email_address: null, image_url: null }, org_id: null, org_role: null, org_slug: null };

/** A fake Frontend API: answers from `routes`, counting calls per path. */
function frontend(routes: Record<string, () => Response>) {
  const calls: string[] = [];
  const fetch = async (input: string) => {
    calls.push(input);
    const route = routes[input];
    if (!route) throw new Error(`unexpected ${input}`);
    return route();
  };
  return { fetch, calls };
}

const json = (status: number, body: unknown) => () => new Response(JSON.stringify(body), { status });

describe("EmulatorSession", () => {
  it("reuses a token until shortly before it expires, unless skipCache", async () => {
    let now = 1_000_000;
    const api = frontend({
      "/_clerk/v1/client": json(200, { session }),
      "/_clerk/v1/client/sessions/sess_1/tokens/convex": json(200, { jwt: jwt(1_060) }),
    });
    const auth = new EmulatorSession("/_clerk", { fetch: api.fetch, now: () => now });
    await auth.load();
    expect(auth.getState().status).toBe("signedIn");
    await auth.getToken({ template: "convex" });
    await auth.getToken({ template: "convex" });
    expect(api.calls.filter((c) => c.includes("tokens")).length).toBe(1);
    await auth.getToken({ template: "convex", skipCache: true });
    expect(api.calls.filter((c) => c.includes("tokens")).length).toBe(2);
    now = 1_051_000; // within 10 s of exp
    await auth.getToken({ template: "convex" });
    expect(api.calls.filter((c) => c.includes("tokens")).length).toBe(3);
  });

  it("turns signed out, with the reason, when the session can no longer mint tokens", async () => {
    const api = frontend({
      "/_clerk/v1/client": json(200, { session }),
      "/_clerk/v1/client/sessions/sess_1/tokens/convex": json(401, { errors: [{ code: "signed_out" }] }),
    });
    const auth = new EmulatorSession("/_clerk", { fetch: api.fetch });
    await auth.load();
    let notified = 0;
    auth.subscribe(() => notified++);
    expect(await auth.getToken({ template: "convex" })).toBeNull();
    expect(auth.getState()).toEqual({ status: "signedOut", reason: "ended" });
    expect(notified).toBe(1);
  });

  it("keeps the session when the network is down (the client retries)", async () => {
    const api = frontend({ "/_clerk/v1/client": json(200, { session }) });
    const auth = new EmulatorSession("/_clerk", { fetch: api.fetch });
    await auth.load();
    expect(await auth.getToken({ template: "convex" })).toBeNull();
    expect(auth.getState().status).toBe("signedIn");
  });

  it("is signed out from the start without a session, and says where to sign in", async () => {
    const api = frontend({ "/_clerk/v1/client": json(200, { session: null }) });
    const auth = new EmulatorSession("/_clerk", { fetch: api.fetch });
    await auth.load();
    expect(auth.getState()).toEqual({ status: "signedOut", reason: "never" });
    expect(auth.signInUrl("/chats/1?x")).toBe("/_clerk/sign-in?redirect_url=%2Fchats%2F1%3Fx");
  });

  it("reads a JWT's expiry, and treats an unreadable one as expired", () => {
    expect(expiryOf(jwt(1_700_000_000))).toBe(1_700_000_000_000);
    expect(expiryOf("garbage")).toBe(0);
  });
});
