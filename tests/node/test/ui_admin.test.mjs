// The admin screens in Chromium against a real `keel dev`: Users (search, status filter, add,
// edit and delete through Clerk's Backend API with the table changing when the webhook comes
// back, Clerk's refusal shown in the dialog, keyboard), Webhooks, Organizations and Data; and
// a non-admin who sees none of it and whom `users:adminCreate` refuses.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { ConvexHttpClient } from "convex/browser";
import { anyApi as api } from "convex/server";
import { ConvexError } from "convex/values";
import { startKeel } from "../lib/keel.mjs";
import { launchBrowser, signUpThroughPage } from "../lib/browser.mjs";

let keel;
let browser;
// `KEEL_SCREENSHOTS=<dir>` saves the screens the README shows.
const screenshots = process.env.KEEL_SCREENSHOTS;

before(async () => {
  keel = await startKeel();
  browser = await launchBrowser();
  if (screenshots) mkdirSync(screenshots, { recursive: true });
});

after(async () => {
  await browser?.close();
  await keel?.stop();
});

async function shot(page, name) {
  if (screenshots) await page.screenshot({ path: join(screenshots, `${name}.png`) });
}

function row(page, email) {
  return page.getByRole("row", { name: email });
}

test("an admin manages users through Clerk and watches the webhooks come back", async () => {
  const page = await (await browser.newContext({ viewport: { width: 1200, height: 800 } })).newPage();
  await signUpThroughPage(page, keel.url, { email: "admin@example.com", firstName: "Ada", lastName: "Admin", admin: true });
  for (const name of ["Chats", "Users", "Organizations", "Webhooks", "Data"]) {
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name }).waitFor();
  }
  await page.getByRole("link", { name: "Users" }).click();
  await page.waitForURL(/\/users$/);
  for (const header of ["Name", "Email", "Status", "Role"]) {
    await page.getByRole("columnheader", { name: header }).waitFor();
  }
  await row(page, "admin@example.com").waitFor();

  // Add a user: Clerk accepts, the webhook brings the row.
  await page.getByRole("button", { name: "Add user" }).click();
  let dialog = page.getByRole("dialog");
  await dialog.getByRole("textbox", { name: "Email" }).fill("grace@example.com");
  await dialog.getByRole("textbox", { name: "First name" }).fill("Grace");
  await dialog.getByRole("textbox", { name: "Last name" }).fill("Hopper");
  await dialog.getByRole("button", { name: "Create" }).click();
  await dialog.waitFor({ state: "detached" });
  await row(page, "grace@example.com").waitFor();
  assert.match(await row(page, "grace@example.com").innerText(), /Grace Hopper/);

  // Clerk refuses a taken address: the dialog stays open with Clerk's words.
  await page.getByRole("button", { name: "Add user" }).click();
  dialog = page.getByRole("dialog");
  await dialog.getByRole("textbox", { name: "Email" }).fill("grace@example.com");
  await dialog.getByRole("button", { name: "Create" }).click();
  const alert = dialog.getByRole("alert");
  await alert.waitFor();
  assert.match(await alert.innerText(), /taken|exists|already/i);
  await shot(page, "users-dialog");
  // Escape closes it and gives focus back to the button that opened it.
  await page.keyboard.press("Escape");
  await dialog.waitFor({ state: "detached" });
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), "Add user");

  // Search and the status filter.
  await page.getByRole("searchbox", { name: "Search users" }).fill("gra");
  await page.waitForFunction(() => !document.body.innerText.includes("admin@example.com"));
  await row(page, "grace@example.com").waitFor();
  await page.getByRole("searchbox", { name: "Search users" }).fill("");
  await row(page, "admin@example.com").waitFor();

  // Edit, through the same dialog.
  await row(page, "grace@example.com").getByRole("button", { name: "Edit" }).click();
  dialog = page.getByRole("dialog");
  await dialog.getByRole("textbox", { name: "First name" }).fill("Amazing Grace");
  await dialog.getByRole("button", { name: "Save" }).click();
  await dialog.waitFor({ state: "detached" });
  await page.waitForFunction(() => document.body.innerText.includes("Amazing Grace Hopper"));

  // Delete asks first; the row turns Deleted when user.deleted arrives.
  await row(page, "grace@example.com").getByRole("button", { name: "Delete" }).click();
  dialog = page.getByRole("dialog");
  await dialog.getByRole("button", { name: "Delete" }).click();
  await dialog.waitFor({ state: "detached" });
  await page.getByRole("combobox", { name: "Status" }).selectOption("deleted");
  await row(page, "grace@example.com").waitFor();
  assert.match(await row(page, "grace@example.com").innerText(), /Deleted/);
  assert.equal(await row(page, "admin@example.com").count(), 0);
  await page.getByRole("combobox", { name: "Status" }).selectOption("active");
  await row(page, "admin@example.com").waitFor();
  assert.equal(await row(page, "grace@example.com").count(), 0);

  // Webhooks: the deliveries behind all of that, filterable by outcome.
  await page.getByRole("link", { name: "Webhooks" }).click();
  await page.getByRole("cell", { name: "user.deleted" }).first().waitFor();
  await page.getByRole("cell", { name: "user.created" }).first().waitFor();
  await shot(page, "webhooks");
  await page.getByRole("combobox", { name: "Outcome" }).selectOption("rejected");
  await page.getByText("No deliveries with outcome “rejected”").waitFor();

  // Data: pick a table, open a document as JSON.
  await page.getByRole("link", { name: "Data" }).click();
  await page.getByRole("navigation", { name: "Tables" }).getByRole("link", { name: /^users/ }).click();
  await page.getByRole("list", { name: "Documents in users" }).getByRole("button").first().click();
  const json = page.locator("pre.json");
  await json.waitFor();
  assert.match(await json.innerText(), /"clerkUserId": "user_/);
});

