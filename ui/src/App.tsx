// The signed-in app: header with navigation, the live-connection banner, and the pages.
import { useEffect, useRef, type ReactNode } from "react";
import { Link, Route, Switch, useRoute } from "wouter";
import { useConvexAuth, useMutation, useQuery } from "convex/react";
import { api } from "./api";
import { useSession } from "./auth/session";
import { ConnectionBanner } from "./components/ConnectionBanner";
import { LoadingScreen } from "./components/Screens";
import { ChatsPage } from "./pages/ChatsPage";
import { ChatPage } from "./pages/ChatPage";
import { NotFoundPage } from "./pages/NotFoundPage";
import { UsersPage } from "./pages/UsersPage";
import { OrganizationsPage } from "./pages/OrganizationsPage";
import { WebhooksPage } from "./pages/WebhooksPage";
import { DataPage } from "./pages/DataPage";
import { ErrorBoundary } from "./components/ErrorBoundary";

/** An admin screen: its queries refuse non-admins (`FORBIDDEN`), shown in words. */
function AdminPage({ children }: { children: ReactNode }) {
  return <ErrorBoundary>{children}</ErrorBoundary>;
}

/** Makes sure the signed-in user has a record (Convex's `useStoreUserEffect`); the Clerk
 * webhook creates it too, whichever comes first. */
function useStoreUser(isAuthenticated: boolean) {
  const store = useMutation(api.users.store);
  const stored = useRef(false);
  useEffect(() => {
    if (!isAuthenticated || stored.current) return;
    stored.current = true;
    store({}).catch(() => {
      stored.current = false;
    });
  }, [isAuthenticated, store]);
}

function NavLink({ href, children }: { href: string; children: string }) {
  const [active] = useRoute(href === "/" ? "/" : `${href}/*?`);
  return (
    <Link href={href} aria-current={active ? "page" : undefined}>
      {children}
    </Link>
  );
}

export function App() {
  const { isLoading, isAuthenticated } = useConvexAuth();
  const session = useSession();
  useStoreUser(isAuthenticated);
  const viewer = useQuery(api.users.viewer, isAuthenticated ? {} : "skip");
  if (isLoading || !isAuthenticated) return <LoadingScreen />;
  return (
    <div className="app">
      <header className="topbar">
        <Link href="/" className="brand">
          Keel
        </Link>
        <nav aria-label="Main">
          <NavLink href="/">Chats</NavLink>
          {viewer?.isAdmin ? (
            <>
              <NavLink href="/users">Users</NavLink>
              <NavLink href="/organizations">Organizations</NavLink>
              <NavLink href="/webhooks">Webhooks</NavLink>
              <NavLink href="/data">Data</NavLink>
            </>
          ) : null}
        </nav>
        <div className="who">
          <span className="muted" title={session.viewer?.email ?? undefined}>
            {session.viewer?.name}
            {viewer?.isAdmin ? <span className="badge">admin</span> : null}
          </span>
          <button type="button" onClick={() => void session.signOut()}>
            Sign out
          </button>
        </div>
      </header>
      <ConnectionBanner />
      <main className="content">
        <Switch>
          <Route path="/" component={ChatsPage} />
          <Route path="/chats/:id">{(params) => <ChatPage id={params.id} />}</Route>
          <Route path="/users">
            <AdminPage>
              <UsersPage />
            </AdminPage>
          </Route>
          <Route path="/organizations">
            <AdminPage>
              <OrganizationsPage />
            </AdminPage>
          </Route>
          <Route path="/webhooks">
            <AdminPage>
              <WebhooksPage />
            </AdminPage>
          </Route>
          <Route path="/data">
            <AdminPage>
              <DataPage />
            </AdminPage>
          </Route>
          <Route component={NotFoundPage} />
        </Switch>
      </main>
    </div>
  );
}
