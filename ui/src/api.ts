// Function references for the slice before `keel codegen` lands; replaced by
// `../convex/_generated/api` then.
import { makeFunctionReference } from "convex/server";
import type { PaginationOptions, PaginationResult } from "convex/server";

export type Chat = {
  _id: string;
  _creationTime: number;
  userId: string;
  title: string;
  createdAt: number;
  updatedAt: number;
};

export type ViewerInfo = {
  subject: string;
  name: string | null;
  email: string | null;
  isAdmin: boolean;
};

export const api = {
  chats: {
    listUserChats: makeFunctionReference<"query", { paginationOpts: PaginationOptions }, PaginationResult<Chat>>(
      "chats:listUserChats",
    ),
    get: makeFunctionReference<"query", { id: string }, Chat>("chats:get"),
    createUserChat: makeFunctionReference<"mutation", { title: string }, string>("chats:createUserChat"),
    update: makeFunctionReference<"mutation", { id: string; title: string }, null>("chats:update"),
    remove: makeFunctionReference<"mutation", { id: string }, null>("chats:remove"),
  },
  users: {
    store: makeFunctionReference<"mutation", Record<string, never>, unknown>("users:store"),
    viewer: makeFunctionReference<"query", Record<string, never>, ViewerInfo | null>("users:viewer"),
  },
};
