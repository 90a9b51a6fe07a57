// The chat mutations with their optimistic updates: the list changes at once, and Convex
// rolls a change back by itself if the server refuses it.
import { useMutation } from "convex/react";
import type { OptimisticLocalStore } from "convex/browser";
import { insertAtTop, optimisticallyUpdateValueInPaginatedQuery } from "convex/react";
import { api } from "../api";
import type { Id } from "../../convex/_generated/dataModel";

const LIST_ARGS = {};

/** A placeholder row (not a link yet: it has no id) until the server answers. */
function showCreated(store: OptimisticLocalStore, args: { title: string }) {
  const now = Date.now();
  insertAtTop({
    paginatedQuery: api.chats.pageUserChats,
    argsToMatch: LIST_ARGS,
    localQueryStore: store,
    // Not a real id: the row renders without a link until the server answers.
    item: { _id: `optimistic:${now}` as Id<"chats">, _creationTime: now, userId: "", title: args.title, createdAt: now, updatedAt: now },
  });
}

export function useCreateChat() {
  return useMutation(api.chats.createUserChat).withOptimisticUpdate(showCreated);
}

export function useRenameChat() {
  return useMutation(api.chats.update).withOptimisticUpdate((store, args) => {
    optimisticallyUpdateValueInPaginatedQuery(store, api.chats.pageUserChats, LIST_ARGS, (chat) =>
      chat._id === args.id ? { ...chat, title: args.title } : chat,
    );
    const single = store.getQuery(api.chats.get, { id: args.id });
    if (single) store.setQuery(api.chats.get, { id: args.id }, { ...single, title: args.title });
  });
}

export function useDeleteChat() {
  return useMutation(api.chats.remove).withOptimisticUpdate((store, args) => {
    for (const { args: pageArgs, value } of store.getAllQueries(api.chats.pageUserChats)) {
      if (!value) continue;
      store.setQuery(api.chats.pageUserChats, pageArgs, {
        ...value,
        page: value.page.filter((chat) => chat._id !== args.id),
      });
    }
  });
}

export { LIST_ARGS };
