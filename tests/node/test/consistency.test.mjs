// One commit, one moment: the official ConvexClient subscribes to several queries that every
// write changes, and whenever it reports an update, every one of them must show the same
// moment (the same number of chats). A commit spread over several transitions (a torn view)
// shows up as two queries disagreeing inside one callback.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { ConvexClient } from "convex/browser";
import { anyApi as api } from "convex/server";
import { startKeel } from "../lib/keel.mjs";
import { waitFor } from "../lib/util.mjs";

let keel;
before(async () => {
  keel = await startKeel();
});
after(async () => {
  await keel.stop();
});

test("ConvexClient never shows the queries one commit changed at different moments", async () => {
  const QUERIES = 10;
  const WRITES = 30;
  const { user, token } = await keel.user("moments@example.com");
  const reader = new ConvexClient(keel.url, { logger: false });
  const writer = new ConvexClient(keel.url, { logger: false });
  try {
    reader.setAuth(async () => token);
    const writerToken = await keel.token(user.id, "convex", 600);
    writer.setAuth(async () => writerToken);

    const argsOf = (i) => ({ paginationOpts: { numItems: 100 + i, cursor: null } });
    const torn = [];
    let updates = 0;
    let latest = 0;
    for (let i = 0; i < QUERIES; i++) {
      reader.onUpdate(api.chats.listUserChats, argsOf(i), () => {
        updates++;
        // The client's state right now, as any component would read it.
        const counts = Array.from({ length: QUERIES }, (_, j) => reader.client.localQueryResult("chats:listUserChats", argsOf(j))?.page.length);
        if (counts.every((c) => c !== undefined)) {
          if (new Set(counts).size > 1) torn.push(counts);
          latest = counts[0];
        }
      });
    }
    await waitFor(() => updates >= QUERIES, { message: "every query's first result" });

    for (let i = 0; i < WRITES; i++) {
      // Not awaited one by one: several commits may be in flight at once.
      const burst = [writer.mutation(api.chats.createUserChat, { title: `w${i}a` }), writer.mutation(api.chats.createUserChat, { title: `w${i}b` })];
      await Promise.all(burst);
    }
    await waitFor(() => latest === 2 * WRITES, { message: () => `every write in the subscriptions (at ${latest})` });
    assert.deepEqual(torn, [], "one callback saw two queries at different moments");
  } finally {
    await Promise.all([reader.close(), writer.close()]);
  }
});
