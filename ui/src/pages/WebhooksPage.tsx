// Admins: Clerk webhook deliveries as Keel handled them, newest first and live — applied,
// duplicate, stale, rejected (with the reason; never the body) and the rest.
import { useState } from "react";
import { usePaginatedQuery } from "convex/react";
import { api, type DeliveryOutcome } from "../api";
import { SkeletonRows } from "../components/Skeleton";

const OUTCOMES: DeliveryOutcome[] = ["applied", "duplicate", "stale", "rejected", "deferred", "ignored", "unchanged"];
const PAGE_SIZE = 50;

export function WebhooksPage() {
  const [outcome, setOutcome] = useState<DeliveryOutcome | "">("");
  const { results, status, loadMore } = usePaginatedQuery(
    api.webhooks.recent,
    outcome ? { outcome } : {},
    { initialNumItems: PAGE_SIZE },
  );
  return (
    <section>
      <div className="page-head">
        <h1>Webhooks</h1>
      </div>
      <p className="muted">
        Clerk&apos;s deliveries to <code>/clerk-webhook</code>, as Keel handled them. A delivery is acknowledged only
        after its effect is committed.
      </p>
      <div className="filters">
        <label>
          Outcome
          <select value={outcome} onChange={(e) => setOutcome(e.target.value as DeliveryOutcome | "")}>
            <option value="">All</option>
            {OUTCOMES.map((o) => (
              <option key={o} value={o}>
                {o}
              </option>
            ))}
          </select>
        </label>
      </div>
      {status === "LoadingFirstPage" ? (
        <SkeletonRows label="Loading deliveries" />
      ) : results.length === 0 ? (
        <div className="empty">
          <p>No deliveries{outcome ? ` with outcome “${outcome}”` : " yet"}</p>
        </div>
      ) : (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Event</th>
                <th scope="col">Object</th>
                <th scope="col">Outcome</th>
                <th scope="col">Svix id</th>
              </tr>
            </thead>
            <tbody>
              {results.map((d) => (
                <tr key={d._id}>
                  <td>{new Date(d.receivedAt).toLocaleString()}</td>
                  <td>{d.type ?? "—"}</td>
                  <td className="mono">{d.objectId ?? "—"}</td>
                  <td>
                    <span className={`outcome outcome-${d.outcome}`}>{d.outcome}</span>
                    {"reason" in d && d.reason ? <div className="muted small wrap">{d.reason}</div> : null}
                  </td>
                  <td className="mono">{d.svixId ?? "—"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {status === "CanLoadMore" ? (
        <button type="button" onClick={() => loadMore(PAGE_SIZE)}>
          Load more
        </button>
      ) : null}
    </section>
  );
}
