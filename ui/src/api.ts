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

export type UserDoc = {
  _id: string;
  _creationTime: number;
  clerkUserId: string;
  email: string | null;
  firstName: string | null;
  lastName: string | null;
  username?: string | null;
  imageUrl?: string | null;
  role?: string | null;
  status?: "active" | "deleted";
  isActive?: boolean;
  deletedAt?: number | null;
  createdAt?: number;
  updatedAt?: number;
  lastSignInAt?: number | null;
};

export type UserStatusFilter = "all" | "active" | "deleted";

export type DeliveryOutcome = "applied" | "stale" | "deferred" | "ignored" | "unchanged" | "duplicate" | "rejected";

export type Delivery = {
  _id: string;
  _creationTime: number;
  svixId: string | null;
  type: string | null;
  objectId?: string | null;
  outcome: DeliveryOutcome;
  reason?: string;
  httpStatus?: number;
  receivedAt: number;
};

export type OrganizationDoc = {
  _id: string;
  _creationTime: number;
  clerkOrgId: string;
  name: string;
  slug: string | null;
  imageUrl?: string | null;
  createdAt: number;
  updatedAt: number;
  isActive: boolean;
};

export type Member = {
  clerkUserId: string;
  role: string | null;
  firstName: string | null;
  lastName: string | null;
  email: string | null;
};

export type TableSummary = { name: string; count: number; atLeast: boolean };

export type AnyDoc = { _id: string; _creationTime: number; [field: string]: unknown };

export type ViewerInfo = {
  subject: string;
  name: string | null;
  email: string | null;
  isAdmin: boolean;
};

export const api = {
  webhooks: {
    recent: makeFunctionReference<
      "query",
      { outcome?: DeliveryOutcome; paginationOpts: PaginationOptions },
      PaginationResult<Delivery>
    >("webhooks:recent"),
  },
  organizations: {
    list: makeFunctionReference<
      "query",
      { includeDeleted?: boolean; paginationOpts: PaginationOptions },
      PaginationResult<OrganizationDoc>
    >("organizations:list"),
    members: makeFunctionReference<"query", { clerkOrgId: string }, Member[]>("organizations:members"),
  },
  data: {
    tables: makeFunctionReference<"query", Record<string, never>, TableSummary[]>("data:tables"),
    page: makeFunctionReference<"query", { table: string; paginationOpts: PaginationOptions }, PaginationResult<AnyDoc>>(
      "data:page",
    ),
    get: makeFunctionReference<"query", { id: string }, AnyDoc | null>("data:get"),
  },
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
    list: makeFunctionReference<
      "query",
      { search?: string; status?: UserStatusFilter; role?: string; paginationOpts: PaginationOptions },
      PaginationResult<UserDoc>
    >("users:list"),
    getByClerkId: makeFunctionReference<"query", { clerkUserId: string }, UserDoc | null>("users:getByClerkId"),
    adminCreate: makeFunctionReference<
      "action",
      { email: string; firstName?: string | null; lastName?: string | null },
      { userId: string }
    >("users:adminCreate"),
    adminUpdate: makeFunctionReference<
      "action",
      { userId: string; firstName?: string | null; lastName?: string | null },
      { userId: string }
    >("users:adminUpdate"),
    adminDelete: makeFunctionReference<"action", { userId: string }, { userId: string }>("users:adminDelete"),
  },
};
