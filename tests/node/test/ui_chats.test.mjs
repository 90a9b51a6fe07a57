// The web app's chats dashboard in Chromium, against a real `keel dev`: sign-in through the
// emulator's page, create/rename/delete with optimistic updates and a refused rename rolling
// back, live updates across tabs, privacy between users, sign-out, and deep-link reloads.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startKeel } from "../lib/keel.mjs";
import { launchBrowser, signUpThroughPage } from "../lib/browser.mjs";

let keel;
let browser;

before(async () => {
  keel = await startKeel();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await keel?.stop();
});

/** Records every title the chat list shows, so a change that came and went can be seen. */
async function recordTitles(page) {
  await page.evaluate(() => {
    window.__titles = new Set();
    const record = () => {
      for (const el of document.querySelectorAll(".chat-title a, .chat-title span")) window.__titles.add(el.textContent);
    };
    new MutationObserver(record).observe(document.body, { subtree: true, childList: true, characterData: true });
  });
}

test("a person signs in, manages chats, sees them live in a second tab, and signs out", async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await signUpThroughPage(page, keel.url, { email: "ada@example.com", firstName: "Ada", lastName: "Lovelace" });
  assert.equal(new URL(page.url()).pathname, "/");
  await page.getByRole("heading", { name: "Chats" }).waitFor();
  await page.getByText("No chats yet").waitFor();

  // A second tab of the same browser is the same person.
  const second = await context.newPage();
  await second.goto(keel.url);
  await second.getByText("No chats yet").waitFor();
  await page.bringToFront();

  // Create: the new chat opens in rename mode.
  await page.getByRole("button", { name: "New chat" }).click();
  const title = page.getByRole("textbox", { name: "Title" });
  await title.fill("Groceries");
  await page.getByRole("button", { name: "Save" }).click();
  await page.getByRole("link", { name: "Groceries" }).waitFor();
  await second.getByRole("link", { name: "Groceries" }).waitFor();

  // A refused rename shows at once, then rolls back with the server's words.
  await recordTitles(page);
  const tooLong = "x".repeat(201);
  await page.getByRole("button", { name: "Rename" }).click();
  await page.getByRole("textbox", { name: "Title" }).fill(tooLong);
  await page.getByRole("button", { name: "Save" }).click();
  const alert = page.getByRole("alert");
  await alert.waitFor();
  assert.match(await alert.innerText(), /Rename failed: `title` must be at most 200 characters/);
  await page.getByRole("link", { name: "Groceries" }).waitFor();
  const seen = await page.evaluate(() => [...window.__titles]);
  assert.ok(seen.includes(tooLong), "the refused title was shown optimistically before the rollback");
  assert.equal(await page.getByText(tooLong).count(), 0);

  // An accepted rename reaches the other tab.
  await page.getByRole("button", { name: "Rename" }).click();
  await page.getByRole("textbox", { name: "Title" }).fill("Groceries for Sunday");
  await page.getByRole("button", { name: "Save" }).click();
  await second.getByRole("link", { name: "Groceries for Sunday" }).waitFor();

  // A deep link survives a reload.
  await second.getByRole("link", { name: "Groceries for Sunday" }).click();
  await second.waitForURL(/\/chats\//);
  await second.reload();
  await second.getByRole("heading", { name: "Groceries for Sunday" }).waitFor();

  // Delete asks first, then the chat goes from every tab.
  await page.bringToFront();
  await page.getByRole("button", { name: "New chat" }).click();
  await page.getByRole("textbox", { name: "Title" }).fill("Old notes");
  await page.getByRole("button", { name: "Save" }).click();
  const oldRow = page.getByRole("listitem", { name: "Old notes" });
  await oldRow.getByRole("button", { name: "Delete" }).click();
  const dialog = page.getByRole("dialog");
  await dialog.waitFor();
  await dialog.getByRole("button", { name: "Delete" }).click();
  await oldRow.waitFor({ state: "detached" });
  await second.goto(keel.url);
  await second.getByRole("link", { name: "Groceries for Sunday" }).waitFor();
  assert.equal(await second.getByText("Old notes").count(), 0);

  // Signing out clears every private item at once.
  await page.bringToFront();
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByRole("heading", { name: "You are signed out" }).waitFor();
  assert.equal(await page.getByText("Groceries").count(), 0);
  assert.equal(await page.getByText("Ada Lovelace").count(), 0);

  // The other tab's session was the same one: it can no longer refresh and says so.
  await second.reload();
  await second.waitForURL(/\/_clerk\/sign-in/);
  await context.close();
});

test("one person never sees another's chats", async () => {
  const alice = await (await browser.newContext()).newPage();
  await signUpThroughPage(alice, keel.url, { email: "alice@example.com", firstName: "Alice" });
  await alice.getByRole("button", { name: "New chat" }).click();
  await alice.getByRole("textbox", { name: "Title" }).fill("Alice's secret plan");
  await alice.getByRole("button", { name: "Save" }).click();
  const link = alice.getByRole("link", { name: "Alice's secret plan" });
  await link.waitFor();
  const chatPath = await link.getAttribute("href");

  const bob = await (await browser.newContext()).newPage();
  await signUpThroughPage(bob, keel.url, { email: "bob@example.com", firstName: "Bob" });
  await bob.getByText("No chats yet").waitFor();
  assert.equal(await bob.getByText("Alice's secret plan").count(), 0);
  // Her chat's address tells him nothing either.
  await bob.goto(`${keel.url}${chatPath}`);
  const alert = bob.getByRole("alert");
  await alert.waitFor();
  assert.match(await alert.innerText(), /not found/);
  assert.equal(await bob.getByText("Alice's secret plan").count(), 0);
});

test("an existing user signs in by picking their button on the sign-in page", async () => {
  const first = await (await browser.newContext()).newPage();
  await signUpThroughPage(first, keel.url, { email: "grace@example.com", firstName: "Grace", lastName: "Hopper" });
  await first.getByRole("button", { name: "New chat" }).click();
  await first.getByRole("textbox", { name: "Title" }).fill("Compilers");
  await first.getByRole("button", { name: "Save" }).click();
  await first.getByRole("link", { name: "Compilers" }).waitFor();

  const page = await (await browser.newContext()).newPage();
  await page.goto(`${keel.url}/`);
  await page.waitForURL(/\/_clerk\/sign-in/);
  await page.getByRole("button", { name: /grace@example\.com/ }).click();
  await page.getByRole("link", { name: "Compilers" }).waitFor();
});
