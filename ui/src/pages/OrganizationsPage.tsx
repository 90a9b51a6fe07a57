// Admins: organizations synced from Clerk, with their members and roles.
import { useState } from "react";
import { usePaginatedQuery, useQuery } from "convex/react";
import { api, type OrganizationDoc } from "../api";
import { SkeletonRows } from "../components/Skeleton";

const PAGE_SIZE = 25;

export function OrganizationsPage() {
  const [includeDeleted, setIncludeDeleted] = useState(false);
  const { results, status, loadMore } = usePaginatedQuery(
    api.organizations.list,
    { includeDeleted },
    { initialNumItems: PAGE_SIZE },
  );
  const [open, setOpen] = useState<string | null>(null);
  return (
    <section>
      <div className="page-head">
        <h1>Organizations</h1>
        <label className="inline">
          <input type="checkbox" checked={includeDeleted} onChange={(e) => setIncludeDeleted(e.target.checked)} /> Show
          deleted
        </label>
      </div>
      {status === "LoadingFirstPage" ? (
        <SkeletonRows label="Loading organizations" />
      ) : results.length === 0 ? (
        <div className="empty">
          <p>No organizations yet</p>
        </div>
      ) : (
        <ul className="org-list">
          {results.map((org) => (
            <OrganizationItem
              key={org._id}
              org={org}
              open={open === org.clerkOrgId}
              onToggle={() => setOpen(open === org.clerkOrgId ? null : org.clerkOrgId)}
            />
          ))}
        </ul>
      )}
      {status === "CanLoadMore" ? (
        <button type="button" onClick={() => loadMore(PAGE_SIZE)}>
          Load more
        </button>
      ) : null}
    </section>
  );
}

function OrganizationItem({ org, open, onToggle }: { org: OrganizationDoc; open: boolean; onToggle: () => void }) {
  return (
    <li className="org">
      <button type="button" className="org-head" aria-expanded={open} onClick={onToggle}>
        <strong>{org.name}</strong>
        <span className="muted small">
          {org.slug ?? org.clerkOrgId}
          {org.isActive ? "" : " · deleted"}
        </span>
      </button>
      {open ? <Members clerkOrgId={org.clerkOrgId} name={org.name} /> : null}
    </li>
  );
}

function Members({ clerkOrgId, name }: { clerkOrgId: string; name: string }) {
  const members = useQuery(api.organizations.members, { clerkOrgId });
  if (members === undefined) return <SkeletonRows rows={2} label="Loading members" />;
  if (members.length === 0) return <p className="muted">No members</p>;
  return (
    <div className="table-wrap">
      <table aria-label={`Members of ${name}`}>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Email</th>
            <th scope="col">Role</th>
          </tr>
        </thead>
        <tbody>
          {members.map((m) => (
            <tr key={m.clerkUserId}>
              <td>{[m.firstName, m.lastName].filter(Boolean).join(" ") || m.clerkUserId}</td>
              <td className="wrap">{m.email ?? "—"}</td>
              <td>{m.role ?? "—"}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
