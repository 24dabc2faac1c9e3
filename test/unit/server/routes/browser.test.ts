import { describe, expect, test } from "bun:test";
import { Elysia } from "elysia";
import { BrowserActions, forPlaywright } from "../../../../src/browser/browser-actions";
import { BrowserManager } from "../../../../src/browser/browser-manager";
import { silentLogger } from "../../../../src/log";
import { bodyParsing, errorHandling } from "../../../../src/server/http-errors";
import { browserRoutes } from "../../../../src/server/routes/browser";
import { type FakePage, fakeLauncher } from "../../browser/fakes";

/** The browser routes on a fake Chromium: everything decided before a page is touched. */
function setup(maxSessions = 2) {
  const launcher = fakeLauncher();
  const manager = new BrowserManager({ launch: launcher.launch, executablePath: "/opt/chromium", maxSessions, idleSeconds: 60, log: silentLogger });
  const app = new Elysia().use(errorHandling(silentLogger)).use(bodyParsing(1 << 20)).use(browserRoutes(manager, new BrowserActions(manager)));
  const call = async (method: string, path: string, body?: unknown) => {
    const init: RequestInit = { method };
    if (body !== undefined) {
      init.headers = { "content-type": "application/json" };
      init.body = typeof body === "string" ? body : JSON.stringify(body);
    }
    const response = await app.handle(new Request(`http://localhost${path}`, init));
    return { status: response.status, body: (await response.json()) as Record<string, any> };
  };
  return { launcher, manager, call };
}

