// Admins: every synced user, searchable and filtered, with add/edit/delete through Clerk's
// Backend API. An action returns once Clerk accepted it; the row changes when Clerk's webhook
// comes back, and until then it is marked "pending sync" — the real sync loop, on screen.
import { useCallback, useEffect, useState } from "react";
import { useAction, usePaginatedQuery, useQuery } from "convex/react";
import { api, type UserDoc, type UserStatus } from "../api";
import { errorText } from "../errors";
import { Dialog } from "../components/Dialog";
import { SkeletonRows } from "../components/Skeleton";

const PAGE_SIZE = 25;

/** A change Clerk accepted whose webhook has not been applied yet. */
type Pending = {
  userId: string;
  kind: "create" | "update" | "delete";
  email?: string;
  firstName?: string;
  lastName?: string;
};

type DialogState =
  | { kind: "closed" }
  | { kind: "create" }
  | { kind: "edit"; user: UserDoc }
  | { kind: "delete"; user: UserDoc };

export function UsersPage() {
  const [search, setSearch] = useState("");
  const [status, setStatus] = useState<UserStatus>("all");
  const [role, setRole] = useState("");
  const [pending, setPending] = useState<Pending[]>([]);
  const [dialog, setDialog] = useState<DialogState>({ kind: "closed" });
  const args = { search: search.trim() || undefined, status, role: role || undefined };
  const { results, status: loading, loadMore } = usePaginatedQuery(api.users.list, args, {
    initialNumItems: PAGE_SIZE,
  });
  // While a new search loads, keep showing the last results (dimmed) instead of a skeleton on
  // every keystroke.
  // (`results` is memoized by usePaginatedQuery, so this settles after one extra render.)
  const [shown, setShown] = useState<UserDoc[] | null>(null);
  if (loading !== "LoadingFirstPage" && shown !== results) setShown(results);
  const rows = loading === "LoadingFirstPage" ? shown : results;
  const addPending = (p: Pending) => setPending((all) => [...all.filter((x) => x.userId !== p.userId), p]);
  const synced = useCallback((userId: string) => setPending((all) => all.filter((x) => x.userId !== userId)), []);
  const pendingOf = (userId: string) => pending.find((p) => p.userId === userId);
  const visible = new Set(rows?.map((u) => u.clerkUserId));

  return (
    <section>
      <div className="page-head">
        <h1>Users</h1>
        <button type="button" className="primary" onClick={() => setDialog({ kind: "create" })}>
          Add user
        </button>
      </div>
      <div className="filters">
        <label className="grow">
          Search users
          <input
            type="search"
            value={search}
            placeholder="Name or email"
            onChange={(event) => setSearch(event.target.value)}
          />
        </label>
        <label>
          Status
          <select value={status} onChange={(event) => setStatus(event.target.value as UserStatus)}>
            <option value="all">All</option>
            <option value="active">Active</option>
            <option value="deleted">Deleted</option>
          </select>
        </label>
        <label>
          Role
          <select value={role} onChange={(event) => setRole(event.target.value)}>
            <option value="">Any</option>
            <option value="admin">admin</option>
          </select>
        </label>
      </div>
      {pending.map((p) => (
        <PendingWatcher key={p.userId} pending={p} onSynced={synced} />
      ))}
      {pending
        .filter((p) => p.kind === "create" && !visible.has(p.userId))
        .map((p) => (
          <p key={p.userId} className="notice" role="status">
            {p.email}: created in Clerk, <span className="badge pending">pending sync</span>
          </p>
        ))}
      {rows === null ? (
        <SkeletonRows label="Loading users" />
      ) : rows.length === 0 ? (
        <div className="empty">
          <p>{search || status !== "all" || role ? "No users match" : "No users yet"}</p>
        </div>
      ) : (
        <div className="table-wrap" aria-busy={loading === "LoadingFirstPage"}>
          <table className={loading === "LoadingFirstPage" ? "stale" : undefined}>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Email</th>
                <th scope="col">Status</th>
                <th scope="col">Role</th>
                <th scope="col">Created</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {rows.map((user) => (
                <UserRow
                  key={user._id}
                  user={user}
                  pending={pendingOf(user.clerkUserId)}
                  onEdit={() => setDialog({ kind: "edit", user })}
                  onDelete={() => setDialog({ kind: "delete", user })}
                />
              ))}
            </tbody>
          </table>
        </div>
      )}
      {loading === "CanLoadMore" ? (
        <button type="button" onClick={() => loadMore(PAGE_SIZE)}>
          Load more
        </button>
      ) : null}
      <UserDialog
        state={dialog}
        onClose={() => setDialog({ kind: "closed" })}
        onAccepted={(p) => {
          addPending(p);
          setDialog({ kind: "closed" });
        }}
      />
    </section>
  );
}

