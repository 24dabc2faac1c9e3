/**
 * Browser benchmark: `bun bench/browser.ts [rounds]`.
 *
 * Medians, in one run, of creating a session, navigating to a local page, a screenshot and
 * `content`, through the REST routes (in-process `app.handle`) on one shared Chromium with a context
 * per session. Session creation is timed at an agent's pace (the manager's pool of ready contexts
 * refilled in between) and back to back (pool drained). The baseline is the seed plan's design, measured in the same run: a NEW Chromium launch
 * (plus context and page) per session. Also reports the memory each extra session costs, from the
 * RSS and PSS of Chromium's processes before and after opening more sessions.
 */
import { Elysia } from "elysia";
import { chromium } from "playwright-core";
import { BrowserActions } from "../src/browser/browser-actions";
import { BrowserManager, CHROMIUM_ARGS } from "../src/browser/browser-manager";
import { findChromium } from "../src/browser/chromium-path";
import { chromiumProcesses, memoryOf } from "../src/browser/process-tree";
import { silentLogger } from "../src/log";
import { bodyParsing, errorHandling } from "../src/server/http-errors";
import { browserRoutes } from "../src/server/routes/browser";
import { median } from "./stats";

const rounds = Number(process.argv[2] ?? 15);
const extraSessions = 8;
const executablePath = findChromium({ configured: process.env.CODERUNNER_CHROMIUM });

const paragraphs = Array.from({ length: 12 }, (_, i) => `<p>Paragraph ${i + 1} of the benchmark article, long enough to be read as content by Readability and counted as words.</p>`).join("");
const PAGE = `<!doctype html><html><head><title>Bench</title></head><body><nav><a href="/a">A</a><a href="/b">B</a></nav><article><h1>Benchmark</h1>${paragraphs}<form><input name="q"><button>Go</button></form></article><footer>footer</footer></body></html>`;
const pages = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response(PAGE, { headers: { "content-type": "text/html" } }) });
const url = `http://127.0.0.1:${pages.port}/`;

const ms = (value: number) => `${value.toFixed(1).padStart(8)} ms`;
const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

async function timed<T>(work: () => Promise<T>): Promise<[number, T]> {
  const started = performance.now();
  const result = await work();
  return [performance.now() - started, result];
}

// --- Baseline: the seed plan launches a new Chromium for every session.
const baselineCreate: number[] = [];
const baselineRounds = Math.max(5, Math.ceil(rounds / 2));
let baselineMemory = { rss_bytes: 0, pss_bytes: 0, processes: 0 };
for (let i = 0; i < baselineRounds; i++) {
  const marker = `--coderunner-bench=${crypto.randomUUID()}`;
  const [elapsed, browser] = await timed(async () => {
    const browser = await chromium.launch({ executablePath, args: [...CHROMIUM_ARGS, marker] });
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    await context.newPage();
    return browser;
  });
  baselineCreate.push(elapsed);
  if (i === 0) {
    const page = browser.contexts()[0]!.pages()[0]!;
    await page.goto(url);
    baselineMemory = memoryOf(chromiumProcesses(marker));
  }
  await browser.close();
}

// --- CodeRunner: one Chromium, a context per session, through the routes.
const manager = new BrowserManager({ executablePath, maxSessions: rounds + extraSessions + 4, idleSeconds: 3600, log: silentLogger });
const app = new Elysia().use(errorHandling(silentLogger)).use(bodyParsing(1 << 20)).use(browserRoutes(manager, new BrowserActions(manager)));
async function call(path: string, body: unknown) {
  const response = await app.handle(new Request(`http://localhost${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) }));
  if (response.status !== 200) throw new Error(`${path}: ${response.status} ${await response.text()}`);
  return (await response.json()) as Record<string, any>;
}

const [coldCreate, first] = await timed(() => call("/v1/browser/sessions/", { viewport_width: 1280, viewport_height: 800 }));
const create: number[] = [];
const burst: number[] = [];
const navigate: number[] = [];
const screenshot: number[] = [];
const content: number[] = [];
const ids: string[] = [first.session_id];
// Sessions created at an agent's pace: the pool of ready contexts has refilled in between.
for (let i = 0; i < rounds; i++) {
  await manager.whenSparesReady();
  const [elapsed, session] = await timed(() => call("/v1/browser/sessions/", { viewport_width: 1280, viewport_height: 800 }));
  create.push(elapsed);
  ids.push(session.session_id);
}
for (const id of ids.splice(1)) await manager.close(id);
// Back to back: the pool is empty after the first, so this is the cost of a new context and page.
await manager.whenSparesReady();
for (let i = 0; i < Math.min(rounds, 8); i++) {
  const [elapsed, session] = await timed(() => call("/v1/browser/sessions/", { viewport_width: 1280, viewport_height: 800 }));
  burst.push(elapsed);
  ids.push(session.session_id);
}
const subject = first.session_id as string;
for (let i = 0; i < rounds; i++) {
  navigate.push((await timed(() => call("/v1/browser/interactions/navigate", { session_id: subject, url })))[0]);
  screenshot.push((await timed(() => call("/v1/browser/interactions/screenshot", { session_id: subject, full_page: false })))[0]);
  content.push((await timed(() => call("/v1/browser/interactions/content", { session_id: subject })))[0]);
}
// Close the creation rounds' sessions; measure memory from one open session to 1 + extraSessions.
for (const id of ids.slice(1)) await manager.close(id);
await Bun.sleep(500); // let closed renderers exit before the first reading
const before = memoryOf(manager.processes());
for (let i = 0; i < extraSessions; i++) {
  const session = await call("/v1/browser/sessions/", { viewport_width: 1280, viewport_height: 800 });
  await call("/v1/browser/interactions/navigate", { session_id: session.session_id, url });
}
const after = memoryOf(manager.processes());
await manager.stop();
pages.stop(true);

const ours = median(create);
const seed = median(baselineCreate);
console.log(`browser bench: ${rounds} rounds (baseline ${baselineRounds} launches), Chromium ${executablePath}`);
console.log(`session create   ${ms(ours)}  (first session, launching Chromium: ${ms(coldCreate).trim()})`);
console.log(`  baseline       ${ms(seed)}  (new Chromium launch per session, seed plan)`);
console.log(`  speed-up       ${(seed / ours).toFixed(1).padStart(8)} x   target >= 5x and <= 50 ms: ${seed / ours >= 5 && ours <= 50 ? "met" : "NOT met"}`);
console.log(`session create, back to back ${ms(median(burst)).trim()} (ready-context pool drained: a new context + page each), ${(seed / median(burst)).toFixed(1)}x the baseline`);
console.log(`navigate (local) ${ms(median(navigate))}`);
console.log(`screenshot       ${ms(median(screenshot))}  (1280x800 PNG viewport)`);
console.log(`content          ${ms(median(content))}  (Readability + interactive elements + anchors)`);
const perRSS = (after.rss_bytes - before.rss_bytes) / extraSessions;
const perPSS = (after.pss_bytes - before.pss_bytes) / extraSessions;
console.log(
  `memory per extra session: RSS ${mib(perRSS)}, PSS ${mib(perPSS)} (Chromium processes ${before.processes} -> ${after.processes}, RSS ${mib(before.rss_bytes)} -> ${mib(after.rss_bytes)})`,
);
console.log(`  baseline: a whole Chromium per session: RSS ${mib(baselineMemory.rss_bytes)}, PSS ${mib(baselineMemory.pss_bytes)} (${baselineMemory.processes} processes, one page open)`);
