// Compile-time checks of the generated API (`npm run typecheck`; nothing here runs). Each
// `@ts-expect-error` line must fail to type-check: if the API lost its types, tsc reports the
// directive as unused and the check fails.
import type { FunctionArgs, FunctionReturnType } from "convex/server";
import { api } from "./api";
import type { Id } from "../convex/_generated/dataModel";

declare const chatId: Id<"chats">;
declare const userId: Id<"users">;
const page = { numItems: 10, cursor: null };

export const rename: FunctionArgs<typeof api.chats.update> = { id: chatId, title: "Plans" };
export const search: FunctionArgs<typeof api.users.list> = { search: "ada", status: "active", paginationOpts: page };
export const title = (chat: FunctionReturnType<typeof api.chats.get>): string => chat.title;
export const emails = (users: FunctionReturnType<typeof api.users.list>) => users.page.map((u) => u.email);

// @ts-expect-error a plain string is not a chat id
export const plainString: FunctionArgs<typeof api.chats.update> = { id: "abc", title: "Plans" };
// @ts-expect-error another table's id is not a chat id
export const otherTable: FunctionArgs<typeof api.chats.get> = { id: userId };
// @ts-expect-error a required argument is missing
export const missing: FunctionArgs<typeof api.chats.update> = { id: chatId };
// @ts-expect-error an argument of the wrong type
export const wrongType: FunctionArgs<typeof api.users.list> = { search: 5, paginationOpts: page };
// @ts-expect-error a status the server does not know
export const wrongStatus: FunctionArgs<typeof api.users.list> = { status: "banned", paginationOpts: page };
// @ts-expect-error results have only their declared fields
export const noSuchField = (chat: FunctionReturnType<typeof api.chats.get>) => chat.owner;
// @ts-expect-error internal functions are not in `api`
export const internalFunction = api.clerk.applyWebhook;
