// What the web app shows while the system is between states: a user Clerk accepted whose
// webhook is late is marked "pending sync" until it lands, and a lost connection puts up a
// banner that goes away, with the data still there, once Keel is back.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { startKeel } from "../lib/keel.mjs";
import { launchBrowser, signUpThroughPage } from "../lib/browser.mjs";

const cleanup = [];
after(async () => {
  for (const step of cleanup.reverse()) await step();
});

test("a created user is pending sync until Clerk's webhook, dropped once, is retried", async () => {
  // The emulator drops every first delivery attempt; its retry comes a second later.
  const keel = await startKeel({ env: { KEEL_EMULATOR_FAULTS: "drop=1,seed=3" } });
  cleanup.push(() => keel.stop());
  const browser = await launchBrowser();
  cleanup.push(() => browser.close());
  const page = await browser.newPage();
  await signUpThroughPage(page, keel.url, { email: "boss@example.com", firstName: "Bo", lastName: "Ss", admin: true, path: "/users" });
  await page.getByRole("columnheader", { name: "Email" }).waitFor();

  await page.getByRole("button", { name: "Add user" }).click();
  const dialog = page.getByRole("dialog");
  await dialog.getByRole("textbox", { name: "Email" }).fill("late@example.com");
  await dialog.getByRole("button", { name: "Create" }).click();
  await dialog.waitFor({ state: "detached" });
  const pending = page.getByRole("status").filter({ hasText: "late@example.com" });
  await pending.waitFor();
  assert.match(await pending.innerText(), /pending sync/);
  // The retried webhook brings the row and ends the pending state.
  await page.getByRole("row", { name: "late@example.com" }).waitFor({ timeout: 15000 });
  await pending.waitFor({ state: "detached" });
});

test("a lost connection shows a banner, and the page carries on when Keel is back", async () => {
  let keel = await startKeel();
  cleanup.push(() => keel.stop());
  const browser = await launchBrowser();
  cleanup.push(() => browser.close());
  const page = await browser.newPage();
  await signUpThroughPage(page, keel.url, { email: "steady@example.com" });
  await page.getByRole("button", { name: "New chat" }).click();
  await page.getByRole("textbox", { name: "Title" }).fill("Survives restarts");
  await page.getByRole("button", { name: "Save" }).click();
  await page.getByRole("link", { name: "Survives restarts" }).waitFor();

  await keel.stop({ keepData: true });
  const banner = page.getByRole("status").filter({ hasText: "Connection lost" });
  await banner.waitFor({ timeout: 10000 });
  // Still on screen while offline.
  await page.getByRole("link", { name: "Survives restarts" }).waitFor();

  keel = await keel.restart();
  await banner.waitFor({ state: "detached", timeout: 30000 });
  // Live again: a change made now shows.
  await page.getByRole("button", { name: "New chat" }).click();
  await page.getByRole("textbox", { name: "Title" }).fill("After the restart");
  await page.getByRole("button", { name: "Save" }).click();
  await page.getByRole("link", { name: "After the restart" }).waitFor();
});
