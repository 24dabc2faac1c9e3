import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { Elysia } from "elysia";
import { BrowserActions } from "../../src/browser/browser-actions";
import { BrowserManager } from "../../src/browser/browser-manager";
import { findChromium } from "../../src/browser/chromium-path";
import { silentLogger } from "../../src/log";
import { bodyParsing, errorHandling } from "../../src/server/http-errors";
import { browserRoutes } from "../../src/server/routes/browser";
import { bigTable, longArticle, shopListing } from "../helpers/large-pages";
import { servePages } from "../helpers/pages";

// Chromium on a busy 2-core machine can take seconds to start a page.
setDefaultTimeout(90_000);

/** The snapshot route against the real Chromium, on pages this test serves on 127.0.0.1. */

const html = (title: string, body: string) => `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title></head><body>${body}</body></html>`;

/** Every control says what it is when used: buttons and links log their name, fields keep their value. */
const CONTROLS = html(
  "Controls",
  `<nav><a href="#one" onclick="log(this.textContent)">First link</a> <a href="#two" onclick="log(this.textContent)">Second link</a></nav>
   <main><h1>Controls</h1>
   ${Array.from({ length: 12 }, (_, i) => `<button type="button" onclick="log(this.textContent)">Button ${i + 1}</button>`).join("")}
   <div role="button" tabindex="0" onclick="log('Div button')">Div button</div>
   <form onsubmit="return false"><label>Name <input id="name"></label><label>Email <input type="email" id="email"></label><textarea aria-label="Note"></textarea>
   <label><input type="checkbox" id="agree"> I agree</label>
   <select aria-label="Colour"><option>red</option><option>blue</option></select>
   <button id="gone" type="button" onclick="this.remove()">Remove me</button></form>
   <p id="log"></p></main>
   <script>function log(text) { document.getElementById('log').textContent = 'clicked ' + text; }</script>`,
);

let server: ReturnType<typeof servePages>;
let manager: BrowserManager;
let app: Elysia;

