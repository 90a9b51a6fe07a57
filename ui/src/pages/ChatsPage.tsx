// The dashboard: the signed-in user's chats, newest first, live.
import { useState } from "react";
import { Link } from "wouter";
import { usePaginatedQuery } from "convex/react";
import { api, type Chat } from "../api";
import { errorText } from "../errors";
import { SkeletonRows } from "../components/Skeleton";
import { Dialog } from "../components/Dialog";
import { LIST_ARGS, useCreateChat, useDeleteChat, useRenameChat } from "./chatMutations";

const PAGE_SIZE = 25;

export function ChatsPage() {
  const { results, status, loadMore } = usePaginatedQuery(api.chats.pageUserChats, LIST_ARGS, {
    initialNumItems: PAGE_SIZE,
  });
  const createChat = useCreateChat();
  const [error, setError] = useState<string | null>(null);
  const [editing, setEditing] = useState<string | null>(null);

  const onNewChat = async () => {
    setError(null);
    try {
      const id = await createChat({ title: "New chat" });
      setEditing(id);
    } catch (e) {
      setError(errorText(e));
    }
  };

  return (
    <section>
      <div className="page-head">
        <h1>Chats</h1>
        <button type="button" className="primary" onClick={() => void onNewChat()}>
          New chat
        </button>
      </div>
      {error ? (
        <p role="alert" className="error">
          {error}
        </p>
      ) : null}
      {status === "LoadingFirstPage" ? (
        <SkeletonRows label="Loading chats" />
      ) : results.length === 0 ? (
        <div className="empty">
          <p>No chats yet</p>
          <p className="muted">Start one with “New chat”.</p>
        </div>
      ) : (
        <ul className="chat-list" aria-label="Your chats">
          {results.map((chat) => (
            <ChatRow
              key={chat._id}
              chat={chat}
              editing={editing === chat._id}
              onEdit={(on) => setEditing(on ? chat._id : null)}
            />
          ))}
        </ul>
      )}
      {status === "CanLoadMore" ? (
        <button type="button" onClick={() => loadMore(PAGE_SIZE)}>
          Load more
        </button>
      ) : null}
      {status === "LoadingMore" ? <SkeletonRows rows={1} label="Loading more chats" /> : null}
    </section>
  );
}

function ChatRow({ chat, editing, onEdit }: { chat: Chat; editing: boolean; onEdit: (on: boolean) => void }) {
  const renameChat = useRenameChat();
  const deleteChat = useDeleteChat();
  const [title, setTitle] = useState(chat.title);
  const [error, setError] = useState<string | null>(null);
  const [confirming, setConfirming] = useState(false);
  const pending = chat._id.startsWith("optimistic:");

  const save = async () => {
    setError(null);
    onEdit(false);
    try {
      await renameChat({ id: chat._id, title });
    } catch (e) {
      setError(`Rename failed: ${errorText(e)}`);
      setTitle(chat.title);
    }
  };
  const remove = async () => {
    setConfirming(false);
    setError(null);
    try {
      await deleteChat({ id: chat._id });
    } catch (e) {
      setError(`Delete failed: ${errorText(e)}`);
    }
  };

  return (
    <li className="chat-row" aria-label={chat.title}>
      {editing ? (
        <form
          className="rename"
          onSubmit={(event) => {
            event.preventDefault();
            void save();
          }}
        >
          <label>
            Title
            <input autoFocus value={title} onChange={(event) => setTitle(event.target.value)} />
          </label>
          <button type="submit" className="primary">
            Save
          </button>
          <button type="button" onClick={() => onEdit(false)}>
            Cancel
          </button>
        </form>
      ) : (
        <>
          <div className="chat-title">
            {pending ? <span>{chat.title}</span> : <Link href={`/chats/${chat._id}`}>{chat.title}</Link>}
            <time className="muted" dateTime={new Date(chat.createdAt).toISOString()}>
              {new Date(chat.createdAt).toLocaleString()}
            </time>
          </div>
          <div className="actions">
            <button
              type="button"
              disabled={pending}
              onClick={() => {
                setTitle(chat.title);
                onEdit(true);
              }}
            >
              Rename
            </button>
            <button type="button" className="danger" disabled={pending} onClick={() => setConfirming(true)}>
              Delete
            </button>
          </div>
        </>
      )}
      {error ? (
        <p role="alert" className="error">
          {error}
        </p>
      ) : null}
      <Dialog title={`Delete “${chat.title}”?`} open={confirming} onClose={() => setConfirming(false)}>
        <p className="muted">This cannot be undone.</p>
        <div className="dialog-actions">
          <button type="button" onClick={() => setConfirming(false)}>
            Cancel
          </button>
          <button type="button" className="danger" onClick={() => void remove()}>
            Delete
          </button>
        </div>
      </Dialog>
    </li>
  );
}
