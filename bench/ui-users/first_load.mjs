// First load of the signed-in dashboard (`/`): which JS and CSS the browser actually fetched
// with an empty cache, and what each costs as served. The browser's own figure (encoded body
// bytes per response) is checked against a plain GET of each asset with
// `Accept-Encoding: gzip`, which also gives the headers: `Content-Encoding` and, for hashed
// `/assets/*` files, a `Cache-Control` with `immutable`.
import http from "node:http";
import { VIEWPORT } from "./browser.mjs";

const isCode = (type) => /javascript|css/.test(type ?? "");

/** GET `url` without decoding: status, headers, body bytes on the wire. */
function get(url, acceptEncoding) {
  return new Promise((resolve, reject) => {
    const headers = acceptEncoding ? { "accept-encoding": acceptEncoding } : {};
    http
      .get(url, { headers }, (response) => {
        let bytes = 0;
        response.on("data", (chunk) => (bytes += chunk.length));
        response.on("end", () => resolve({ status: response.statusCode, headers: response.headers, bytes }));
      })
      .on("error", reject);
  });
}

/** The scripts, stylesheets and module preloads `index.html` names. */
function listedAssets(html) {
  const found = new Set();
  for (const m of html.matchAll(/<(?:script|link)\b[^>]*?\b(?:src|href)="(\/assets\/[^"]+)"/g)) found.add(m[1]);
  return found;
}

export async function measureFirstLoad(browser, keelUrl, storageState) {
  // A new context: the signed-in cookie, nothing cached.
  const context = await browser.newContext({ viewport: VIEWPORT, storageState });
  const page = await context.newPage();
  const loaded = [];
  page.on("response", (response) => loaded.push(response));
  await page.goto(`${keelUrl}/`);
  await page.getByRole("heading", { name: "Chats" }).waitFor();
  await page.waitForLoadState("networkidle"); // lazy chunks the route pulls in
  const code = [];
  for (const response of loaded) {
    const headers = await response.allHeaders();
    if (!isCode(headers["content-type"])) continue;
    const sizes = await response.request().sizes();
    code.push({ url: response.url(), browserBytes: sizes.responseBodySize, browserEncoding: headers["content-encoding"] ?? "identity" });
  }
  await context.close();

  const index = await get(`${keelUrl}/`);
  const html = await (await fetch(`${keelUrl}/`)).text();
  const listed = listedAssets(html);
  const rows = [];
  for (const asset of code) {
    const path = new URL(asset.url).pathname;
    const gzip = await get(asset.url, "gzip");
    const plain = await get(asset.url);
    rows.push({
      path,
      ...asset,
      listed: listed.has(path),
      plainBytes: plain.bytes,
      servedBytes: gzip.bytes,
      encoding: gzip.headers["content-encoding"] ?? "identity",
      cacheControl: gzip.headers["cache-control"] ?? "",
    });
  }
  const unloaded = [...listed].filter((path) => !rows.some((r) => r.path === path));
  return { rows, unloaded, indexCacheControl: index.headers["cache-control"] ?? "" };
}
