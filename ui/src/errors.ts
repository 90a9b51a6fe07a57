import { ConvexError } from "convex/values";

/** Words for a failed call: Keel's `errorData.message` (a `ConvexError`), else a generic line. */
export function errorText(error: unknown): string {
  if (error instanceof ConvexError) {
    const data = error.data as unknown;
    if (typeof data === "string") return data;
    if (data && typeof data === "object" && "message" in data && typeof data.message === "string") {
      return data.message;
    }
  }
  return "Something went wrong. Please try again.";
}

/** Keel's `errorData.code` (`NOT_FOUND`, `FORBIDDEN`, …), if any. */
export function errorCode(error: unknown): string | null {
  if (error instanceof ConvexError) {
    const data = error.data as unknown;
    if (data && typeof data === "object" && "code" in data && typeof data.code === "string") return data.code;
  }
  return null;
}
