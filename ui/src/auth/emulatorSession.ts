// The browser side of `keel dev`'s Clerk emulator, in the shape of Clerk's `useAuth`: who is
// signed in (`GET {frontendApi}/v1/client`), tokens for that session (cached until shortly
// before they expire, unless `skipCache`), and sign-out. The credential is an HttpOnly cookie
// the emulator's sign-in page set; this code never sees a secret.

export type SessionInfo = {
  id: string;
  user: {
    id: string;
    first_name: string | null;
    last_name: string | null;
    email_address: string | null;
    image_url: string | null;
  };
  org_id: string | null;
  org_role: string | null;
  org_slug: string | null;
};

export type AuthState =
  | { status: "loading" }
  | { status: "signedIn"; session: SessionInfo }
  /** `ended`: the session ended while the page was open (signed out elsewhere, revoked, expired). */
  | { status: "signedOut"; reason: "never" | "signedOut" | "ended" };

type Fetch = (input: string, init?: RequestInit) => Promise<Response>;

/** A token is reused until this close to its expiry, as Clerk's cache does. */
const REFRESH_MARGIN_MS = 10_000;

export class EmulatorSession {
  private state: AuthState = { status: "loading" };
  private listeners = new Set<() => void>();
  private cache = new Map<string, { jwt: string; expiresAt: number }>();
  private readonly fetch: Fetch;
  private readonly frontendApi: string;
  private readonly now: () => number;

  constructor(frontendApi: string, options: { fetch?: Fetch; now?: () => number } = {}) {
    this.frontendApi = frontendApi;
    this.fetch = options.fetch ?? ((input, init) => window.fetch(input, init));
    this.now = options.now ?? Date.now;
  }

  getState = (): AuthState => this.state;

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  /** Where to send a signed-out browser, returning to `path` afterwards. */
  signInUrl(path: string): string {
    return `${this.frontendApi}/sign-in?redirect_url=${encodeURIComponent(path)}`;
  }

  async load(): Promise<void> {
    try {
      const response = await this.fetch(`${this.frontendApi}/v1/client`, { credentials: "same-origin" });
      const body = (await response.json()) as { session: SessionInfo | null };
      this.set(body.session ? { status: "signedIn", session: body.session } : { status: "signedOut", reason: "never" });
    } catch {
      this.set({ status: "signedOut", reason: "never" });
    }
  }

  /** A token for the signed-in session, or null once it can no longer be had. */
  getToken = async (options: { template?: string; skipCache?: boolean } = {}): Promise<string | null> => {
    const state = this.state;
    if (state.status !== "signedIn") return null;
    const template = options.template ?? "";
    const cached = this.cache.get(template);
    if (!options.skipCache && cached && cached.expiresAt - REFRESH_MARGIN_MS > this.now()) {
      return cached.jwt;
    }
    const path = template ? `tokens/${encodeURIComponent(template)}` : "tokens";
    let response: Response;
    try {
      response = await this.fetch(`${this.frontendApi}/v1/client/sessions/${state.session.id}/${path}`, {
        method: "POST",
        credentials: "same-origin",
      });
    } catch {
      // Offline: the caller retries; the session may still be fine.
      return null;
    }
    if (response.status === 401 || response.status === 404) {
      this.ended();
      return null;
    }
    if (!response.ok) return null;
    const { jwt } = (await response.json()) as { jwt: string };
    this.cache.set(template, { jwt, expiresAt: expiryOf(jwt) });
    return jwt;
  };

  signOut = async (): Promise<void> => {
    const state = this.state;
    this.cache.clear();
    // Clear the screen first: private data must not outlive the click.
    this.set({ status: "signedOut", reason: "signedOut" });
    if (state.status === "signedIn") {
      await this.fetch(`${this.frontendApi}/v1/client/sessions/${state.session.id}/end`, {
        method: "POST",
        credentials: "same-origin",
      }).catch(() => undefined);
    }
  };

  private ended(): void {
    this.cache.clear();
    if (this.state.status === "signedIn") this.set({ status: "signedOut", reason: "ended" });
  }

  private set(next: AuthState): void {
    this.state = next;
    for (const listener of this.listeners) listener();
  }
}

/** `exp` of a JWT in milliseconds (0 when unreadable: the token is then never reused). */
export function expiryOf(jwt: string): number {
  try {
    const payload = jwt.split(".")[1] ?? "";
    const json = atob(payload.replace(/-/g, "+").replace(/_/g, "/"));
    const exp = (JSON.parse(json) as { exp?: number }).exp;
    return typeof exp === "number" ? exp * 1000 : 0;
  } catch {
    return 0;
  }
}
