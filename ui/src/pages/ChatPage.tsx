// One chat, by its id in the address (`/chats/…`), so the page survives a reload.
import { Link } from "wouter";
import { useQuery } from "convex/react";
import { api } from "../api";
import type { Id } from "../../convex/_generated/dataModel";
import { SkeletonRows } from "../components/Skeleton";
import { ErrorBoundary } from "../components/ErrorBoundary";

export function ChatPage({ id }: { id: string }) {
  return (
    <ErrorBoundary>
      <Chat id={id} />
    </ErrorBoundary>
  );
}

function Chat({ id }: { id: string }) {
  // The address is untrusted text; the server answers NOT_FOUND for anything not the caller's.
  const chat = useQuery(api.chats.get, { id: id as Id<"chats"> });
  if (chat === undefined) return <SkeletonRows rows={2} label="Loading chat" />;
  return (
    <section className="card">
      <p>
        <Link href="/">← All chats</Link>
      </p>
      <h1>{chat.title}</h1>
      <dl className="facts">
        <dt>Created</dt>
        <dd>{new Date(chat.createdAt).toLocaleString()}</dd>
        <dt>Updated</dt>
        <dd>{new Date(chat.updatedAt).toLocaleString()}</dd>
      </dl>
    </section>
  );
}