function displayName(user: UserDoc): string {
  return [user.firstName, user.lastName].filter(Boolean).join(" ") || user.username || "—";
}

function isDeleted(user: UserDoc): boolean {
  return user.status === "deleted" || user.isActive === false;
}

function UserRow({
  user,
  pending,
  onEdit,
  onDelete,
}: {
  user: UserDoc;
  pending: Pending | undefined;
  onEdit: () => void;
  onDelete: () => void;
}) {
  const deleted = isDeleted(user);
  return (
    <tr aria-label={user.email ?? user.clerkUserId}>
      <td>
        {displayName(user)}
        {pending ? <span className="badge pending">pending sync</span> : null}
      </td>
      <td className="wrap">{user.email ?? "—"}</td>
      <td>{deleted ? "Deleted" : "Active"}</td>
      <td>{user.role ?? "—"}</td>
      <td>{user.createdAt ? new Date(user.createdAt).toLocaleDateString() : "—"}</td>
      <td className="row-actions">
        <button type="button" onClick={onEdit} disabled={deleted}>
          Edit
        </button>
        <button type="button" className="danger" onClick={onDelete} disabled={deleted}>
          Delete
        </button>
      </td>
    </tr>
  );
}

/** Watches one pending change until the synced record shows it. */
function PendingWatcher({ pending, onSynced }: { pending: Pending; onSynced: (userId: string) => void }) {
  const user = useQuery(api.users.getByClerkId, { clerkUserId: pending.userId });
  const done =
    user !== undefined &&
    (pending.kind === "create"
      ? user !== null
      : pending.kind === "delete"
        ? user === null || isDeleted(user)
        : user !== null &&
          (user.firstName ?? "") === (pending.firstName ?? "") &&
          (user.lastName ?? "") === (pending.lastName ?? ""));
  useEffect(() => {
    if (done) onSynced(pending.userId);
  }, [done, onSynced, pending.userId]);
  return null;
}

function UserDialog({
  state,
  onClose,
  onAccepted,
}: {
  state: DialogState;
  onClose: () => void;
  onAccepted: (pending: Pending) => void;
}) {
  const title =
    state.kind === "create"
      ? "Add user"
      : state.kind === "edit"
        ? "Edit user"
        : state.kind === "delete"
          ? `Delete ${state.user.email ?? "user"}?`
          : "";
  return (
    <Dialog title={title} open={state.kind !== "closed"} onClose={onClose}>
      {state.kind === "create" ? <CreateForm onClose={onClose} onAccepted={onAccepted} /> : null}
      {state.kind === "edit" ? <EditForm user={state.user} onClose={onClose} onAccepted={onAccepted} /> : null}
      {state.kind === "delete" ? <DeleteForm user={state.user} onClose={onClose} onAccepted={onAccepted} /> : null}
    </Dialog>
  );
}

type FormProps = { onClose: () => void; onAccepted: (pending: Pending) => void };

