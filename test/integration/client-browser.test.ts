import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { BrowserSessionError, CodeRunner, ElementNotFoundError, FileError, InvalidRequestError, TimeoutError } from "../../src/client/index";
import { startTestServer, type TestServer } from "../helpers/server";
import { servePages } from "../helpers/pages";

/** The SDK's browser objects against a real server driving real Chromium, on pages served here. */

setDefaultTimeout(60_000);

const html = (title: string, body: string) => `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head><body>${body}</body></html>`;
const PAGES: Record<string, (url: URL) => string> = {
  "/": () =>
    html(
      "Home",
      `<h1>Welcome home</h1>
       <p class="intro">CodeRunner drives this page from the TypeScript SDK, through the REST API, into a real Chromium.</p>
       <a id="next" href="/form">Go to the form</a>
       <div style="height:3000px"></div><p id="bottom">Bottom of the page</p>`,
    ),
  "/form": () =>
    html(
      "Form",
      `<form action="/done"><input id="name" name="name"><input id="note" name="note"><button id="send" type="submit">Send</button></form>
       <button id="reveal" onclick="setTimeout(() => document.getElementById('late').style.display = 'block', 200)">Reveal</button>
       <p id="late" style="display:none">Revealed</p>`,
    ),
  "/files": () =>
    html(
      "Files",
      `<a id="get" href="data:text/plain,hello%20file" download="hello.txt">Get</a><input type="file" id="pick" onchange="document.getElementById('picked').textContent = this.files[0].name + ':' + this.files[0].size"><p id="picked"></p>`,
    ),
  "/done": (url) => html("Done", `<p id="greeting">Hello, ${url.searchParams.get("name")}! ${url.searchParams.get("note")}</p>`),
};

let pages: ReturnType<typeof servePages>;
let base: string;
let server: TestServer;
let runner: CodeRunner;

beforeAll(async () => {
  pages = servePages(PAGES);
  base = pages.base;
  server = await startTestServer({ kernelPoolSize: 0 }, { listen: true });
  runner = new CodeRunner({ baseURL: server.url, autoStart: false });
});

afterAll(async () => {
  await runner?.close();
  await server?.stop();
  pages?.stop();
});

describe("browser sessions", () => {
  test("the seed's flow: create, navigate, click, screenshot, extract, close", async () => {
    const browser = await runner.browser.createSession({ viewportWidth: 800, viewportHeight: 600 });
    expect(browser.sessionId).toBeString();
    const info = await browser.info();
    expect(info.viewport).toEqual({ width: 800, height: 600 });

    const navigated = await browser.navigate(`${base}/`);
    expect(navigated.title).toBe("Home");
    expect(navigated.success).toBe(true);
    await browser.click("#next");
    await browser.waitFor("visible", { selector: "#send" });
    const screenshot = await browser.screenshot({ fullPage: false });
    expect(Buffer.from(screenshot, "base64").subarray(1, 4).toString()).toBe("PNG");
    const elements = await browser.extractElements("#send", ["id", "type"]);
    expect(elements).toHaveLength(1);
    expect(elements[0]).toMatchObject({ tagName: "button", text: "Send", id: "send", type: "submit" });

    await browser.close();
    expect(browser.isActive).toBe(false);
    const after = await browser.info().catch((e) => e);
    expect(after).toBeInstanceOf(BrowserSessionError);
    expect(after.status).toBe(404);
  });

  test("type, fill, click submit the form; waitFor sees a late element", async () => {
    await using browser = await runner.browser.createSession();
    await browser.navigate(`${base}/form`);
    await browser.type("#name", "Ada", { delay: 5 });
    await browser.fill("#note", "filled");
    await browser.click("#reveal");
    const waited = await browser.waitFor("visible", { selector: "#late", timeout: 5000 });
    expect(waited.success).toBe(true);
    await browser.click("#send");
    await browser.waitFor("visible", { selector: "#greeting" });
    const [greeting] = await browser.extractElements("#greeting");
    expect(greeting!.text).toBe("Hello, Ada! filled");
  });

  test("scroll and extractContent give readable text and selectors usable in click", async () => {
    await using browser = await runner.browser.createSession();
    await browser.navigate(`${base}/`);
    expect((await browser.scroll({ selector: "#bottom" })).success).toBe(true);
    const content = await browser.extractContent();
    expect(content.title).toBe("Home");
    expect(content.readable_content.content).toContain("CodeRunner drives this page");
    const link = content.interactive_elements.find((element) => element.text.includes("Go to the form"));
    expect(link).toBeDefined();
    await browser.click(link!.selector);
    await browser.waitFor("visible", { selector: "#send" });
    expect((await browser.extractElements("title"))[0]?.text).toBe("Form");
  });

  test("snapshot gives refs that click and fill; a stale one is ElementNotFoundError", async () => {
    await using browser = await runner.browser.createSession();
    await browser.navigate(`${base}/`);
    const home = await browser.snapshot();
    expect(home.title).toBe("Home");
    expect(home.tokens).toBeLessThanOrEqual(3000);
    const link = /link "Go to the form" \[ref=(e\d+)\]/.exec(home.snapshot)![1];
    await browser.click(`ref=${link}`);
    await browser.waitFor("visible", { selector: "#send" });
    const form = await browser.snapshot({ maxTokens: 100 });
    const [name, note] = ["name", "note"].map((field) => new RegExp(`textbox "${field}" \\[ref=(e\\d+)\\]`).exec(form.snapshot)![1]);
    await browser.fill(`ref=${name}`, "Ada");
    await browser.fill(`ref=${note}`, "via refs");
    await browser.click(`ref=${/button "Send" \[ref=(e\d+)\]/.exec(form.snapshot)![1]}`);
    await browser.waitFor("visible", { selector: "#greeting" });
    expect((await browser.extractElements("#greeting"))[0]?.text).toBe("Hello, Ada! via refs");
    const stale = await browser.click(`ref=${name}`).catch((error: unknown) => error);
    expect(stale).toBeInstanceOf(ElementNotFoundError);
    expect((stale as ElementNotFoundError).code).toBe("STALE_REF");
  });

  test("a download's answer says where it went; listDownloads lists it; uploadFiles puts it into a file input", async () => {
    await using browser = await runner.browser.createSession();
    await browser.navigate(`${base}/files`);
    const clicked = await browser.click("#get");
    expect(clicked.downloads).toHaveLength(1);
    const [download] = clicked.downloads!;
    expect(download).toMatchObject({ filename: "hello.txt", status: "completed", size: 10 });
    expect(download!.relative_path).toBe(`browser-downloads/${browser.sessionId}/hello.txt`);
    expect(await browser.listDownloads()).toEqual([download!]);
    await browser.uploadFiles("#pick", [download!.relative_path!]);
    expect((await browser.extractElements("#picked"))[0]!.text).toBe("hello.txt:10");
    const escaping = await browser.uploadFiles("#pick", ["../../etc/passwd"]).catch((error) => error);
    expect(escaping).toBeInstanceOf(FileError);
    expect(escaping.code).toBe("INVALID_PATH");
  });

  test("typed errors: missing element, wait timeout, bad URL", async () => {
    await using browser = await runner.browser.createSession();
    await browser.navigate(`${base}/form`);
    const missing = await browser.click("#does-not-exist", { timeout: 500 }).catch((e) => e);
    expect(missing).toBeInstanceOf(ElementNotFoundError);
    expect(missing.code).toBe("ELEMENT_NOT_FOUND");
    const late = await browser.waitFor("visible", { selector: "#late", timeout: 300 }).catch((e) => e);
    expect(late).toBeInstanceOf(TimeoutError);
    expect(late.status).toBe(408);
    const bad = await browser.navigate("file:///etc/passwd").catch((e) => e);
    expect(bad).toBeInstanceOf(InvalidRequestError);
    expect(bad.code).toBe("INVALID_URL");
  });
});

