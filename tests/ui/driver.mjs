// Drives headless Chromium for the Rust end-to-end tests: reads one JSON command per line on
// standard input, answers one JSON line on standard output ({ok: true, ...} or {ok: false,
// error}). The tests decide what to check; this only clicks, types, waits and looks.
import { chromium } from "playwright-core";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";

const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
const args = [
  "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
];

let context = null;
let page = null;
let base = "";
const consoleErrors = [];

async function waitFor(fn, timeout, what) {
  const until = Date.now() + timeout;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const commands = {
  // `microphone`: a WAV file the browser uses as its microphone (WebRTC tests).
  async launch({ url, width = 1400, height = 900, microphone }) {
    base = url;
    const dir = mkdtempSync(join(tmpdir(), "sb-chromium-"));
    const media = microphone ? [
      "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
      `--use-file-for-fake-audio-capture=${microphone}`, "--autoplay-policy=no-user-gesture-required",
    ] : [];
    context = await chromium.launchPersistentContext(dir, {
      executablePath, headless: true, args: [...args, ...media], viewport: { width, height },
    });
    page = context.pages()[0] || (await context.newPage());
    page.on("console", (m) => m.type() === "error" && consoleErrors.push(m.text()));
    // An uncaught error with where it was thrown (the first frames of its stack).
    page.on("pageerror", (e) => consoleErrors.push([String(e), ...String(e.stack || "").split("\n").slice(1, 6)].join("\n")));
    page.on("response", (r) => r.status() >= 400 && consoleErrors.push(`HTTP ${r.status()} ${new URL(r.url()).pathname}`));
    await page.goto(`${base}/`);
    return {};
  },
  async login({ email, password }) {
    await page.waitForSelector("#login:not([hidden])");
    await page.fill("#login input[name=email]", email);
    await page.fill("#login input[name=password]", password);
    await page.click("#login button[type=submit]");
    // Agents land on their workspace, everyone else on the home page.
    await page.waitForSelector("#home:not([hidden]), #workspace-page:not([hidden])", { timeout: 5000 });
    return {};
  },
  async goto({ hash }) {
    await page.evaluate((h) => { location.hash = h; }, hash);
    return {};
  },
  async visible({ selector, timeout = 5000 }) {
    await page.waitForSelector(`${selector}:not([hidden])`, { timeout, state: "visible" });
    return {};
  },
  // The first tile (or the tile with `id`), with the time this browser first saw it.
  async waitTile({ timeout = 10000, id }) {
    const sel = id != null ? `.tile[data-id="${id}"]` : ".tile";
    await page.waitForSelector(sel, { timeout });
    const seen = Date.now();
    const tile = await page.$eval(sel, (t) => ({
      id: Number(t.dataset.id), text: t.textContent, started: Number(t.querySelector(".dur").dataset.since),
    }));
    return { ...tile, seen };
  },
  async tiles() {
    return { tiles: await page.$$eval(".tile", (ts) => ts.map((t) => ({ id: Number(t.dataset.id), text: t.textContent, class: t.className }))) };
  },
  async open({ id }) {
    await page.click(`.tile[data-id="${id}"]`);
    await page.waitForSelector("#detail:not([hidden])");
    return {};
  },
  async text({ selector }) {
    return { text: await page.$eval(selector, (e) => e.textContent) };
  },
  // Waits until the element's text contains `text`, or one of `any` (case-insensitive).
  async waitText({ selector, text, any, timeout = 10000 }) {
    const wanted = (any ?? [text]).map((w) => w.toLowerCase());
    let seen = "";
    const found = await waitFor(async () => {
      seen = await page.$eval(selector, (e) => e.textContent).catch(() => "(no such element)");
      return wanted.some((w) => seen.toLowerCase().includes(w)) ? seen : null;
    }, timeout, `${wanted.map((w) => `"${w}"`).join(" or ")} in ${selector}`).catch((e) => {
      // What the page showed instead says why.
      throw new Error(`${e.message}; it showed ${JSON.stringify(seen.slice(0, 400))}`);
    });
    return { text: found };
  },
  async note({ text, kind = "advice" }) {
    await page.fill("#d-note textarea[name=text]", text);
    await page.selectOption("#d-note select[name=kind]", kind);
    await page.click("#d-note button[type=submit]");
    await waitFor(async () => (await page.textContent("#d-note-status")) || null, 5000, "the note's status");
    return { status: await page.textContent("#d-note-status") };
  },
  async takeover({ extension }) {
    await page.fill("#d-takeover input[name=extension]", extension);
    await page.click("#d-takeover button[type=submit]");
    await waitFor(async () => (await page.textContent("#d-takeover-status")) || null, 5000, "the takeover's status");
    return { status: await page.textContent("#d-takeover-status") };
  },
  async screenshot({ path }) {
    await page.screenshot({ path, fullPage: true });
    return { path };
  },
  // Opens the feed from the page (with the page's cookie): whether it delivered a snapshot.
  async probeFeed() {
    return await page.evaluate(() => new Promise((resolve) => {
      const ws = new WebSocket(`ws://${location.host}/api/live/feed`);
      const done = (r) => { try { ws.close(); } catch {} resolve(r); };
      ws.onmessage = (m) => done({ opened: true, first: JSON.parse(m.data).type });
      ws.onerror = () => done({ opened: false });
      ws.onclose = () => done({ opened: false });
      setTimeout(() => done({ opened: false, timeout: true }), 3000);
    }));
  },
  async click({ selector, timeout = 5000 }) {
    await page.click(selector, { timeout });
    return {};
  },
  async fill({ selector, value }) {
    await page.fill(selector, value);
    return {};
  },
  async select({ selector, value }) {
    await page.selectOption(selector, value);
    return {};
  },
  // Chooses a file in a file input, as a person picking it in the file dialog.
  async upload({ selector, path }) {
    await page.setInputFiles(selector, path);
    return {};
  },
  // Evaluates a JavaScript expression in the page; its (JSON) value.
  async evaluate({ expression }) {
    return { value: await page.evaluate(expression) };
  },
  // Waits until a JavaScript expression in the page is truthy; its value.
  async waitUntil({ expression, timeout = 10000 }) {
    const value = await waitFor(async () => await page.evaluate(expression).catch(() => null), timeout, expression);
    return { value };
  },
  async errors() {
    return { errors: consoleErrors };
  },
  async close() {
    if (context) await context.close();
    context = null;
    return {};
  },
};

const rl = createInterface({ input: process.stdin });
for await (const line of rl) {
  if (!line.trim()) continue;
  let reply;
  try {
    const cmd = JSON.parse(line);
    const f = commands[cmd.do];
    if (!f) throw new Error(`unknown command ${cmd.do}`);
    reply = { ok: true, ...(await f(cmd)) };
  } catch (e) {
    reply = { ok: false, error: String(e && e.message ? e.message : e) };
  }
  process.stdout.write(JSON.stringify(reply) + "\n");
}
if (context) await context.close();
