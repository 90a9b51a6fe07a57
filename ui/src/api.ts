// The generated API (`keel codegen` writes ../convex/_generated from the Rust functions) and
// short names for the document types the pages share.
import type { AnyDocument, Doc } from "../convex/_generated/dataModel";

export { api } from "../convex/_generated/api";
export type { UserStatus } from "../convex/_generated/api";
export type { DeliveryOutcome } from "../convex/_generated/dataModel";

export type Chat = Doc<"chats">;
export type UserDoc = Doc<"users">;
export type OrganizationDoc = Doc<"organizations">;
export type AnyDoc = AnyDocument;
