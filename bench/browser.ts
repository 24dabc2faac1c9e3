/**
 * Browser benchmark: `bun bench/browser.ts [rounds]`.
 *
 * In one run, on the same Chromium executable and the same local page, each CodeRunner interaction
 * through the REST routes (in-process `app.handle`, JSON in and out, with download bookkeeping as the
 * server has it) against the plain `playwright-core` calls that do what the contract asks of the same
 * step (navigate answers the page's title, so its plain side is `goto` + `title()`; the ratio to
 * `goto` alone is printed too), on a page in a context of its own in the same Chromium. The two
 * take turns call by call, so a change in the machine's load hits both. Reported: medians and the ratio.
 *
 * Also: session creation at an agent's pace (the pool of ready contexts refilled in between), a
 * burst of 10 back to back, against launching a Chromium per session (the seed plan's design); and
 * the memory each extra session costs, from the RSS and PSS of Chromium's processes.
 */
import { Elysia } from "elysia";
import { chromium, type Page } from "playwright-core";
import { BrowserActions } from "../src/browser/browser-actions";
import { BrowserManager, CHROMIUM_ARGS } from "../src/browser/browser-manager";
import { findChromium } from "../src/browser/chromium-path";
import { contentScript } from "../src/browser/content-script";
import { BrowserFiles } from "../src/browser/downloads";
import { READABILITY_SOURCE } from "../src/browser/readability-source";
import { FileArea } from "../src/files/file-area";
import { WorkspaceFiles } from "../src/files/workspace-files";
import { chromiumProcesses, memoryOf } from "../src/browser/process-tree";
import { silentLogger } from "../src/log";
import { bodyParsing, errorHandling } from "../src/server/http-errors";
import { browserRoutes } from "../src/server/routes/browser";
import { bigTable, longArticle, shopListing } from "../test/helpers/large-pages";
import { loadAverage, median } from "./stats";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const rounds = Number(process.argv[2] ?? 15);
const BURST = 10;
const extraSessions = 8;
const viewport = { width: 1280, height: 800 };
const executablePath = findChromium({ configured: process.env.CODERUNNER_CHROMIUM });

const paragraphs = Array.from({ length: 12 }, (_, i) => `<p>Paragraph ${i + 1} of the benchmark article, long enough to be read as content by Readability and counted as words.</p>`).join("");
const PAGE = `<!doctype html><html><head><title>Bench</title></head><body><nav><a href="/a">A</a><a href="/b">B</a></nav><article><h1>Benchmark</h1>${paragraphs}<form onsubmit="return false"><input name="q" id="q"><button id="go" type="button" onclick="this.dataset.n = (+this.dataset.n || 0) + 1">Go</button></form></article><footer>footer</footer></body></html>`;
const LARGE: Record<string, string> = { "/article": longArticle(), "/table": bigTable(), "/shop": shopListing() };
const pages = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (request) => new Response(LARGE[new URL(request.url).pathname] ?? PAGE, { headers: { "content-type": "text/html" } }) });
const url = `http://127.0.0.1:${pages.port}/`;

const ms = (value: number) => `${value.toFixed(1).padStart(7)} ms`;
const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

async function timed<T>(work: () => Promise<T>): Promise<[number, T]> {
  const started = performance.now();
  const result = await work();
  return [performance.now() - started, result];
}

// --- Baseline for session creation: the seed plan launches a new Chromium for every session.
const baselineCreate: number[] = [];
const baselineRounds = Math.max(5, Math.ceil(rounds / 3));
let baselineMemory = { rss_bytes: 0, pss_bytes: 0, processes: 0 };
for (let i = 0; i < baselineRounds; i++) {
  const marker = `--coderunner-bench=${crypto.randomUUID()}`;
  const [elapsed, browser] = await timed(async () => {
    const browser = await chromium.launch({ executablePath, args: [...CHROMIUM_ARGS, marker] });
    await (await browser.newContext({ viewport })).newPage();
    return browser;
  });
  baselineCreate.push(elapsed);
  if (i === 0) {
    await browser.contexts()[0]!.pages()[0]!.goto(url);
    baselineMemory = memoryOf(chromiumProcesses(marker));
  }
  await browser.close();
}