describe("the manager's default-session shortcuts", () => {
  test("browser.navigate / extractElements / extractContent create and reuse one default session", async () => {
    await using local = new CodeRunner({ baseURL: server.url, autoStart: false });
    const before = (await local.browser.listSessions()).length;
    const navigated = await local.browser.navigate(`${base}/`);
    expect(navigated.title).toBe("Home");
    const [heading] = await local.browser.extractElements("h1");
    expect(heading!.text).toBe("Welcome home");
    const content = await local.browser.extractContent();
    expect(content.url).toBe(`${base}/`);
    expect((await local.browser.listSessions()).length).toBe(before + 1);
    await local.browser.close();
    expect((await local.browser.listSessions()).length).toBe(before);
  });

  test("closing the default session by hand makes the next shortcut open a fresh one", async () => {
    await using local = new CodeRunner({ baseURL: server.url, autoStart: false });
    await local.browser.navigate(`${base}/`);
    const first = await local.browser.getDefaultSession();
    await first.close();
    await local.browser.navigate(`${base}/form`);
    const second = await local.browser.getDefaultSession();
    expect(second.sessionId).not.toBe(first.sessionId);
    expect((await second.info()).session_id).toBe(second.sessionId);
  });

  test("extractContent with a url and no session asks the server directly", async () => {
    const local = new CodeRunner({ baseURL: server.url, autoStart: false });
    const content = await local.browser.extractContent({ url: `${base}/` });
    expect(content.title).toBe("Home");
    expect(content.readable_content.content).toContain("real Chromium");
  });

  test("`await using` closes every browser session the client opened", async () => {
    let ids: string[];
    {
      await using local = new CodeRunner({ baseURL: server.url, autoStart: false });
      const one = await local.browser.createSession();
      await local.browser.navigate(`${base}/`);
      const fallback = await local.browser.getDefaultSession();
      ids = [one.sessionId, fallback.sessionId];
      const open = (await local.browser.listSessions()).map((session) => session.session_id);
      expect(open).toEqual(expect.arrayContaining(ids));
    }
    const open = (await runner.browser.listSessions()).map((session) => session.session_id);
    for (const id of ids) expect(open).not.toContain(id);
  });
});
