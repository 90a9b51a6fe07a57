// What the app needs from whichever sign-in is in use (the emulator in `keel dev`, Clerk in
// production): who is signed in, how to sign out, and why a signed-out page is signed out.
import { createContext, useContext } from "react";

export type Viewer = {
  name: string;
  email: string | null;
};

export type SessionControls = {
  signOut: () => Promise<void>;
  /** Shown in the header. */
  viewer: Viewer | null;
};

export const SessionContext = createContext<SessionControls>({
  signOut: async () => undefined,
  viewer: null,
});

export function useSession(): SessionControls {
  return useContext(SessionContext);
}
