// The React path of the product brief, rendered in Node with jsdom: ConvexReactClient (over `ws`)
// inside ConvexProviderWithClerk, given a Clerk-shaped useAuth backed by Keel's emulator. Three
// "tabs" (own React root, own client): two of one user, one of another. React runs as in a
// browser (no act() environment), and the assertions read the rendered DOM.
import { window, container, closeWindow } from "../lib/dom.mjs";
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import React from "react";
import { createRoot } from "react-dom/client";
import WebSocket from "ws";
import { ConvexReactClient, useQuery, useMutation, useConvexAuth } from "convex/react";
import { ConvexProviderWithClerk } from "convex/react-clerk";
import { anyApi as api } from "convex/server";
import { startKeel } from "../lib/keel.mjs";
import { emulatorClerk } from "../lib/clerk_react.mjs";
import { waitFor, sleep } from "../lib/util.mjs";

const h = React.createElement;

let keel;
const tabs = [];
before(async () => {
  keel = await startKeel();
});
after(async () => {
  for (const tab of tabs) await tab.close();
  closeWindow();
  await keel.stop();
});

class ErrorBoundary extends React.Component {
  state = { error: null };
  static getDerivedStateFromError(error) {
    return { error };
  }
  render() {
    if (!this.state.error) return this.props.children;
    const { error } = this.state;
    return h("p", { className: "chats-error" }, `error: ${error.data?.code ?? error.message}`);
  }
}

/** What a tab renders; `probe` gets the mutation functions and a log of every rendered list. */
function App({ probe }) {
  const { isLoading, isAuthenticated } = useConvexAuth();
  const me = useQuery(api.users.getCurrentUser);
  const store = useMutation(api.users.store);
  probe.createChat = useMutation(api.chats.createUserChat);
  // Convex's guide: store the user once Convex has accepted the token.
  React.useEffect(() => {
    if (isAuthenticated) store({}).then((id) => (probe.userDocId = id));
  }, [isAuthenticated, store]);
  const auth = isLoading ? "loading" : isAuthenticated ? "signed in" : "signed out";
  return h(
    "main",
    null,
    h("p", { className: "auth" }, auth),
    h("p", { className: "me" }, me === undefined ? "…" : me === null ? "nobody" : me.email),
    // A fresh boundary whenever the auth state changes, so signing back in clears an error.
    h(ErrorBoundary, { key: auth }, h(ChatList, { probe })),
  );
}

function ChatList({ probe }) {
  const chats = useQuery(api.chats.listUserChats);
  probe.rendered.push(chats?.map((c) => c.title));
  if (chats === undefined) return h("p", { className: "chats-loading" }, "loading chats");
  return h("ul", { className: "chats" }, ...chats.map((c) => h("li", { key: c._id }, c.title)));
}

/** A tab: its own ConvexReactClient (over `ws`), its own Clerk state, its own React root. */
async function openTab(name, userId) {
  const clerk = emulatorClerk(keel, userId);
  await clerk.signIn();
  const client = new ConvexReactClient(keel.url, { webSocketConstructor: WebSocket, logger: false, unsavedChangesWarning: false });
  const element = container(name);
  const caught = [];
  const root = createRoot(element, { onCaughtError: (error) => caught.push(error) });
  const probe = { rendered: [] };
  root.render(h(ConvexProviderWithClerk, { client, useAuth: clerk.useAuth }, h(App, { probe })));
  const text = (selector) => element.querySelector(selector)?.textContent;
  const tab = {
    name,
    clerk,
    client,
    probe,
    caught,
    element,
    auth: () => text(".auth"),
    me: () => text(".me"),
    error: () => text(".chats-error"),
    /** The rendered chat titles, or null while there is no list. */
    titles: () => (element.querySelector(".chats") ? [...element.querySelectorAll(".chats li")].map((li) => li.textContent) : null),
    everRendered: (title) => probe.rendered.some((list) => list?.includes(title)),
    createChat: (title) => probe.createChat({ title }),
    async close() {
      root.unmount();
      await client.close();
    },
  };
  tabs.push(tab);
  return tab;
}

const waitForDom = (predicate, message, timeoutMs = 10000) => waitFor(predicate, { message, timeoutMs });
const describe = (tab) => `${tab.name}: auth=${tab.auth()} me=${tab.me()} titles=${JSON.stringify(tab.titles())} error=${tab.error()}`;