async function act(action: string, body: Record<string, unknown>) {
  const response = await app.handle(new Request(`http://localhost/v1/browser/interactions/${action}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) }));
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

async function ok(action: string, body: Record<string, unknown>) {
  const response = await act(action, body);
  expect({ action, status: response.status, detail: response.body.detail }).toEqual({ action, status: 200, detail: undefined });
  return response.body;
}

async function newSession(): Promise<string> {
  const response = await app.handle(new Request("http://localhost/v1/browser/sessions/", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" }));
  return ((await response.json()) as { session_id: string }).session_id;
}

/** Role, name and ref of each interactive line. */
function refsOf(snapshot: string): Array<{ role: string; name: string; ref: string; line: string }> {
  const found = [];
  for (const line of snapshot.split("\n")) {
    for (const match of line.matchAll(/(\w+)(?: ("(?:[^"\\]|\\.)*"))? \[ref=(e\d+)\]/g)) {
      found.push({ role: match[1]!, name: match[2] ? (JSON.parse(match[2]) as string) : "", ref: match[3]!, line });
    }
  }
  return found;
}

/** Every part of the page's snapshot, read with the cursor at `maxTokens` an answer. */
async function readAll(session_id: string, maxTokens: number) {
  const parts = [await ok("snapshot", { session_id, max_tokens: maxTokens })];
  while (parts.at(-1)!.cursor) parts.push(await ok("snapshot", { session_id, max_tokens: maxTokens, cursor: parts.at(-1)!.cursor }));
  return parts;
}

beforeAll(() => {
  server = servePages({ "/controls": CONTROLS, "/article": longArticle(), "/table": bigTable(), "/shop": shopListing(), "/other": html("Other", "<p>another page</p>"),
    // 5,000 nested elements, and 60,000 buttons: neither may break the stack or the answer's cap.
    "/deep": html("Deep", `${"<div>".repeat(5000)}<button>Deep inside</button>${"</div>".repeat(5000)}`),
    "/spoof": html("Spoof", `<script>window[Symbol.for("coderunner.refs")] = 5;</script><button onclick="this.textContent = 'pressed'">Press</button>`),
    "/wide": html("Wide", `<script>for (let i = 0; i < 60000; i++) document.write('<button>B' + i + '</button>')</script><p>end</p>`),
  });
  manager = new BrowserManager({ executablePath: findChromium(), maxSessions: 4, idleSeconds: 600, log: silentLogger, spares: 0 });
  app = new Elysia().use(errorHandling(silentLogger)).use(bodyParsing(1 << 20)).use(browserRoutes(manager, new BrowserActions(manager))) as unknown as Elysia;
});

afterAll(async () => {
  await manager.stop();
  server.stop();
});

describe("page snapshot with refs", () => {
  test("every ref clicks or fills the element it names", async () => {
    const session_id = await newSession();
    await ok("navigate", { session_id, url: `${server.base}/controls` });
    const refs = refsOf((await ok("snapshot", { session_id })).snapshot);
    expect(refs.map((ref) => ref.role).sort()).toEqual(
      ["link", "link", ...Array(12).fill("button"), "button", "textbox", "textbox", "textbox", "checkbox", "combobox", "button"].sort(),
    );
    for (const { role, name, ref } of refs) {
      if (name === "Remove me") continue;
      if (role === "button" || role === "link") {
        await ok("click", { session_id, selector: `ref=${ref}` });
        const log = await ok("extract", { session_id, selector: "#log" });
        expect(log.elements[0].text).toBe(`clicked ${name}`);
      } else if (role === "textbox") {
        await ok("fill", { session_id, selector: `ref=${ref}`, value: `value of ${name}@example.org` });
      } else if (role === "checkbox") {
        await ok("click", { session_id, selector: `ref=${ref}` });
      }
    }
    // The snapshot now shows what was done, on the same refs.
    const after = (await ok("snapshot", { session_id })).snapshot as string;
    for (const { role, name, ref } of refs) {
      const line = after.split("\n").find((text) => text.includes(`[ref=${ref}]`))!;
      if (role === "textbox") expect(line).toContain(`value="value of ${name}@example.org"`);
      if (role === "checkbox") expect(line).toContain("[checked]");
    }
    expect(after).toContain('textbox "Name"');
    expect(after).toContain('combobox "Colour"');
    await manager.close(session_id);
  });

  test("a ref from an earlier page, of a removed element or never given is a 404 STALE_REF at once", async () => {
    const session_id = await newSession();
    await ok("navigate", { session_id, url: `${server.base}/controls` });
    const refs = refsOf((await ok("snapshot", { session_id })).snapshot);
    const remove = refs.find((ref) => ref.name === "Remove me")!;
    await ok("click", { session_id, selector: `ref=${remove.ref}` });
    const removed = await act("click", { session_id, selector: `ref=${remove.ref}` });
    expect(removed.status).toBe(404);
    expect(removed.body).toMatchObject({ code: "STALE_REF" });
    expect(removed.body.detail).toContain("removed");

    await ok("navigate", { session_id, url: `${server.base}/other` });
    for (const action of ["click", "fill"]) {
      const stale = await act(action, { session_id, selector: `ref=${refs[0]!.ref}`, value: "x", timeout: 60_000 });
      expect(stale.status).toBe(404);
      expect(stale.body.code).toBe("STALE_REF");
      expect(stale.body.detail).toContain("earlier page");
    }
    // Back on the first page (a new document), the old refs are still stale, not reused.
    await ok("navigate", { session_id, url: `${server.base}/controls` });
    const fresh = refsOf((await ok("snapshot", { session_id })).snapshot);
    expect(new Set(fresh.map((ref) => ref.ref)).isDisjointFrom(new Set(refs.map((ref) => ref.ref)))).toBe(true);
    expect((await act("click", { session_id, selector: `ref=${refs[0]!.ref}` })).body.code).toBe("STALE_REF");
    const never = await act("click", { session_id, selector: "ref=e99999" });
    expect(never.status).toBe(404);
    expect(never.body.detail).toContain("no snapshot");
    await manager.close(session_id);
  });

  test("large pages: each answer stays under max_tokens, the cursor reads every line once", async () => {
    const session_id = await newSession();
    for (const path of ["/article", "/table", "/shop"]) {
      await ok("navigate", { session_id, url: `${server.base}${path}` });
      const first = await ok("snapshot", { session_id });
      expect(first.tokens).toBeLessThanOrEqual(3000);
      expect(first.cursor).not.toBeNull();
      const fullText = (await ok("extract", { session_id, selector: "body" })).elements[0].text as string;
      const content = JSON.stringify(await ok("content", { session_id }));
      // The page's text and its content are past the cap; the snapshot's answer is not.
      expect(fullText.length / 4).toBeGreaterThan(2 * first.tokens);
      expect(content.length / 4).toBeGreaterThan(first.tokens);

      const parts = await readAll(session_id, 1500);
      for (const part of parts) expect(part.tokens).toBeLessThanOrEqual(1500);
      const lines = parts.flatMap((part) => part.snapshot.split("\n"));
      expect(lines.length).toBe(parts[0]!.lines.total);
      expect(parts.map((part) => part.lines.from)).toEqual([0, ...parts.slice(0, -1).map((part) => part.lines.to)]);
      expect(lines.join("\n").length).toBe(parts[0]!.total_tokens * 4 - ((4 - (lines.join("\n").length % 4)) % 4));
    }
    await manager.close(session_id);
  });

  test("refs on a big table and a shop listing act on the row and product they name", async () => {
    const session_id = await newSession();
    await ok("navigate", { session_id, url: `${server.base}/shop` });
    const focused = await ok("snapshot", { session_id, query: "lamp 137" });
    expect(focused.tokens).toBeLessThan(300);
    const button = refsOf(focused.snapshot).find((ref) => ref.name === "Add to cart")!;
    await ok("click", { session_id, selector: `ref=${button.ref}` });
    expect((await ok("extract", { session_id, selector: "#cart" })).elements[0].text).toBe("Cart: lamp 137");

    await ok("navigate", { session_id, url: `${server.base}/table` });
    const rows = await ok("snapshot", { session_id, query: "10500" });
    const details = refsOf(rows.snapshot).filter((ref) => ref.name === "Details");
    expect(details).toHaveLength(1);
    await ok("click", { session_id, selector: `ref=${details[0]!.ref}` });
    await ok("wait", { session_id, condition: "load" });
    const info = await app.handle(new Request(`http://localhost/v1/browser/sessions/${session_id}`));
    expect(((await info.json()) as { url: string }).url).toEndWith("/orders/10500");
    await manager.close(session_id);
  });

  test("a very deep and a very wide page answer within the cap, saying the snapshot is incomplete", async () => {
    const session_id = await newSession();
    await ok("navigate", { session_id, url: `${server.base}/deep` });
    const deep = await ok("snapshot", { session_id });
    expect(deep.incomplete).toBe(true);
    await ok("navigate", { session_id, url: `${server.base}/wide`, wait_timeout: 60_000 });
    const wide = await ok("snapshot", { session_id, max_tokens: 500, timeout: 60_000 });
    expect(wide.incomplete).toBe(true);
    expect(wide.tokens).toBeLessThanOrEqual(500);
    expect(wide.lines.total).toBe(50_000);
    await manager.close(session_id);
  });

  test("a page that squats on the ref store's key still gets a working snapshot", async () => {
    const session_id = await newSession();
    await ok("navigate", { session_id, url: `${server.base}/spoof` });
    const [button] = refsOf((await ok("snapshot", { session_id })).snapshot);
    await ok("click", { session_id, selector: `ref=${button!.ref}` });
    expect((await ok("extract", { session_id, selector: "button" })).elements[0].text).toBe("pressed");
    await manager.close(session_id);
  });

  test("focus by selector shows one region; bad focus, cursors and sessions are clear 4xx", async () => {
    const session_id = await newSession();
    await ok("navigate", { session_id, url: `${server.base}/controls` });
    const form = await ok("snapshot", { session_id, selector: "form" });
    expect(form.snapshot).toContain('textbox "Name"');
    expect(form.snapshot).not.toContain("Button 1");
    const nav = refsOf((await ok("snapshot", { session_id, selector: "nav" })).snapshot);
    expect(nav.map((ref) => ref.name)).toEqual(["First link", "Second link"]);

    const missing = await act("snapshot", { session_id, selector: "#nothing-here", timeout: 200 });
    expect(missing.status).toBe(404);
    expect(missing.body.code).toBe("ELEMENT_NOT_FOUND");
    const malformed = await act("snapshot", { session_id, cursor: "not a cursor" });
    expect(malformed.status).toBe(400);
    const small = await ok("snapshot", { session_id, max_tokens: 50 });
    await ok("snapshot", { session_id });
    const old = await act("snapshot", { session_id, cursor: small.cursor });
    expect(old.status).toBe(400);
    expect(old.body.detail).toContain("earlier snapshot");
    const tooSmall = await act("snapshot", { session_id, max_tokens: 0 });
    expect(tooSmall.status).toBe(422);
    await manager.close(session_id);
    const closed = await act("snapshot", { session_id });
    expect(closed.status).toBe(404);
    expect(closed.body.code).toBe("BROWSER_SESSION_NOT_FOUND");
  });
});
