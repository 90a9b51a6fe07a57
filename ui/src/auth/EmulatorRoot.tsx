// `keel dev`: the Clerk emulator's session behind Clerk's `useAuth` shape, so the app runs
// through `ConvexProviderWithClerk` exactly as it does with Clerk.
import { useEffect, useMemo, useSyncExternalStore, type ReactNode } from "react";
import type { ConvexReactClient } from "convex/react";
import { ConvexProviderWithClerk } from "convex/react-clerk";
import { EmulatorSession, type AuthState } from "./emulatorSession";
import { SessionContext } from "./session";
import { SignedOutScreen, LoadingScreen } from "../components/Screens";

function makeUseAuth(session: EmulatorSession) {
  return function useEmulatorAuth() {
    const state = useSyncExternalStore(session.subscribe, session.getState);
    return useMemo(() => {
      const signedIn = state.status === "signedIn" ? state.session : null;
      return {
        isLoaded: state.status !== "loading",
        isSignedIn: state.status === "loading" ? undefined : signedIn !== null,
        userId: signedIn?.user.id ?? null,
        sessionId: signedIn?.id ?? null,
        sessionClaims: null,
        orgId: signedIn?.org_id ?? null,
        orgRole: signedIn?.org_role ?? null,
        orgSlug: signedIn?.org_slug ?? null,
        getToken: session.getToken,
        signOut: session.signOut,
      };
    }, [state]);
  };
}

export function EmulatorRoot({
  client,
  frontendApi,
  children,
}: {
  client: ConvexReactClient;
  frontendApi: string;
  children: ReactNode;
}) {
  const session = useMemo(() => new EmulatorSession(frontendApi), [frontendApi]);
  const useAuth = useMemo(() => makeUseAuth(session), [session]);
  const state: AuthState = useSyncExternalStore(session.subscribe, session.getState);
  useEffect(() => {
    void session.load();
  }, [session]);
  useEffect(() => {
    if (state.status === "signedOut" && state.reason === "never") {
      window.location.replace(session.signInUrl(window.location.pathname + window.location.search));
    }
  }, [state, session]);

  const signInUrl = session.signInUrl(window.location.pathname + window.location.search);
  let content: ReactNode;
  if (state.status === "loading") {
    content = <LoadingScreen />;
  } else if (state.status === "signedOut") {
    content =
      state.reason === "never" ? <LoadingScreen /> : <SignedOutScreen reason={state.reason} signInUrl={signInUrl} />;
  } else {
    const { user } = state.session;
    const name = [user.first_name, user.last_name].filter(Boolean).join(" ") || user.email_address || user.id;
    content = (
      <SessionContext.Provider value={{ signOut: session.signOut, viewer: { name, email: user.email_address } }}>
        {children}
      </SessionContext.Provider>
    );
  }
  return (
    <ConvexProviderWithClerk client={client} useAuth={useAuth}>
      {content}
    </ConvexProviderWithClerk>
  );
}
