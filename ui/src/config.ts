// What the server wrote into index.html at start-up (crates/web/src/config.rs).

export type KeelConfig =
  | { auth: "emulator"; frontendApi: string }
  | { auth: "clerk"; publishableKey: string }
  | { auth: "none" };

export function readConfig(): KeelConfig {
  const element = document.getElementById("keel-config");
  try {
    const parsed = JSON.parse(element?.textContent ?? "{}") as Partial<KeelConfig>;
    if (parsed.auth === "emulator" || parsed.auth === "clerk") return parsed as KeelConfig;
  } catch {
    // fall through: a page without configuration cannot sign in
  }
  return { auth: "none" };
}