/** Runs `action`, keeping the dialog open with Clerk's message when it is refused. */
function useSubmit() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const submit = async (action: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await action();
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, submit };
}

function FormError({ error }: { error: string | null }) {
  return error ? (
    <p role="alert" className="error">
      {error}
    </p>
  ) : null;
}

function CreateForm({ onClose, onAccepted }: FormProps) {
  const create = useAction(api.users.adminCreate);
  const { busy, error, submit } = useSubmit();
  const [email, setEmail] = useState("");
  const [firstName, setFirstName] = useState("");
  const [lastName, setLastName] = useState("");
  return (
    <form
      className="dialog-form"
      onSubmit={(event) => {
        event.preventDefault();
        void submit(async () => {
          const { userId } = await create({ email, firstName: firstName || null, lastName: lastName || null });
          onAccepted({ userId, kind: "create", email });
        });
      }}
    >
      <label>
        Email
        <input type="email" required autoFocus value={email} onChange={(e) => setEmail(e.target.value)} />
      </label>
      <label>
        First name
        <input value={firstName} onChange={(e) => setFirstName(e.target.value)} />
      </label>
      <label>
        Last name
        <input value={lastName} onChange={(e) => setLastName(e.target.value)} />
      </label>
      <FormError error={error} />
      <div className="dialog-actions">
        <button type="button" onClick={onClose}>
          Cancel
        </button>
        <button type="submit" className="primary" disabled={busy}>
          {busy ? "Creating…" : "Create"}
        </button>
      </div>
    </form>
  );
}

function EditForm({ user, onClose, onAccepted }: FormProps & { user: UserDoc }) {
  const update = useAction(api.users.adminUpdate);
  const { busy, error, submit } = useSubmit();
  const [firstName, setFirstName] = useState(user.firstName ?? "");
  const [lastName, setLastName] = useState(user.lastName ?? "");
  return (
    <form
      className="dialog-form"
      onSubmit={(event) => {
        event.preventDefault();
        void submit(async () => {
          await update({ userId: user.clerkUserId, firstName: firstName.trim(), lastName: lastName.trim() });
          onAccepted({ userId: user.clerkUserId, kind: "update", firstName: firstName.trim(), lastName: lastName.trim() });
        });
      }}
    >
      <label>
        Email
        <input type="email" value={user.email ?? ""} readOnly aria-describedby="email-note" />
      </label>
      <p id="email-note" className="muted small">
        Clerk changes an address only through the user&apos;s own verification.
      </p>
      <label>
        First name
        <input autoFocus value={firstName} onChange={(e) => setFirstName(e.target.value)} />
      </label>
      <label>
        Last name
        <input value={lastName} onChange={(e) => setLastName(e.target.value)} />
      </label>
      <FormError error={error} />
      <div className="dialog-actions">
        <button type="button" onClick={onClose}>
          Cancel
        </button>
        <button type="submit" className="primary" disabled={busy}>
          {busy ? "Saving…" : "Save"}
        </button>
      </div>
    </form>
  );
}

function DeleteForm({ user, onClose, onAccepted }: FormProps & { user: UserDoc }) {
  const remove = useAction(api.users.adminDelete);
  const { busy, error, submit } = useSubmit();
  return (
    <form
      className="dialog-form"
      onSubmit={(event) => {
        event.preventDefault();
        void submit(async () => {
          await remove({ userId: user.clerkUserId });
          onAccepted({ userId: user.clerkUserId, kind: "delete" });
        });
      }}
    >
      <p className="muted">
        {displayName(user)} is deleted in Clerk; the record here is marked deleted when Clerk&apos;s webhook arrives.
      </p>
      <FormError error={error} />
      <div className="dialog-actions">
        <button type="button" autoFocus onClick={onClose}>
          Cancel
        </button>
        <button type="submit" className="danger" disabled={busy}>
          {busy ? "Deleting…" : "Delete"}
        </button>
      </div>
    </form>
  );
}
