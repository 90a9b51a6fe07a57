// Transitions over KEEL_SYNC_TRANSITION_CHUNK_BYTES go out as TransitionChunk messages, as
// Convex's backend sends large ones; the official client joins them back into one Transition.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { ConvexClient } from "convex/browser";
import { anyApi as api } from "convex/server";
import { startKeel } from "../lib/keel.mjs";
import { recordingWebSocket, describeFrames, within } from "../lib/util.mjs";

const CHUNK_BYTES = 2048;
let keel;
before(async () => {
  keel = await startKeel({ env: { KEEL_SYNC_TRANSITION_CHUNK_BYTES: String(CHUNK_BYTES) } });
});
after(async () => {
  await keel.stop();
});

test("a large transition arrives in chunks and the client assembles it", async () => {
  const { user } = await keel.user("chunks@example.com");
  const frames = [];
  const client = new ConvexClient(keel.url, { webSocketConstructor: recordingWebSocket(frames), logger: false });
  client.setAuth(() => keel.token(user.id));
  try {
    const titles = Array.from({ length: 24 }, (_, i) => `chat ${String(i).padStart(2, "0")} ${"é漢🚀".repeat(30)}`);
    for (const title of titles) {
      await client.mutation(api.chats.createUserChat, { title });
    }
    const list = await within(
      new Promise((resolve, reject) => {
        const unsubscribe = client.onUpdate(api.chats.listUserChats, {}, (chats) => {
          if (chats.length === titles.length) {
            unsubscribe();
            resolve(chats);
          }
        }, reject);
      }),
      10000,
      () => `the whole list; frames:\n${describeFrames(frames)}`,
    );
    assert.deepEqual(list.map((c) => c.title).sort(), [...titles].sort());

    const chunks = frames.filter((f) => f.dir === "in" && f.data?.type === "TransitionChunk");
    assert.ok(chunks.length >= 2, `TransitionChunk messages were sent:\n${describeFrames(frames)}`);
    const first = chunks[0].data;
    assert.equal(first.partNumber, 0);
    assert.ok(first.totalParts >= 2);
    for (const { data } of chunks) {
      assert.ok(JSON.stringify(data).length <= CHUNK_BYTES + 200, "each chunk message stays near the limit");
    }
  } finally {
    await client.close();
  }
});
