// Debian's Chromium driven by playwright-core (never a browser a tool downloads), and the
// emulator's sign-in page as a person uses it. Same flags as tests/node/lib/browser.mjs.
import { chromium } from "playwright-core";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--no-first-run",
];

export const VIEWPORT = { width: 1200, height: 800 };

export function launchBrowser() {
  return chromium.launch({ executablePath: CHROMIUM, args: FLAGS, headless: true });
}

/** Opens the app signed out, creates an admin on `/_clerk/sign-in`, lands on the dashboard. */
export async function signInAsAdmin(page, keelUrl, email) {
  await page.goto(`${keelUrl}/`);
  await page.waitForURL(/\/_clerk\/sign-in/);
  await page.getByRole("textbox", { name: "Email" }).fill(email);
  await page.getByRole("textbox", { name: "First name" }).fill("Bench");
  await page.getByRole("textbox", { name: "Last name" }).fill("Admin");
  await page.getByRole("checkbox", { name: "Admin" }).check();
  await page.getByRole("button", { name: "Create and sign in" }).click();
  await page.waitForURL((url) => !url.pathname.startsWith("/_clerk"));
  // The Users link shows once `users:viewer` says admin (the webhook may still be on its way).
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Users" }).waitFor();
}
