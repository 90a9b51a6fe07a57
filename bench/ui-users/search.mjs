// Users search, keystroke → rendered results, measured inside the page.
//
// Each search term is typed one key at a time. For each key, a probe in the page takes the
// keydown event's timestamp and then watches the table (a MutationObserver on the page's
// section) until it has gone busy for the new search (React's render of the pending query:
// `aria-busy` on the table, or the skeleton) and then shows rows again, not busy, every one
// of them matching the typed prefix the way `users:list` matches: the email, the full name
// or the last name starts with it. Requiring the busy state first means stale rows that
// happen to match the longer prefix never count as the answer. Times kept, from the keydown:
//   commit  the DOM holds the matching rows (React committed them);
//   frame   the next animation frame's callback (style, layout and paint of it follow);
//   paint   a task posted from that callback, which runs after the frame is painted.
// To show where the time goes it also notes when the Convex client sent the query
// (`ModifyQuerySet` on the WebSocket) and when the server's `Transition` arrived.
// The box is cleared between terms (not measured). Terms have no spaces: a space is trimmed
// from the query, so it sends nothing and would be a free sample.
const TERMS = [
  "lovelace", "smith", "garcia", "nakamura", "kowalski", "johnson", "wagner", "zhang", "patel",
  "yamamoto", "ada", "maria", "james", "sofia", "olga", "yusuf", "priya", "fatima", "hugo",
  "elena", "chloe.martin", "ben.taylor", "rosa.silva", "kenji.sato", "noah.hill", "mei.wang",
  "omar.cohen", "lara.klein", "thomas", "novak", "dubois", "petrov", "fischer", "alvarez",
  "nguyen", "moreau", "bianca", "victor", "schmidt", "rossi", "walker", "young", "zoe", "ivan",
  "felix.becker", "grace.evans", "hana.ito", "amir.singh", "uma.park", "carlos.reyes",
];
const WARM_UP_TERMS = ["adams", "kim"];
export const SAMPLE_TIMEOUT_MS = 10_000;

/** Runs in the page: installs `window.__probe` on the Users page's search box. */
function installProbe(timeoutMs) {
  const input = document.querySelector('input[type="search"]');
  const section = input.closest("section");
  const normalize = (s) => s.trim().split(/\s+/).filter(Boolean).join(" ").toLowerCase();
  let current = null;

  /** "busy" while a search loads, "done" when every row matches `value`, else "other". */
  function state(value) {
    if (section.querySelector('[aria-busy="true"]')) return "busy";
    const rows = section.querySelectorAll("table tbody tr");
    if (rows.length === 0) return "other";
    const prefix = normalize(value);
    for (const row of rows) {
      const name = normalize(row.cells[0].textContent);
      const email = row.cells[1].textContent.trim().toLowerCase();
      const last = name.split(" ").slice(1).join(" ");
      if (!(email.startsWith(prefix) || name.startsWith(prefix) || last.startsWith(prefix))) return "other";
    }
    return "done";
  }

  function finish(sample, result) {
    if (current === sample) current = null;
    clearTimeout(sample.timer);
    sample.resolve(result);
  }

  function check() {
    const sample = current;
    if (!sample || sample.t0 === undefined || sample.committed !== undefined) return;
    if (input.value !== sample.expected) return;
    const now = performance.now();
    const s = state(input.value);
    if (s === "busy") {
      sample.busy ??= now;
      return;
    }
    if (s !== "done" || sample.busy === undefined) return;
    sample.committed = now;
    requestAnimationFrame(() => {
      const frame = performance.now();
      const channel = new MessageChannel();
      channel.port1.onmessage = () =>
        finish(sample, {
          busy: sample.busy - sample.t0,
          sent: sample.sent - sample.t0,
          received: sample.received - sample.t0,
          commit: sample.committed - sample.t0,
          frame: frame - sample.t0,
          paint: performance.now() - sample.t0,
          rows: section.querySelectorAll("table tbody tr").length,
        });
      channel.port2.postMessage(0);
    });
  }

  // The sync protocol's messages, timed: `send` is patched on the prototype (the client's
  // socket exists already), and a listener joins each socket on its first send.
  const watched = new WeakSet();
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data) {
    if (!watched.has(this)) {
      watched.add(this);
      this.addEventListener("message", (event) => {
        const sample = current;
        if (sample?.sent === undefined || sample.received !== undefined) return;
        const message = JSON.parse(event.data);
        // The first Transition that includes the query set with the new search in it.
        if (message.type === "Transition" && message.endVersion.querySet >= sample.querySet) {
          sample.received = event.timeStamp;
        }
      });
    }
    const sample = current;
    if (sample?.t0 !== undefined && sample.sent === undefined) {
      // The client removes the old search and adds the new one, in one message or two.
      const message = JSON.parse(data);
      if (message.type === "ModifyQuerySet" && message.modifications.some((m) => m.type === "Add")) {
        sample.sent = performance.now();
        sample.querySet = message.newVersion;
      }
    }
    return send.call(this, data);
  };

  input.addEventListener("keydown", (event) => {
    if (current && current.t0 === undefined) current.t0 = event.timeStamp;
  }, true);
  input.addEventListener("input", () => queueMicrotask(check));
  new MutationObserver(check).observe(section, { subtree: true, childList: true, attributes: true, characterData: true });

  window.__probe = {
    /** Expects the box to read `expected` next; `byKey`: timed from the next keydown. */
    arm(expected, byKey) {
      const sample = { expected, t0: byKey ? undefined : performance.now() };
      sample.done = new Promise((resolve) => (sample.resolve = resolve));
      sample.timer = setTimeout(() => finish(sample, { timeout: true }), timeoutMs);
      current = this.armed = sample;
    },
    /** The armed sample's result (even if it finished before this was asked). */
    result() {
      return this.armed.done;
    },
  };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Types `term` key by key; each key's result (with `prefix`) goes to `record`, if given. */
async function typeTerm(page, box, term, pauseMs, record) {
  for (let i = 1; i <= term.length; i++) {
    const prefix = term.slice(0, i);
    await page.evaluate((p) => window.__probe.arm(p, true), prefix);
    const result = page.evaluate(() => window.__probe.result());
    await page.keyboard.type(term[i - 1]);
    const sample = await result;
    record?.({ prefix, ...sample });
    await sleep(pauseMs);
  }
  await page.evaluate(() => window.__probe.arm("", false));
  const cleared = page.evaluate(() => window.__probe.result());
  await box.fill("");
  if ((await cleared).timeout) throw new Error(`the table did not come back after clearing "${term}"`);
}

/** Opens Users from the dashboard and types until `samples` keystrokes are measured. */
export async function measureSearch(page, { samples, pauseMs }) {
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Users" }).click();
  await page.waitForURL(/\/users$/);
  const box = page.getByRole("searchbox", { name: "Search users" });
  await page.locator("table tbody tr").first().waitFor();
  await page.evaluate(installProbe, SAMPLE_TIMEOUT_MS);
  await box.focus();
  for (const term of WARM_UP_TERMS) await typeTerm(page, box, term, pauseMs);
  const results = [];
  for (let i = 0; results.length < samples; i++) {
    await typeTerm(page, box, TERMS[i % TERMS.length], pauseMs, (r) => results.length < samples && results.push(r));
  }
  return results;
}
