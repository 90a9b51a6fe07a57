// `usePaginatedQuery` from convex/react against `chats:listUserChats`, rendered in Node with
// jsdom: live pages, loadMore, the end of the list, and pages that grow rather than shift when
// a chat is added (Convex keeps every loaded item on screen).
import { container, closeWindow } from "../lib/dom.mjs";
import { test, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import React from "react";
import { createRoot } from "react-dom/client";
import WebSocket from "ws";
import { ConvexReactClient, ConvexProvider, usePaginatedQuery } from "convex/react";
import { ConvexHttpClient } from "convex/browser";
import { anyApi as api } from "convex/server";
import { startKeel } from "../lib/keel.mjs";
import { waitFor } from "../lib/util.mjs";

const h = React.createElement;

let keel;
before(async () => {
  keel = await startKeel();
});
after(async () => {
  closeWindow();
  await keel.stop();
});
const cleanups = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

function Feed({ probe, initialNumItems }) {
  const { results, status, loadMore } = usePaginatedQuery(api.chats.listUserChats, {}, { initialNumItems });
  probe.loadMore = loadMore;
  return h("section", null, h("p", { className: "status" }, status), h("ol", { className: "feed" }, ...results.map((c) => h("li", { key: c._id }, c.title))));
}

/** A signed-in user with `titles` created oldest first, a feed rendered for them, and a writer. */
async function feedFor(email, titles, initialNumItems) {
  const { token } = await keel.user(email);
  const writer = new ConvexHttpClient(keel.url);
  writer.setAuth(token);
  for (const title of titles) await writer.mutation(api.chats.createUserChat, { title });
  const client = new ConvexReactClient(keel.url, { webSocketConstructor: WebSocket, logger: false, unsavedChangesWarning: false });
  client.setAuth(async () => token);
  const element = container(email);
  const root = createRoot(element);
  const probe = {};
  root.render(h(ConvexProvider, { client }, h(Feed, { probe, initialNumItems })));
  cleanups.push(async () => {
    root.unmount();
    element.remove();
    await client.close();
  });
  const view = {
    writer,
    status: () => element.querySelector(".status")?.textContent,
    titles: () => [...element.querySelectorAll(".feed li")].map((li) => li.textContent),
    describe: () => `status=${view.status()} titles=${JSON.stringify(view.titles())}`,
    /** Waits until the feed shows exactly `titles` with `status`. */
    shows: (titles, status) =>
      waitFor(() => view.status() === status && JSON.stringify(view.titles()) === JSON.stringify(titles), {
        timeoutMs: 5000,
        message: () => `${JSON.stringify(titles)} ${status}; the feed shows ${view.describe()}`,
      }),
    loadMore: (n) => probe.loadMore(n),
    create: (title) => writer.mutation(api.chats.createUserChat, { title }),
  };
  return view;
}

test("loadMore fetches the next page, in order, until the list is exhausted", async () => {
  const feed = await feedFor("pages@example.com", ["a", "b", "c", "d", "e"], 2);
  await feed.shows(["e", "d"], "CanLoadMore");
  feed.loadMore(2);
  await feed.shows(["e", "d", "c", "b"], "CanLoadMore");
  feed.loadMore(2);
  await feed.shows(["e", "d", "c", "b", "a"], "Exhausted");
});

test("a live first page grows when a chat is added, and keeps the items it showed", async () => {
  const feed = await feedFor("grow@example.com", ["a"], 3);
  await feed.shows(["a"], "Exhausted");
  await feed.create("b");
  await feed.shows(["b", "a"], "Exhausted");
  await feed.create("c");
  await feed.shows(["c", "b", "a"], "Exhausted");
  // A fourth chat on a page of three: the page grows (as Convex's pages do); nothing that was
  // on screen disappears.
  await feed.create("d");
  await feed.shows(["d", "c", "b", "a"], "Exhausted");
});

test("with every page loaded, a new chat appears on top and no loaded chat is lost or repeated", async () => {
  const feed = await feedFor("all-pages@example.com", ["a", "b", "c", "d", "e"], 2);
  await feed.shows(["e", "d"], "CanLoadMore");
  feed.loadMore(2);
  await feed.shows(["e", "d", "c", "b"], "CanLoadMore");
  feed.loadMore(2);
  await feed.shows(["e", "d", "c", "b", "a"], "Exhausted");
  await feed.create("f");
  await feed.shows(["f", "e", "d", "c", "b", "a"], "Exhausted");
  // And on a page before the last one: the second page loses one and keeps the rest.
  const toRemove = (await feed.writer.query(api.chats.listUserChats, {})).find((c) => c.title === "c");
  await feed.writer.mutation(api.chats.remove, { id: toRemove._id });
  await feed.shows(["f", "e", "d", "b", "a"], "Exhausted");
});

test("page splits: a page bounded by endCursor ends exactly there, whatever numItems says", async () => {
  const { token } = await keel.user("split@example.com");
  const client = new ConvexHttpClient(keel.url);
  client.setAuth(token);
  for (const title of ["a", "b", "c", "d", "e"]) await client.mutation(api.chats.createUserChat, { title });
  const four = await client.query(api.chats.listUserChats, { paginationOpts: { numItems: 4, cursor: null } });
  assert.deepEqual(four.page.map((c) => c.title), ["e", "d", "c", "b"]);
  // usePaginatedQuery splits a grown page into [cursor, splitCursor) and [splitCursor, end):
  // both halves carry `endCursor`, and a page with `endCursor` stops at it.
  const two = await client.query(api.chats.listUserChats, { paginationOpts: { numItems: 2, cursor: null } });
  const bounded = await client.query(api.chats.listUserChats, { paginationOpts: { numItems: 2, cursor: null, endCursor: four.continueCursor, id: 7 } });
  assert.deepEqual(bounded.page.map((c) => c.title), ["e", "d", "c", "b"], "the page runs to endCursor");
  assert.equal(bounded.continueCursor, four.continueCursor);
  const rest = await client.query(api.chats.listUserChats, { paginationOpts: { numItems: 1, cursor: two.continueCursor, endCursor: four.continueCursor } });
  assert.deepEqual(rest.page.map((c) => c.title), ["c", "b"], "the second half of a split");
  assert.equal(rest.continueCursor, four.continueCursor);
});

test("isDone and continueCursor at the end of the list, and an empty list", async () => {
  const { token } = await keel.user("ends@example.com");
  const client = new ConvexHttpClient(keel.url);
  client.setAuth(token);
  const empty = await client.query(api.chats.listUserChats, { paginationOpts: { numItems: 3, cursor: null } });
  assert.deepEqual(empty.page, []);
  assert.equal(empty.isDone, true);
  assert.equal(typeof empty.continueCursor, "string");
  for (const title of ["a", "b"]) await client.mutation(api.chats.createUserChat, { title });
  const exact = await client.query(api.chats.listUserChats, { paginationOpts: { numItems: 2, cursor: null } });
  assert.deepEqual(exact.page.map((c) => c.title), ["b", "a"]);
  assert.equal(exact.isDone, true, "a page that reaches the end says so");
  const after = await client.query(api.chats.listUserChats, { paginationOpts: { numItems: 2, cursor: exact.continueCursor } });
  assert.deepEqual(after.page, []);
  assert.equal(after.isDone, true);
});