describe("browser routes (fake Chromium)", () => {
  test("sessions: create with and without the trailing slash, get, list, delete", async () => {
    const { launcher, manager, call } = setup();
    const created = await call("POST", "/v1/browser/sessions/", { viewport_width: 800, viewport_height: 600, user_agent: "bot/1" });
    expect(created.status).toBe(200);
    const id = created.body.session_id as string;
    expect(launcher.browsers[0]!.contexts[0]!.options).toMatchObject({ viewport: { width: 800, height: 600 }, userAgent: "bot/1" });
    const other = await call("POST", "/v1/browser/sessions", {});
    expect(other.status).toBe(200);
    // The second session took the ready context and resized it to the default viewport.
    await manager.whenSparesReady();
    const taken = launcher.browsers[0]!.contexts.find((context) => context.page.viewports.length > 0)!;
    expect(taken.page.viewports).toEqual([{ width: 1920, height: 1080 }]);

    const got = await call("GET", `/v1/browser/sessions/${id}`);
    expect(got.body).toMatchObject({ session_id: id, viewport: { width: 800, height: 600 }, user_agent: "bot/1", status: "active" });
    for (const path of ["/v1/browser/sessions/", "/v1/browser/sessions"]) {
      const listed = await call("GET", path);
      expect(listed.status).toBe(200);
      expect(listed.body.sessions.map((session: { session_id: string }) => session.session_id).sort()).toEqual([id, other.body.session_id].sort());
    }
    expect((await call("DELETE", `/v1/browser/sessions/${id}`)).body).toEqual({ success: true });
    expect(await call("GET", `/v1/browser/sessions/${id}`)).toMatchObject({ status: 404, body: { code: "BROWSER_SESSION_NOT_FOUND" } });
    expect(await call("DELETE", `/v1/browser/sessions/${id}`)).toMatchObject({ status: 404, body: { code: "BROWSER_SESSION_NOT_FOUND" } });
    await manager.stop();
  });

  test("a screenshot Chromium had no frame for is tried again; other failures are not", async () => {
    const { manager, call } = setup();
    const { session_id } = (await call("POST", "/v1/browser/sessions/", {})).body;
    const page = (await manager.resolve(session_id)).page as unknown as FakePage;
    const noFrame = "page.screenshot: Protocol error (Page.captureScreenshot): Unable to capture screenshot";
    page.screenshotFailures.push(noFrame, "page.screenshot: Protocol error (Page.captureScreenshot): Not attached to an active page");
    const taken = await call("POST", "/v1/browser/interactions/screenshot", { session_id });
    expect(taken).toMatchObject({ status: 200, body: { format: "png", width: 1, height: 1 } });
    expect(page.screenshots).toBe(3);

    page.screenshots = 0;
    page.screenshotFailures.push(noFrame, noFrame, noFrame);
    expect(await call("POST", "/v1/browser/interactions/screenshot", { session_id })).toMatchObject({ status: 500, body: { code: "BROWSER_ERROR" } });
    expect(page.screenshots).toBe(3);

    page.screenshots = 0;
    page.screenshotFailures.splice(0, Infinity, "page.screenshot: Protocol error (Page.captureScreenshot): Internal error");
    expect(await call("POST", "/v1/browser/interactions/screenshot", { session_id })).toMatchObject({ status: 500, body: { code: "BROWSER_ERROR" } });
    expect(page.screenshots).toBe(1);
    await manager.stop();
  });

  test("Playwright is never given under 100 ms, where its retries stop pausing and can spin the server", () => {
    expect([1, 0.4, 50, 99.6, 100, 800, 30_000].map(forPlaywright)).toEqual([100, 100, 100, 100, 100, 800, 30_000]);
  });

  test("429 when the session limit is reached", async () => {
    const { manager, call } = setup(2);
    await call("POST", "/v1/browser/sessions/", {});
    await call("POST", "/v1/browser/sessions/", {});
    const refused = await call("POST", "/v1/browser/sessions/", {});
    expect(refused.status).toBe(429);
    expect(refused.body.code).toBe("TOO_MANY_SESSIONS");
    expect(refused.body.detail).toContain("2");
    await manager.stop();
  });

  test("a crashed browser's sessions answer 410", async () => {
    const { launcher, manager, call } = setup();
    const id = (await call("POST", "/v1/browser/sessions/", {})).body.session_id;
    launcher.browsers[0]!.crash();
    const gone = await call("POST", "/v1/browser/interactions/click", { session_id: id, selector: "#a" });
    expect(gone.status).toBe(410);
    expect(gone.body.code).toBe("SESSION_GONE");
    expect(gone.body.detail).toContain("Chromium exited");
    expect((await call("GET", `/v1/browser/sessions/${id}`)).status).toBe(410);
    await manager.stop();
  });

  test("unknown sessions are 404 on every interaction", async () => {
    const { manager, call } = setup();
    const bodies: Record<string, object> = {
      navigate: { url: "http://127.0.0.1/" },
      click: { selector: "a" },
      type: { selector: "a", text: "x" },
      fill: { selector: "a", value: "x" },
      scroll: { y: 10 },
      wait: { condition: "load" },
      screenshot: {},
      extract: {},
      content: {},
    };
    for (const [action, body] of Object.entries(bodies)) {
      const response = await call("POST", `/v1/browser/interactions/${action}`, { ...body, session_id: "no-such-session" });
      expect({ action, status: response.status, code: response.body.code }).toEqual({ action, status: 404, code: "BROWSER_SESSION_NOT_FOUND" });
    }
    await manager.stop();
  });

  test("missing fields and wrong types are 422 naming the field", async () => {
    const { manager, call } = setup();
    const cases: [string, unknown, string][] = [
      ["navigate", {}, "url"],
      ["navigate", { url: 42 }, "url"],
      ["navigate", { url: "http://a.b/", wait_timeout: "soon" }, "wait_timeout"],
      ["navigate", { url: "http://a.b/", wait_timeout: -5 }, "wait_timeout"],
      ["click", { session_id: "s" }, "selector"],
      ["click", { selector: "a", force: "yes" }, "force"],
      ["type", { selector: "a" }, "text"],
      ["type", { selector: "a", text: "x", delay: "slow" }, "delay"],
      ["fill", { selector: "a" }, "value"],
      ["fill", { selector: "", value: "x" }, "selector"],
      ["scroll", { y: "down" }, "y"],
      ["wait", { selector: "a" }, "condition"],
      ["screenshot", { full_page: "yes" }, "full_page"],
      ["screenshot", { format: "gif" }, "format"],
      ["screenshot", { clip: { x: 0, y: 0, width: 0, height: 10 } }, "clip"],
      ["screenshot", { format: "jpeg", quality: 101 }, "quality"],
      ["extract", { attributes: "href" }, "attributes"],
      ["content", { max_anchors: "many" }, "max_anchors"],
      ["snapshot", { max_tokens: "lots" }, "max_tokens"],
      ["snapshot", { max_tokens: 10 }, "max_tokens"],
      ["snapshot", { cursor: 5 }, "cursor"],
      ["snapshot", { selector: "" }, "selector"],
      // An object whose toString is data cannot be printed into Elysia's message: still a 422 (the fuzz found a 500).
      ["click", { selector: { toString: ["x", 1.5] }, timeout: 157 }, "selector"],
      ["fill", { selector: "a", value: { valueOf: 1, toString: {} } }, "value"],
    ];
    for (const [action, body, field] of cases) {
      const response = await call("POST", `/v1/browser/interactions/${action}`, body);
      expect({ action, field, status: response.status, code: response.body.code }).toEqual({ action, field, status: 422, code: "VALIDATION_ERROR" });
      expect(response.body.detail).toContain(field);
    }
    const badSession = await call("POST", "/v1/browser/sessions/", { viewport_width: "wide" });
    expect(badSession).toMatchObject({ status: 422, body: { code: "VALIDATION_ERROR" } });
    expect((await call("POST", "/v1/browser/sessions/", { viewport_height: 100000 })).status).toBe(422);
    expect(manager.size).toBe(0);
    await manager.stop();
  });

  test("malformed JSON is 400", async () => {
    const { manager, call } = setup();
    const response = await call("POST", "/v1/browser/interactions/navigate", "{not json");
    expect(response).toMatchObject({ status: 400, body: { code: "INVALID_JSON" } });
    await manager.stop();
  });

  test("an unknown wait condition is 400, and visible/hidden without a selector 422", async () => {
    const { manager, call } = setup();
    const unknown = await call("POST", "/v1/browser/interactions/wait", { condition: "domready", session_id: "x" });
    expect(unknown).toMatchObject({ status: 400, body: { code: "INVALID_CONDITION" } });
    expect(unknown.body.detail).toContain("networkidle");
    const noSelector = await call("POST", "/v1/browser/interactions/wait", { condition: "visible" });
    expect(noSelector).toMatchObject({ status: 422, body: { code: "VALIDATION_ERROR" } });
    await manager.stop();
  });

  test("typing that would hold the session for minutes is a 422 naming fill, before any browser starts", async () => {
    const { manager, call, launcher } = setup();
    for (const body of [{ text: "x".repeat(301) }, { text: "x".repeat(1001), delay: 0 }, { text: "abcdefg", delay: 5000 }]) {
      const answer = await call("POST", "/v1/browser/interactions/type", { selector: "input", ...body });
      expect(answer).toMatchObject({ status: 422, body: { code: "VALIDATION_ERROR" } });
      expect(answer.body.detail).toContain("use fill for long text");
    }
    expect(launcher.calls).toHaveLength(0);
    await manager.stop();
  });

  test("bad URLs are 400 before any browser starts", async () => {
    const { launcher, manager, call } = setup();
    for (const url of ["file:///etc/passwd", "not a url", "javascript:alert(1)", ""]) {
      const response = await call("POST", "/v1/browser/interactions/navigate", { url });
      expect({ url, status: response.status, code: response.body.code }).toEqual({ url, status: 400, code: "INVALID_URL" });
    }
    expect((await call("POST", "/v1/browser/interactions/content", { url: "file:///etc/hosts" })).body.code).toBe("INVALID_URL");
    expect(launcher.calls).toHaveLength(0);
    await manager.stop();
  });
});
