// Chromium driven by playwright-core: Debian's browser (installed by scripts/test), never one
// a tool downloads. Each test gets its own browser; contexts are separate people/devices.
// Chromium throttles a tab that is not in front (each action there waits ~2 s, measured):
// call `page.bringToFront()` when a test switches to acting in another tab.
import { chromium } from "playwright-core";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--no-first-run",
];

export async function launchBrowser() {
  return chromium.launch({ executablePath: CHROMIUM, args: FLAGS, headless: true });
}

/**
 * Signs a new user in through the emulator's sign-in page, the way a person does: opening
 * the app redirects there, the form creates the user, and the app opens on the dashboard.
 */
export async function signUpThroughPage(page, keelUrl, { email, firstName = "Test", lastName = "User", admin = false, path = "/" }) {
  await page.goto(`${keelUrl}${path}`);
  await page.waitForURL(/\/_clerk\/sign-in/);
  await page.getByRole("textbox", { name: "Email" }).fill(email);
  await page.getByRole("textbox", { name: "First name" }).fill(firstName);
  await page.getByRole("textbox", { name: "Last name" }).fill(lastName);
  if (admin) await page.getByRole("checkbox", { name: "Admin" }).check();
  await page.getByRole("button", { name: "Create and sign in" }).click();
  await page.waitForURL((url) => !url.pathname.startsWith("/_clerk"));
}
