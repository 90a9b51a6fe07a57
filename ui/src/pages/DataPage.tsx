// Admins: a read-only browser of every app table — pick a table, page through its documents
// newest first, open one as formatted JSON, and follow an id to its document.
import { useState } from "react";
import { Link, useSearchParams } from "wouter";
import { usePaginatedQuery, useQuery } from "convex/react";
import { api, type AnyDoc } from "../api";
import { SkeletonRows } from "../components/Skeleton";

const PAGE_SIZE = 25;

export function DataPage() {
  const [params, setParams] = useSearchParams();
  const table = params.get("table");
  const doc = params.get("doc");
  const tables = useQuery(api.data.tables, {});
  return (
    <section>
      <div className="page-head">
        <h1>Data</h1>
      </div>
      <div className="data-layout">
        <nav aria-label="Tables" className="tables">
          {tables === undefined ? (
            <SkeletonRows rows={4} label="Loading tables" />
          ) : (
            <ul>
              {tables.map((t) => (
                <li key={t.name}>
                  <Link
                    href={`/data?table=${encodeURIComponent(t.name)}`}
                    aria-current={t.name === table ? "page" : undefined}
                  >
                    {t.name} <span className="muted small">{t.atLeast ? `${t.count}+` : t.count}</span>
                  </Link>
                </li>
              ))}
            </ul>
          )}
        </nav>
        <div className="data-main">
          {doc ? (
            <DocumentView id={doc} onClose={() => setParams(table ? { table } : {})} />
          ) : table ? (
            <TablePage table={table} onOpen={(id) => setParams({ table, doc: id })} />
          ) : (
            <p className="muted">Pick a table.</p>
          )}
        </div>
      </div>
    </section>
  );
}

function TablePage({ table, onOpen }: { table: string; onOpen: (id: string) => void }) {
  const { results, status, loadMore } = usePaginatedQuery(api.data.page, { table }, { initialNumItems: PAGE_SIZE });
  if (status === "LoadingFirstPage") return <SkeletonRows label={`Loading ${table}`} />;
  if (results.length === 0) return <p className="muted">{table} is empty.</p>;
  return (
    <>
      <ul className="doc-list" aria-label={`Documents in ${table}`}>
        {results.map((d) => (
          <li key={d._id}>
            <button type="button" className="doc-row" onClick={() => onOpen(d._id)}>
              <span className="mono">{d._id}</span>
              <span className="muted small">{summary(d)}</span>
            </button>
          </li>
        ))}
      </ul>
      {status === "CanLoadMore" ? (
        <button type="button" onClick={() => loadMore(PAGE_SIZE)}>
          Load more
        </button>
      ) : null}
    </>
  );
}

function summary(doc: AnyDoc): string {
  const fields = Object.entries(doc).filter(([k]) => !k.startsWith("_"));
  return fields
    .slice(0, 3)
    .map(([k, v]) => `${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`)
    .join(" · ")
    .slice(0, 140);
}

/** A Convex document id: 31–37 characters of Convex's base32 alphabet. */
const ID_PATTERN = /^[0-9a-hjkmnp-tv-z]{31,37}$/;

function DocumentView({ id, onClose }: { id: string; onClose: () => void }) {
  const [, setParams] = useSearchParams();
  const doc = useQuery(api.data.get, { id });
  const [copied, setCopied] = useState(false);
  if (doc === undefined) return <SkeletonRows rows={3} label="Loading document" />;
  return (
    <article className="card" aria-label={`Document ${id}`}>
      <p>
        <button type="button" onClick={onClose}>
          ← Back to the table
        </button>
      </p>
      {doc === null ? (
        <p className="muted">No document has this id.</p>
      ) : (
        <>
          <pre className="json">
            {"{\n"}
            {Object.entries(doc).map(([key, value], i, all) => (
              <span key={key}>
                {"  "}
                {JSON.stringify(key)}:{" "}
                {typeof value === "string" && ID_PATTERN.test(value) && value !== doc._id ? (
                  <button type="button" className="link" onClick={() => setParams({ doc: value })}>
                    {JSON.stringify(value)}
                  </button>
                ) : (
                  JSON.stringify(value, null, 2).replace(/\n/g, "\n  ")
                )}
                {i < all.length - 1 ? ",\n" : "\n"}
              </span>
            ))}
            {"}"}
          </pre>
          <button
            type="button"
            onClick={() => {
              void navigator.clipboard?.writeText(JSON.stringify(doc, null, 2)).then(() => setCopied(true));
            }}
          >
            {copied ? "Copied" : "Copy JSON"}
          </button>
        </>
      )}
    </article>
  );
}
