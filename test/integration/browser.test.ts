import { afterAll, afterEach, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { Elysia } from "elysia";
import { BrowserActions } from "../../src/browser/browser-actions";
import { BrowserManager } from "../../src/browser/browser-manager";
import { findChromium } from "../../src/browser/chromium-path";
import { imageSize } from "../../src/browser/image-size";
import { silentLogger } from "../../src/log";
import { bodyParsing, errorHandling } from "../../src/server/http-errors";
import { browserRoutes } from "../../src/server/routes/browser";
import { servePages } from "../helpers/pages";

// Chromium on a busy 2-core machine can take seconds to start a page.
setDefaultTimeout(60_000);

/** Against the real Chromium, with pages this test serves on 127.0.0.1. */

const ARTICLE_PARAGRAPHS = [
  "The river town woke slowly that spring, its ferrymen arguing about the height of the water while the bakers argued about the price of flour.",
  "Nobody in the council had expected the old bridge to last another winter, yet it stood, creaking under carts of timber and the occasional stubborn goat.",
  "Engineers from the capital arrived in April with drawings, instruments and a great deal of confidence, which the ferrymen found very entertaining indeed.",
  "By midsummer the new pylons rose from the riverbed, and children gathered each evening to watch the cranes swing slowly against the orange sky.",
  "When the bridge finally opened, the mayor gave a speech nobody heard over the brass band, and the ferrymen quietly raised their prices for tourists.",
];
const ARTICLE_WORDS = ARTICLE_PARAGRAPHS.join(" ").split(/\s+/).length;

const html = (title: string, body: string, head = "") => `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title>${head}</head><body>${body}</body></html>`;

const PAGES: Record<string, (url: URL, request: Request) => Response | Promise<Response>> = {
  "/form": () =>
    page(
      html(
        "Form",
        `<form action="/submitted" method="get">
          <label>Name <input name="name" id="name"></label>
          <label>Colour <select name="colour"><option>red</option><option>blue</option></select></label>
          <textarea name="note"></textarea>
          <button type="submit" id="send">Send</button>
        </form>`,
      ),
    ),
  "/submitted": (url) => page(html("Submitted", `<p id="greeting">Hello, ${escape(url.searchParams.get("name") ?? "")}! Note: ${escape(url.searchParams.get("note") ?? "")}</p>`)),
  "/click": () =>
    page(
      html(
        "Click",
        `<button id="add" onclick="const p = document.createElement('p'); p.id = 'added'; p.textContent = 'Clicked ' + (document.querySelectorAll('#log p').length + 1); document.getElementById('log').append(p)">Add</button>
         <div style="position:relative;width:200px;height:40px"><button id="cover-target">Covered</button><div style="position:absolute;inset:0;background:white"></div></div>
         <div id="log"></div>`,
      ),
    ),
  "/click-plain": () =>
    page(
      html(
        "Click plain",
        `<ul><li><button onclick="this.textContent='one done'">One</button></li><li><button onclick="this.textContent='two done'">Two</button></li></ul>
         <button id="123-odd:id" onclick="this.textContent='odd done'">Odd id</button>`,
      ),
    ),
  "/delayed": () =>
    page(
      html(
        "Delayed",
        `<div id="spinner">Loading…</div>
         <script>setTimeout(() => { const d = document.createElement('div'); d.id = 'ready'; d.textContent = 'Ready'; document.body.append(d); document.getElementById('spinner').remove(); }, 300);</script>`,
      ),
    ),
  "/tall": () =>
    page(html("Tall", `<div style="height:2000px;background:linear-gradient(red,blue)">top</div><p id="bottom">Bottom</p>`, "<style>body{margin:0}</style>")),
  "/links": () =>
    page(
      html(
        "Links",
        `<a href="/one" data-kind="first" class="nav">One</a><a href="https://example.invalid/two" data-kind="second">Two</a><img src="/pic.png" alt="A picture">`,
      ),
    ),
  "/article": () =>
    page(
      html(
        "River bridge opens - Gazette",
        `<header class="site-header"><nav><a href="/">Home</a> <a href="/news">News</a> <a href="/sport">Sport</a> <a href="/weather">Weather</a></nav></header>
         <aside class="sidebar"><h3>Trending</h3><ul><li><a href="/x">Celebrity owns seventeen cats and a very large sofa</a></li></ul></aside>
         <div class="ad-banner" id="ad-top">BUY NOW: miracle hair tonic, limited offer, act fast!</div>
         <main><article>
           <h1>The river bridge finally opens</h1>
           <p class="byline">By <span class="author">Mara Quill</span></p>
           ${ARTICLE_PARAGRAPHS.map((text) => `<p>${text}</p>`).join("\n")}
           <button id="like" onclick="this.textContent = 'Liked'">Like this story</button>
         </article></main>
         <div class="advert sponsored">Sponsored: cheap flights to nowhere, click here for more savings</div>
         <footer class="site-footer"><p>Copyright Gazette Media Group, all rights reserved, do not copy this footer text.</p></footer>`,
      ),
    ),
  "/busy": () => page(html("Busy", `<p id="busy">about to hang</p><button id="hang" onclick="for (;;) {}">Hang</button>`)),
  "/strict-csp": () =>
    new Response(html("Locked down", `<article><h1>Strict page</h1>${ARTICLE_PARAGRAPHS.map((text) => `<p>${text}</p>`).join("")}</article>`), {
      headers: { "content-type": "text/html", "content-security-policy": "default-src 'none'" },
    }),
  "/set-cookie": () => new Response(html("Set", "<p>cookie set</p>"), { headers: { "content-type": "text/html", "set-cookie": "flavour=oatmeal; Path=/" } }),
  "/echo-cookie": (_url, request) => page(html("Echo", `<p id="cookie">[${escape(request.headers.get("cookie") ?? "")}]</p>`)),
  // Never answers.
  "/slow": () => new Promise<Response>(() => {}),
};

function page(body: string): Response {
  return new Response(body, { headers: { "content-type": "text/html; charset=utf-8" } });
}

function escape(text: string): string {
  return text.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

let server: ReturnType<typeof servePages>;
let base: string;
let manager: BrowserManager;
let app: Elysia;
const MAX_SESSIONS = 6;

async function call(path: string, body?: unknown, method = body === undefined ? "GET" : "POST") {
  const init: RequestInit = { method };
  if (body !== undefined) {
    init.headers = { "content-type": "application/json" };
    init.body = JSON.stringify(body);
  }
  const response = await app.handle(new Request(`http://localhost${path}`, init));
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

const act = (action: string, body: Record<string, unknown>) => call(`/v1/browser/interactions/${action}`, body);

async function newSession(body: Record<string, unknown> = {}): Promise<string> {
  const response = await call("/v1/browser/sessions/", body);
  expect(response.status).toBe(200);
  return response.body.session_id;
}

async function open(path: string, session_id: string) {
  const response = await act("navigate", { url: `${base}${path}`, session_id });
  expect(response.status).toBe(200);
  return response.body;
}

async function text(session_id: string, selector: string): Promise<string> {
  const response = await act("extract", { session_id, selector });
  expect(response.status).toBe(200);
  return response.body.elements[0].text;
}

beforeAll(() => {
  server = servePages(PAGES);
  base = server.base;
  manager = new BrowserManager({ executablePath: findChromium(), maxSessions: MAX_SESSIONS, idleSeconds: 600, log: silentLogger });
  app = new Elysia().use(errorHandling(silentLogger)).use(bodyParsing(1 << 20)).use(browserRoutes(manager, new BrowserActions(manager))) as unknown as Elysia;
});

// Each test starts with no session open, so the limit test knows how many fit.
afterEach(async () => {
  for (const session of manager.list()) await manager.close(session.id);
});

afterAll(async () => {
  await manager.stop();
  server.stop();
});

describe("browser sessions against Chromium", () => {
  test("navigate reports the final URL and title", async () => {
    const id = await newSession();
    const result = await open("/form", id);
    expect(result).toMatchObject({ success: true, url: `${base}/form`, title: "Form", status: "completed", http_status: 200 });
    const info = await call(`/v1/browser/sessions/${id}`);
    expect(info.body).toMatchObject({ session_id: id, status: "active", url: `${base}/form`, viewport: { width: 1920, height: 1080 } });
  });

  test("a form is filled, typed into and submitted", async () => {
    const id = await newSession();
    await open("/form", id);
    expect((await act("fill", { session_id: id, selector: "#name", value: "Ada" })).body).toMatchObject({ success: true, selector: "#name" });
    expect((await act("type", { session_id: id, selector: "textarea[name=note]", text: "hi there", delay: 5 })).status).toBe(200);
    const values = await act("extract", { session_id: id, selector: "#name, textarea", attributes: ["value"] });
    expect(values.body.elements.map((element: { value: string }) => element.value)).toEqual(["Ada", "hi there"]);
    expect((await act("click", { session_id: id, selector: "#send" })).status).toBe(200);
    expect((await act("wait", { session_id: id, condition: "visible", selector: "#greeting", timeout: 5000 })).status).toBe(200);
    expect(await text(id, "#greeting")).toBe("Hello, Ada! Note: hi there");
  });

  test("typing time counts on top of the timeout, which is for finding the element", async () => {
    const id = await newSession();
    await open("/form", id);
    const text = "typed slowly, one key after another, fifty chars!";
    const typed = await act("type", { session_id: id, selector: "#name", text, delay: 60, timeout: 500 });
    expect(typed.status).toBe(200);
    expect((await act("extract", { session_id: id, selector: "#name", attributes: ["value"] })).body.elements[0].value).toBe(text);
  });

  test("a click changes the DOM; an element that never becomes clickable is 408, a missing one 404", async () => {
    const id = await newSession();
    await open("/click", id);
    await act("click", { session_id: id, selector: "#add", force: true });
    await act("click", { session_id: id, selector: "#add", force: true });
    expect(await text(id, "#log")).toBe("Clicked 1 Clicked 2");
    const covered = await act("click", { session_id: id, selector: "#cover-target", timeout: 400 });
    expect(covered).toMatchObject({ status: 408, body: { code: "TIMEOUT" } });
    const missing = await act("click", { session_id: id, selector: "#does-not-exist", timeout: 300 });
    expect(missing).toMatchObject({ status: 404, body: { code: "ELEMENT_NOT_FOUND" } });
    const fillMissing = await act("fill", { session_id: id, selector: "#nothing", value: "x", timeout: 300 });
    expect(fillMissing).toMatchObject({ status: 404, body: { code: "ELEMENT_NOT_FOUND" } });
    const notEditable = await act("fill", { session_id: id, selector: "#log", value: "x", timeout: 1000 });
    expect(notEditable.status).toBe(400);
    const invalid = await act("click", { session_id: id, selector: "div[", timeout: 300 });
    expect(invalid).toMatchObject({ status: 400, body: { code: "INVALID_SELECTOR" } });
  });

  test("waits succeed when the condition comes true and time out with 408", async () => {
    const id = await newSession();
    await open("/delayed", id);
    const visible = await act("wait", { session_id: id, condition: "visible", selector: "#ready", timeout: 5000 });
    expect(visible.body).toMatchObject({ success: true, condition: "visible" });
    const hidden = await act("wait", { session_id: id, condition: "hidden", selector: "#spinner", timeout: 1000 });
    expect(hidden.status).toBe(200);
    expect((await act("wait", { session_id: id, condition: "load", timeout: 2000 })).status).toBe(200);
    expect((await act("wait", { session_id: id, condition: "networkidle", timeout: 5000 })).status).toBe(200);
    const started = performance.now();
    const never = await act("wait", { session_id: id, condition: "visible", selector: "#never", timeout: 300 });
    expect(never).toMatchObject({ status: 408, body: { code: "TIMEOUT" } });
    expect(performance.now() - started).toBeLessThan(5000);
    const stays = await act("wait", { session_id: id, condition: "hidden", selector: "#ready", timeout: 300 });
    expect(stays.status).toBe(408);
  });

  test("a navigation that runs out of time is 408, an unreachable host 502", async () => {
    const id = await newSession();
    const slow = await act("navigate", { session_id: id, url: `${base}/slow`, wait_timeout: 400 });
    expect(slow).toMatchObject({ status: 408, body: { code: "TIMEOUT" } });
    const closed = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("") });
    const port = closed.port;
    closed.stop(true);
    const refused = await act("navigate", { session_id: id, url: `http://127.0.0.1:${port}/` });
    expect(refused).toMatchObject({ status: 502, body: { code: "NAVIGATION_FAILED" } });
    expect(refused.body.detail).toContain("ERR_CONNECTION_REFUSED");
  });

  test("screenshots have the viewport's, the clip's and the full page's dimensions", async () => {
    const id = await newSession({ viewport_width: 640, viewport_height: 480 });
    await open("/tall", id);
    const decode = async (body: Record<string, unknown>) => {
      const response = await act("screenshot", { session_id: id, ...body });
      expect(response.status).toBe(200);
      const size = imageSize(Buffer.from(response.body.screenshot, "base64"));
      expect(size).toEqual({ width: response.body.width, height: response.body.height });
      return size;
    };
    expect(await decode({ full_page: false })).toEqual({ width: 640, height: 480 });
    expect(await decode({ full_page: false, format: "jpeg", quality: 50 })).toEqual({ width: 640, height: 480 });
    expect(await decode({ clip: { x: 10, y: 20, width: 100, height: 50 } })).toEqual({ width: 100, height: 50 });
    expect(await decode({ clip: { x: 0, y: 0, width: 33, height: 17 }, format: "jpeg" })).toEqual({ width: 33, height: 17 });
    const full = await decode({});
    expect(full!.width).toBe(640);
    expect(full!.height).toBeGreaterThan(2000);
    // The JPEG really is one, the PNG really is one.
    const jpeg = await act("screenshot", { session_id: id, format: "jpeg", full_page: false });
    expect(Buffer.from(jpeg.body.screenshot, "base64").subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));
  });

  test("scroll moves to a position and brings an element into view", async () => {
    const id = await newSession({ viewport_width: 640, viewport_height: 480 });
    await open("/tall", id);
    expect((await act("scroll", { session_id: id, y: 500 })).body).toMatchObject({ success: true, y: 500 });
    const toBottom = await act("scroll", { session_id: id, selector: "#bottom" });
    expect(toBottom.body.y).toBeGreaterThan(1500);
    expect((await act("scroll", { session_id: id, x: 0, y: 0 })).body.y).toBe(0);
    expect((await act("scroll", { session_id: id })).body.y).toBe(480);
  });

  test("extract reports tag, text, attributes and a selector that finds the element again", async () => {
    const id = await newSession();
    await open("/links", id);
    const result = await act("extract", { session_id: id, selector: "a", attributes: ["href", "data-kind", "class"] });
    expect(result.body.count).toBe(2);
    expect(result.body.elements).toEqual([
      { tagName: "a", text: "One", href: `${base}/one`, "data-kind": "first", class: "nav", selector: expect.any(String) },
      { tagName: "a", text: "Two", href: "https://example.invalid/two", "data-kind": "second", class: null, selector: expect.any(String) },
    ]);
    for (const element of result.body.elements) {
      const again = await act("extract", { session_id: id, selector: element.selector });
      expect(again.body.count).toBe(1);
      expect(again.body.elements[0].text).toBe(element.text);
    }
    const image = await act("extract", { session_id: id, selector: "img", attributes: ["alt"] });
    expect(image.body.elements[0]).toMatchObject({ tagName: "img", alt: "A picture" });
    const defaults = await act("extract", { session_id: id });
    expect(defaults.body.elements.length).toBe(3);
    expect((await act("extract", { session_id: id, selector: ".nothing-here" })).body.code).toBe("ELEMENT_NOT_FOUND");
  });

  test("content returns the article without navigation, ads or footer, with a sane word count", async () => {
    const id = await newSession();
    await open("/article", id);
    const result = await act("content", { session_id: id });
    expect(result.status).toBe(200);
    const readable = result.body.readable_content;
    expect(readable.is_article).toBe(true);
    expect(readable.title).toMatch(/river bridge/i);
    expect(readable.byline).toContain("Mara Quill");
    for (const paragraph of ARTICLE_PARAGRAPHS) expect(readable.content).toContain(paragraph);
    for (const noise of ["BUY NOW", "Sponsored", "Copyright Gazette", "Celebrity owns", "Weather"]) expect(readable.content).not.toContain(noise);
    expect(readable.content).toContain("\n\n");
    expect(readable.word_count).toBeGreaterThanOrEqual(ARTICLE_WORDS);
    expect(readable.word_count).toBeLessThan(ARTICLE_WORDS + 30);
    expect(readable.length).toBe(readable.content.length);
    expect(result.body.url).toBe(`${base}/article`);
    expect(result.body.title).toBe("River bridge opens - Gazette");
    expect(result.body.extraction_time).toBeGreaterThan(0);

    const anchors: { text: string; selector: string; length: number }[] = result.body.content_anchors;
    expect(anchors.length).toBeGreaterThanOrEqual(ARTICLE_PARAGRAPHS.length);
    for (const anchor of anchors) for (const noise of ["BUY NOW", "Sponsored", "Copyright", "Celebrity"]) expect(anchor.text).not.toContain(noise);
    const second = anchors.find((anchor) => anchor.text === ARTICLE_PARAGRAPHS[1]);
    expect(second).toBeDefined();
    expect(await text(id, second!.selector)).toBe(ARTICLE_PARAGRAPHS[1]!);
    const limited = await act("content", { session_id: id, max_anchors: 2, include_interactive: false });
    expect(limited.body.content_anchors).toHaveLength(2);
    expect(limited.body.interactive_elements).toHaveLength(0);
  });

  test("content reads a page whose Content-Security-Policy forbids scripts", async () => {
    const id = await newSession();
    await open("/strict-csp", id);
    const result = await act("content", { session_id: id });
    expect(result.status).toBe(200);
    expect(result.body.readable_content.content).toContain(ARTICLE_PARAGRAPHS[2]);
    expect(result.body.content_anchors.length).toBeGreaterThan(0);
  });

  test("every selector content returns is unique, and clicking one works", async () => {
    const id = await newSession();
    await open("/article", id);
    const result = await act("content", { session_id: id });
    const elements: { text: string; selector: string; interactive_type: string }[] = result.body.interactive_elements;
    expect(elements.map((element) => element.text)).toEqual(expect.arrayContaining(["Home", "News", "Like this story"]));
    for (const element of [...elements, ...result.body.content_anchors]) {
      const matches = await act("extract", { session_id: id, selector: element.selector });
      expect({ selector: element.selector, count: matches.body.count }).toEqual({ selector: element.selector, count: 1 });
    }
    const like = elements.find((element) => element.text === "Like this story")!;
    expect(like.interactive_type).toBe("button");
    expect((await act("click", { session_id: id, selector: like.selector })).status).toBe(200);
    expect(await text(id, like.selector)).toBe("Liked");

    // Elements without ids (siblings told apart by position) and ids that need escaping.
    await open("/click-plain", id);
    const plain = (await act("content", { session_id: id })).body.interactive_elements as { text: string; selector: string }[];
    for (const label of ["Two", "Odd id"]) {
      const target = plain.find((element) => element.text === label)!;
      expect((await act("click", { session_id: id, selector: target.selector })).status).toBe(200);
    }
    expect(await text(id, "li:nth-of-type(2) button")).toBe("two done");
    expect(await text(id, "li:nth-of-type(1) button")).toBe("One");
    const odd = plain.find((element) => element.text === "odd done" || element.text === "Odd id")!;
    expect(await text(id, odd.selector)).toBe("odd done");

    // A form's fields come with selectors that fill accepts.
    await open("/form", id);
    const fields = (await act("content", { session_id: id })).body.interactive_elements as { selector: string; interactive_type: string; name?: string }[];
    const note = fields.find((field) => field.name === "note")!;
    expect(note.interactive_type).toBe("textarea");
    expect((await act("fill", { session_id: id, selector: note.selector, value: "from content" })).status).toBe(200);
  });

  test("navigate and content without a session use the default session; content with a url navigates first", async () => {
    const navigated = await act("navigate", { url: `${base}/links` });
    expect(navigated.body).toMatchObject({ success: true, session_id: "default", title: "Links" });
    const content = await act("content", { url: `${base}/article`, include_interactive: false });
    expect(content.status).toBe(200);
    expect(content.body.url).toBe(`${base}/article`);
    expect(content.body.readable_content.content).toContain(ARTICLE_PARAGRAPHS[0]);
    const current = await act("content", {});
    expect(current.body.url).toBe(`${base}/article`);
    expect((await act("content", { url: `${base}/slow`, wait_timeout: 300 })).status).toBe(408);
  });

  test("a page stuck in a script answers 408 instead of hanging, and its session can be closed", async () => {
    const id = await newSession();
    await open("/busy", id);
    const started = performance.now();
    // The click starts an endless loop in the page: the click itself cannot finish. Its timeout leaves
    // room for the click to be dispatched at all on a busy machine (500 ms did not, at load 9-12).
    expect(await act("click", { session_id: id, selector: "#hang", timeout: 3000 })).toMatchObject({ status: 408, body: { code: "TIMEOUT" } });
    const stuck = await act("content", { session_id: id, timeout: 500 });
    expect(stuck).toMatchObject({ status: 408, body: { code: "TIMEOUT" } });
    expect((await act("extract", { session_id: id, selector: "#busy", timeout: 500 })).status).toBe(408);
    expect(performance.now() - started).toBeLessThan(15_000);
    expect((await call(`/v1/browser/sessions/${id}`, undefined, "DELETE")).body).toEqual({ success: true });
    const other = await newSession();
    expect((await open("/form", other)).title).toBe("Form");
  });

  test("two sessions do not share cookies", async () => {
    const first = await newSession();
    const second = await newSession();
    await open("/set-cookie", first);
    await open("/echo-cookie", first);
    expect(await text(first, "#cookie")).toBe("[flavour=oatmeal]");
    await open("/echo-cookie", second);
    expect(await text(second, "#cookie")).toBe("[]");
  });

  test("user agent and viewport are per session", async () => {
    const id = await newSession({ viewport_width: 700, viewport_height: 500, user_agent: "CodeRunnerTest/1.0" });
    await act("navigate", { session_id: id, url: "data:text/html,<p id=ua></p><script>document.getElementById('ua').textContent = navigator.userAgent + ' ' + innerWidth + 'x' + innerHeight</script>" });
    expect(await text(id, "#ua")).toBe("CodeRunnerTest/1.0 700x500");
  });

  test("429 at the session limit; deleting a session frees its slot", async () => {
    const created: string[] = [];
    for (;;) {
      const response = await call("/v1/browser/sessions/", {});
      if (response.status !== 200) {
        expect(response).toMatchObject({ status: 429, body: { code: "TOO_MANY_SESSIONS" } });
        break;
      }
      created.push(response.body.session_id);
      expect(created.length).toBeLessThanOrEqual(MAX_SESSIONS);
    }
    expect(manager.size).toBe(MAX_SESSIONS);
    expect((await call(`/v1/browser/sessions/${created[0]}`, undefined, "DELETE")).body).toEqual({ success: true });
    expect((await act("navigate", { session_id: created[0], url: `${base}/form` })).status).toBe(404);
    expect((await call("/v1/browser/sessions/", {})).status).toBe(200);
  });

  test("one Chromium serves every session", () => {
    expect(manager.launches).toBe(1);
    expect(manager.processes().length).toBeGreaterThan(1);
  });

  test("a session's window loads no hidden browser UI (the WebUI omnibox popup would be a renderer per session)", async () => {
    const { session_id } = (await call("/v1/browser/sessions/", {})).body;
    const browser = manager.get(session_id).context.browser()!;
    const cdp = await browser.newBrowserCDPSession();
    try {
      const { targetInfos } = await cdp.send("Target.getTargets", { filter: [{}] });
      expect(targetInfos.filter((target) => target.type === "page").length).toBeGreaterThan(0);
      expect(targetInfos.filter((target) => target.url.startsWith("chrome://"))).toEqual([]);
    } finally {
      await cdp.detach();
    }
  });
});
