// Whole-page states outside the signed-in app.

export function LoadingScreen() {
  return (
    <main className="screen" aria-busy="true">
      <p className="muted">Loading…</p>
    </main>
  );
}

export function SignedOutScreen({ reason, signInUrl }: { reason: "signedOut" | "ended"; signInUrl: string }) {
  return (
    <main className="screen">
      <div className="card narrow">
        <h1>{reason === "ended" ? "Your session has ended" : "You are signed out"}</h1>
        <p className="muted">
          {reason === "ended"
            ? "Keel could not refresh your sign-in, so nothing private is shown. Sign in again to carry on."
            : "Nothing private is shown while you are signed out."}
        </p>
        <a className="button primary" href={signInUrl}>
          Sign in
        </a>
      </div>
    </main>
  );
}

export function NotConfiguredScreen() {
  return (
    <main className="screen">
      <div className="card narrow">
        <h1>Sign-in is not configured</h1>
        <p className="muted">
          Set <code>CLERK_PUBLISHABLE_KEY</code> (your Clerk instance&apos;s <code>pk_…</code> key) and restart{" "}
          <code>keel serve</code>, or run <code>keel dev</code> to sign in through the built-in Clerk emulator.
        </p>
      </div>
    </main>
  );
}