// --- CodeRunner: one Chromium, a context per session, through the routes.
const manager = new BrowserManager({ executablePath, maxSessions: rounds + BURST + extraSessions + 4, idleSeconds: 3600, log: silentLogger });
// As the server wires it: downloads tracked on every page, saved into the workspace.
const workspace = mkdtempSync(join(tmpdir(), "coderunner-bench-browser-"));
const files = new BrowserFiles({
  files: new WorkspaceFiles(new FileArea(workspace), join(workspace, ".uploads")),
  workspace,
  placeOf: (session) => ({ root: workspace, downloads: join("browser-downloads", session.id) }),
  maxBytes: 100 * 1024 * 1024,
  log: silentLogger,
});
const app = new Elysia().use(errorHandling(silentLogger)).use(bodyParsing(1 << 20)).use(browserRoutes(manager, new BrowserActions(manager, files)));
async function call(path: string, body: unknown) {
  const response = await app.handle(new Request(`http://localhost${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) }));
  if (response.status !== 200) throw new Error(`${path}: ${response.status} ${await response.text()}`);
  return (await response.json()) as Record<string, any>;
}

const [coldCreate, first] = await timed(() => call("/v1/browser/sessions/", { viewport_width: viewport.width, viewport_height: viewport.height }));
const create: number[] = [];
const burst: number[] = [];
const ids: string[] = [];
// Sessions created at an agent's pace: the pool of ready contexts has refilled in between.
for (let i = 0; i < rounds; i++) {
  await manager.whenSparesReady();
  const [elapsed, session] = await timed(() => call("/v1/browser/sessions/", { viewport_width: viewport.width, viewport_height: viewport.height }));
  create.push(elapsed);
  ids.push(session.session_id);
}
for (const id of ids.splice(0)) await manager.close(id);
// A burst of back-to-back creates, starting from a full pool.
await manager.whenSparesReady();
const [burstTotal] = await timed(async () => {
  for (let i = 0; i < BURST; i++) {
    const [elapsed, session] = await timed(() => call("/v1/browser/sessions/", { viewport_width: viewport.width, viewport_height: viewport.height }));
    burst.push(elapsed);
    ids.push(session.session_id);
  }
});
for (const id of ids.splice(0)) await manager.close(id);

// --- Interactions, CodeRunner and plain playwright-core taking turns.
// Plain Playwright gets a context of its own in the same Chromium process as the session it is compared with.
const subject = first.session_id as string;
const plainContext = await manager.get(subject).context.browser()!.newContext({ viewport });
const plain: Page = await plainContext.newPage();
const readPage = contentScript(READABILITY_SOURCE);
/** The plain `goto` alone, from the same calls as navigate's plain side. */
const gotoAlone: number[] = [];
let lastGoto = 0;
const ACTIONS: Array<{ name: string; ours: () => Promise<unknown>; theirs: () => Promise<unknown>; note: string }> = [
  {
    name: "navigate",
    ours: () => call("/v1/browser/interactions/navigate", { session_id: subject, url }),
    theirs: async () => {
      const [elapsed] = await timed(() => plain.goto(url, { waitUntil: "load" }));
      lastGoto = elapsed;
      return plain.title();
    },
    note: "page.goto(load) + page.title(): the answer has the title",
  },
  {
    name: "screenshot",
    ours: () => call("/v1/browser/interactions/screenshot", { session_id: subject, full_page: false }),
    theirs: () => plain.screenshot({ type: "png" }),
    note: "page.screenshot() viewport PNG",
  },
  { name: "click", ours: () => call("/v1/browser/interactions/click", { session_id: subject, selector: "#go" }), theirs: () => plain.locator("#go").first().click(), note: "locator.click()" },
  {
    name: "fill",
    ours: () => call("/v1/browser/interactions/fill", { session_id: subject, selector: "#q", value: "hello" }),
    theirs: () => plain.locator("#q").first().fill("hello"),
    note: "locator.fill()",
  },
  { name: "type (5 keys, delay 0)", ours: () => call("/v1/browser/interactions/type", { session_id: subject, selector: "#q", text: "abcde", delay: 0 }), theirs: () => plain.locator("#q").first().pressSequentially("abcde", { delay: 0 }), note: "locator.pressSequentially()" },
  {
    name: "content",
    ours: () => call("/v1/browser/interactions/content", { session_id: subject }),
    theirs: () => plain.evaluate(readPage, { includeInteractive: true, includeAnchors: true, maxAnchors: 50, maxInteractive: 200 }),
    note: "page.evaluate() of the same in-page reading script",
  },
  { name: "content, HTML alone", ours: () => call("/v1/browser/interactions/content", { session_id: subject }), theirs: () => plain.content(), note: "page.content(): HTML, no reading (not the same work)" },
  { name: "snapshot", ours: () => call("/v1/browser/interactions/snapshot", { session_id: subject }), theirs: () => plain.locator("body").ariaSnapshot(), note: "locator.ariaSnapshot()" },
];
await call("/v1/browser/interactions/navigate", { session_id: subject, url });
await plain.goto(url);
const samples = new Map(ACTIONS.map((action) => [action.name, { ours: [] as number[], theirs: [] as number[] }]));
const available = new Set(ACTIONS.map((action) => action.name));
for (let i = 0; i < rounds + 2; i++) {
  for (const action of ACTIONS) {
    if (!available.has(action.name)) continue;
    const sample = samples.get(action.name)!;
    const order = i % 2 ? [action.theirs, action.ours] : [action.ours, action.theirs];
    const times: number[] = [];
    try {
      for (const work of order) times.push((await timed(work))[0]);
    } catch (error) {
      available.delete(action.name); // an interaction this version lacks
      console.log(`(${action.name}: ${(error as Error).message.split("\n")[0]})`);
      continue;
    }
    if (i < 2) continue; // warm-up
    const [oursTime, theirsTime] = i % 2 ? [times[1]!, times[0]!] : [times[0]!, times[1]!];
    sample.ours.push(oursTime);
    sample.theirs.push(theirsTime);
    if (action.name === "navigate") gotoAlone.push(lastGoto);
  }
}
await plainContext.close();

// Tokens (characters / 4) an agent pays to see each large page, by each route.
const tokens = (text: string) => Math.ceil(text.length / 4);
const tokenRows: string[] = [];
for (const [path, name] of [["/article", "long article (60 sections)"], ["/table", "table, 1000 rows x 7"], ["/shop", "shop listing, 200 products"]] as const) {
  await call("/v1/browser/interactions/navigate", { session_id: subject, url: `http://127.0.0.1:${pages.port}${path}` });
  const text = (await call("/v1/browser/interactions/extract", { session_id: subject, selector: "body" })).elements[0].text as string;
  const content = await call("/v1/browser/interactions/content", { session_id: subject });
  const view = await call("/v1/browser/interactions/snapshot", { session_id: subject });
  const query = { "/article": "Part 42", "/table": "10500", "/shop": "lamp 137" }[path];
  const focused = await call("/v1/browser/interactions/snapshot", { session_id: subject, query });
  tokenRows.push(
    `| ${name} | ${view.tokens} (${view.refs} refs) | ${view.total_tokens} | ${focused.tokens} (\`query: "${query}"\`) | ${tokens(text)} | ${tokens(JSON.stringify(content))} |`,
  );
}

// Memory: from one open session to 1 + extraSessions.
await manager.whenSparesReady(); // both readings with a full pool of ready contexts
await Bun.sleep(500); // let closed renderers exit before the first reading
const before = memoryOf(manager.processes());
for (let i = 0; i < extraSessions; i++) {
  const session = await call("/v1/browser/sessions/", { viewport_width: viewport.width, viewport_height: viewport.height });
  await call("/v1/browser/interactions/navigate", { session_id: session.session_id, url });
}
await manager.whenSparesReady();
const after = memoryOf(manager.processes());
await manager.stop();
pages.stop(true);
rmSync(workspace, { recursive: true, force: true });

console.log(`browser bench: ${rounds} rounds, load average ${loadAverage()}, Chromium ${executablePath}`);
console.log(`\n${"interaction".padEnd(24)} ${"CodeRunner".padStart(10)} ${"plain".padStart(10)}  ratio   plain call`);
for (const action of ACTIONS) {
  const sample = samples.get(action.name)!;
  if (!sample.ours.length) continue;
  const ours = median(sample.ours);
  const theirs = median(sample.theirs);
  console.log(`${action.name.padEnd(24)} ${ms(ours)} ${ms(theirs)}  ${(ours / theirs).toFixed(2).padStart(5)}   ${action.note}`);
  if (action.name === "navigate" && gotoAlone.length) {
    const alone = median(gotoAlone);
    console.log(`${"navigate, vs goto alone".padEnd(24)} ${ms(ours)} ${ms(alone)}  ${(ours / alone).toFixed(2).padStart(5)}   page.goto(load) alone, from the same calls (no title)`);
  }
}
const seed = median(baselineCreate);
console.log(`\nsession create, agent's pace ${ms(median(create))}  (first session, launching Chromium: ${ms(coldCreate).trim()})`);
console.log(`session create, burst of ${BURST}   median ${ms(median(burst)).trim()}, slowest ${ms(Math.max(...burst)).trim()}, total ${ms(burstTotal).trim()}`);
console.log(`  each, in order: ${burst.map((value) => value.toFixed(1)).join(", ")} ms`);
console.log(`  baseline: a new Chromium launch per session ${ms(seed).trim()} (${(seed / median(burst)).toFixed(1)}x the burst median)`);
const perRSS = (after.rss_bytes - before.rss_bytes) / extraSessions;
const perPSS = (after.pss_bytes - before.pss_bytes) / extraSessions;
console.log(`memory per extra session: RSS ${mib(perRSS)}, PSS ${mib(perPSS)} (Chromium processes ${before.processes} -> ${after.processes})`);
console.log(`  baseline: a whole Chromium per session: RSS ${mib(baselineMemory.rss_bytes)}, PSS ${mib(baselineMemory.pss_bytes)} (${baselineMemory.processes} processes)`);
console.log("\ntokens (characters / 4) to see each page:\n");
console.log("| page | snapshot, first answer | snapshot, every part | snapshot, focused | page text (innerText) | `content` answer |");
console.log("|---|---|---|---|---|---|");
for (const row of tokenRows) console.log(row);
