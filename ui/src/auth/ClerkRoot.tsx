// Production: Clerk's own components and `useAuth`. Loaded only when the server has a
// publishable key, so `keel dev` never downloads it. (It needs Clerk's servers, so it cannot
// be exercised offline; it is built and type-checked.)
import type { ReactNode } from "react";
import type { ConvexReactClient } from "convex/react";
import { ConvexProviderWithClerk } from "convex/react-clerk";
import { ClerkProvider, SignIn, SignedIn, SignedOut, useAuth, useClerk, useUser } from "@clerk/clerk-react";
import { SessionContext } from "./session";

function ClerkSession({ children }: { children: ReactNode }) {
  const { signOut } = useClerk();
  const { user } = useUser();
  const name = user?.fullName || user?.primaryEmailAddress?.emailAddress || "";
  return (
    <SessionContext.Provider
      value={{
        signOut: () => signOut(),
        viewer: user ? { name, email: user.primaryEmailAddress?.emailAddress ?? null } : null,
      }}
    >
      {children}
    </SessionContext.Provider>
  );
}

export default function ClerkRoot({
  client,
  publishableKey,
  children,
}: {
  client: ConvexReactClient;
  publishableKey: string;
  children: ReactNode;
}) {
  return (
    <ClerkProvider publishableKey={publishableKey} afterSignOutUrl="/">
      <ConvexProviderWithClerk client={client} useAuth={useAuth}>
        <SignedIn>
          <ClerkSession>{children}</ClerkSession>
        </SignedIn>
        <SignedOut>
          <main className="screen">
            <SignIn routing="hash" />
          </main>
        </SignedOut>
      </ConvexProviderWithClerk>
    </ClerkProvider>
  );
}
