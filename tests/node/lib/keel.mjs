// Starts a real `keel dev` (the binary the README builds) on a free port with a fresh data
// folder, and gives tests the official clients pointed at it.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { randomBytes } from "node:crypto";
import { createClerkClient } from "@clerk/backend";

const here = dirname(fileURLToPath(import.meta.url));
export const KEEL_BIN = process.env.KEEL_BIN ?? join(here, "..", "..", "..", "target", "debug", "keel");
/** `examples/notes` (the built-in app plus the example's functions), built beside `keel`. */
export const KEEL_NOTES_BIN = process.env.KEEL_NOTES_BIN ?? join(dirname(KEEL_BIN), "keel-notes");

/**
 * Starts `keel dev`; resolves once it prints its address. `listen`, `dataDir` and `secretKey`
 * default to a free port, a fresh folder and a fresh key; pass the previous run's values (or
 * call `restart()`) to bring the same server back on the same address with the same data.
 */
export async function startKeel({ env = {}, dataDir, listen = "127.0.0.1:0", secretKey: givenKey, bin = KEEL_BIN } = {}) {
  const dir = dataDir ?? mkdtempSync(join(tmpdir(), "keel-node-"));
  const secretKey = givenKey ?? `sk_test_${randomBytes(24).toString("hex")}`;
  const child = spawn(bin, ["dev"], {
    env: {
      ...process.env,
      KEEL_LISTEN: listen,
      KEEL_DATA_DIR: dir,
      CLERK_SECRET_KEY: secretKey,
      KEEL_LOG: "warn",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const url = await new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`keel did not start:\n${out}\n${stderr}`)), 20000);
    child.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/Keel listening on (http:\/\/\S+)/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on("exit", (code) => reject(new Error(`keel exited with ${code}:\n${out}\n${stderr}`)));
  });
  const clerk = createClerkClient({ secretKey, apiUrl: `${url}/_clerk` });
  return {
    url,
    /** `host:port`, the address to pass back as `listen` to restart on the same port. */
    listen: new URL(url).host,
    dir,
    secretKey,
    child,
    /** Stops this server (keeping its data) and starts it again on the same address. */
    async restart() {
      await this.stop({ keepData: true });
      return startKeel({ env, dataDir: dir, listen: this.listen, secretKey, bin });
    },
    clerk,
    issuer: `${url}/_clerk`,
    /** A user in the emulator and a fresh `convex` template token for a new session. */
    async user(email, extra = {}) {
      const user = await clerk.users.createUser({ emailAddress: [email], firstName: "Node", lastName: email.split("@")[0], ...extra });
      const token = await this.token(user.id);
      return { user, token };
    },
    async token(userId, template = "convex", expiresInSeconds) {
      const session = await clerk.sessions.createSession({ userId });
      const { jwt } = await clerk.sessions.getToken(session.id, template, expiresInSeconds);
      return jwt;
    },
    /** SIGTERM, then waits for the process to exit (it must within `timeoutMs`). */
    async stop({ keepData = false, timeoutMs = 10000 } = {}) {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        let timer;
        const late = new Promise((r) => (timer = setTimeout(() => r("late"), timeoutMs)));
        const outcome = await Promise.race([exited, late]);
        clearTimeout(timer);
        if (outcome === "late") {
          child.kill("SIGKILL");
          await exited;
          if (!keepData) rmSync(dir, { recursive: true, force: true });
          throw new Error(`keel did not exit within ${timeoutMs} ms of SIGTERM:\n${stderr}`);
        }
      }
      if (!keepData) rmSync(dir, { recursive: true, force: true });
    },
  };
}
