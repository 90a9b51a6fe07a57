// A stand-in for `@clerk/react`'s `useAuth`, backed by the Clerk emulator in `keel dev`: the
// same shape (`isLoaded`, `isSignedIn`, `getToken({template, skipCache})`, `orgId`, `orgRole`,
// `sessionId`, `sessionClaims`), real Clerk sessions and real emulator-signed tokens, and a
// token cache that `skipCache` bypasses, as Clerk's. Sign-in state is an external store, so
// signing out re-renders every component that uses the hook.
import { useSyncExternalStore } from "react";
import { claims } from "./util.mjs";

/**
 * Clerk for one browser tab of `userId`. `tokenLifetime` (seconds) is passed to the emulator.
 * `calls` records every `getToken` argument.
 */
export function emulatorClerk(keel, userId, { tokenLifetime } = {}) {
  let state = { isSignedIn: false, sessionId: null, sessionClaims: null };
  const listeners = new Set();
  const calls = [];
  let cached = null;
  const update = (next) => {
    state = { ...state, ...next };
    for (const listener of listeners) listener();
  };
  const subscribe = (listener) => {
    listeners.add(listener);
    return () => listeners.delete(listener);
  };

  async function getToken({ template, skipCache } = {}) {
    calls.push({ template, skipCache, at: Date.now() });
    const { sessionId } = state;
    if (!sessionId) return null;
    if (!skipCache && cached && cached.sessionId === sessionId && cached.template === template && cached.exp * 1000 > Date.now() + 1000) {
      return cached.jwt;
    }
    const { jwt } = await keel.clerk.sessions.getToken(sessionId, template, tokenLifetime);
    cached = { sessionId, template, jwt, exp: claims(jwt).exp };
    return jwt;
  }

  function useAuth() {
    const current = useSyncExternalStore(subscribe, () => state);
    return {
      isLoaded: true,
      isSignedIn: current.isSignedIn,
      userId: current.isSignedIn ? userId : null,
      sessionId: current.sessionId,
      sessionClaims: current.sessionClaims,
      actor: null,
      orgId: null,
      orgRole: null,
      orgSlug: null,
      has: () => false,
      signOut: async () => signOut(),
      getToken,
    };
  }

  /** A new Clerk session; its session token's claims become `sessionClaims`, as in Clerk. */
  async function signIn() {
    const session = await keel.clerk.sessions.createSession({ userId });
    const { jwt } = await keel.clerk.sessions.getToken(session.id);
    update({ isSignedIn: true, sessionId: session.id, sessionClaims: claims(jwt) });
  }

  function signOut() {
    cached = null;
    update({ isSignedIn: false, sessionId: null, sessionClaims: null });
  }

  return { useAuth, signIn, signOut, calls };
}