test("a non-admin sees no admin screens and users:adminCreate refuses them", async () => {
  const page = await (await browser.newContext()).newPage();
  await signUpThroughPage(page, keel.url, { email: "member@example.com", firstName: "Mere", lastName: "Member" });
  await page.getByRole("heading", { name: "Chats" }).waitFor();
  if (screenshots) {
    for (const title of ["Trip to Lisbon", "Reading list", "Quarterly plan"]) {
      await page.getByRole("button", { name: "New chat" }).click();
      await page.getByRole("textbox", { name: "Title" }).fill(title);
      await page.getByRole("button", { name: "Save" }).click();
      await page.getByRole("link", { name: title }).waitFor();
    }
    await shot(page, "chats");
  }
  const nav = page.getByRole("navigation", { name: "Main" });
  await nav.getByRole("link", { name: "Chats" }).waitFor();
  for (const name of ["Users", "Organizations", "Webhooks", "Data"]) {
    assert.equal(await nav.getByRole("link", { name }).count(), 0, name);
  }
  await page.goto(`${keel.url}/users`);
  const alert = page.getByRole("alert");
  await alert.waitFor();
  assert.match(await alert.innerText(), /Access denied/);

  // Whatever a client sends, the action refuses.
  const { user } = await keel.clerk.users.getUserList({ emailAddress: ["member@example.com"] }).then((r) => ({ user: r.data[0] }));
  const client = new ConvexHttpClient(keel.url);
  client.setAuth(await keel.token(user.id));
  await assert.rejects(client.action(api.users.adminCreate, { email: "sneaky@example.com" }), (e) => {
    assert.ok(e instanceof ConvexError, String(e));
    assert.equal(e.data.code, "FORBIDDEN");
    return true;
  });
});

test("the dashboard works at 375 px wide", async () => {
  const page = await (await browser.newContext({ viewport: { width: 375, height: 740 } })).newPage();
  await signUpThroughPage(page, keel.url, { email: "phone@example.com", firstName: "Pho", lastName: "Ne" });
  await page.getByRole("button", { name: "New chat" }).click();
  await page.getByRole("textbox", { name: "Title" }).fill("On the go");
  await page.getByRole("button", { name: "Save" }).click();
  await page.getByRole("link", { name: "On the go" }).waitFor();
  // Nothing spills sideways, and every control is on screen.
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `page is ${overflow}px wider than the screen`);
  for (const name of ["New chat", "Rename", "Delete", "Sign out"]) {
    const box = await page.getByRole("button", { name }).first().boundingBox();
    assert.ok(box && box.x >= 0 && box.x + box.width <= 375, `${name} at ${JSON.stringify(box)}`);
  }
});
