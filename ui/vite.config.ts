import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// `npm run dev` serves the app with hot reload and sends server paths to a `keel dev` on
// 127.0.0.1:3210 (KEEL_URL to change it). The production build is embedded in the keel
// binary by crates/web/build.rs.
const keel = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env.KEEL_URL ?? "http://127.0.0.1:3210";

export default defineConfig({
  plugins: [react()],
  build: {
    target: "es2022",
    sourcemap: false,
    chunkSizeWarningLimit: 400,
  },
  server: {
    proxy: {
      "/api": { target: keel, ws: true },
      "/_clerk": keel,
    },
  },
});