test("ConvexProviderWithClerk: signed in, lists render, a chat from one tab appears in the other, users are isolated, signing out clears", async () => {
  const alice = (await keel.clerk.users.createUser({ emailAddress: ["alice@example.com"], firstName: "Alice" })).id;
  const bob = (await keel.clerk.users.createUser({ emailAddress: ["bob@example.com"], firstName: "Bob" })).id;
  const one = await openTab("alice-tab-1", alice);
  const two = await openTab("alice-tab-2", alice);
  const bobs = await openTab("bob-tab", bob);
  const all = [one, two, bobs];

  // Signed in: Convex accepted the Clerk token, the user was stored, the (empty) list renders.
  for (const tab of all) {
    await waitForDom(() => tab.auth() === "signed in", () => describe(tab));
  }
  await waitForDom(() => one.me() === "alice@example.com" && two.me() === "alice@example.com" && bobs.me() === "bob@example.com", () => all.map(describe).join("\n"));
  await waitForDom(() => all.every((tab) => tab.titles()?.length === 0), () => all.map(describe).join("\n"));

  // The provider asked Clerk for the `convex` template (the session token has no aud "convex"),
  // first from the cache and then fresh.
  for (const tab of all) {
    assert.ok(tab.clerk.calls.length >= 2, `${tab.name}: ${JSON.stringify(tab.clerk.calls)}`);
    assert.ok(tab.clerk.calls.every((c) => c.template === "convex"));
    assert.equal(tab.clerk.calls[0].skipCache, false);
    assert.ok(tab.clerk.calls.slice(1).every((c) => c.skipCache === true));
  }

  // A chat created in tab one appears in tab two (its own client and socket) within moments.
  const id = await one.createChat("From tab one");
  assert.equal(typeof id, "string");
  const created = Date.now();
  await waitForDom(() => two.titles()?.includes("From tab one"), () => describe(two), 5000);
  assert.ok(Date.now() - created < 5000);
  await waitForDom(() => JSON.stringify(one.titles()) === JSON.stringify(["From tab one"]), () => describe(one), 2000);

  // Bob's own chat shows in Bob's tab only; Bob's tab never rendered Alice's.
  await bobs.createChat("Bob's plans");
  await waitForDom(() => bobs.titles()?.includes("Bob's plans"), () => describe(bobs));
  await sleep(300);
  assert.deepEqual(bobs.titles(), ["Bob's plans"]);
  assert.ok(!bobs.everRendered("From tab one"), "Bob never saw Alice's chat");
  assert.ok(!one.everRendered("Bob's plans") && !two.everRendered("Bob's plans"), "Alice never saw Bob's chat");

  // Signing out in tab one: Convex reports signed out, the current user is null, and the
  // private query fails with UNAUTHENTICATED instead of showing the old list.
  one.clerk.signOut();
  await waitForDom(() => one.auth() === "signed out", () => describe(one));
  await waitForDom(() => one.me() === "nobody", () => describe(one));
  await waitForDom(() => one.error() === "error: UNAUTHENTICATED", () => describe(one));
  assert.equal(one.titles(), null, "no list is shown once signed out");
  assert.ok(one.caught.length > 0 && one.caught.every((e) => e.data?.code === "UNAUTHENTICATED"));

  // Tab two (its own client) stays signed in and live; tab one receives nothing more.
  const renderedBefore = one.probe.rendered.length;
  await two.createChat("After tab one signed out");
  await waitForDom(() => two.titles()?.[0] === "After tab one signed out", () => describe(two));
  assert.equal(two.auth(), "signed in");
  await sleep(500);
  assert.equal(one.titles(), null);
  assert.ok(!one.probe.rendered.slice(renderedBefore).some((l) => l?.includes("After tab one signed out")));

  // Signing in again in tab one brings the live list back, with everything made meanwhile.
  await one.clerk.signIn();
  await waitForDom(() => one.auth() === "signed in", () => describe(one));
  await waitForDom(() => JSON.stringify(one.titles()) === JSON.stringify(["After tab one signed out", "From tab one"]), () => describe(one));
  assert.equal(one.me(), "alice@example.com");
  assert.deepEqual(bobs.titles(), ["Bob's plans"]);
  assert.ok(window.document.querySelectorAll("main").length === 3);
});
