import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Elysia } from "elysia";
import { BrowserActions } from "../../src/browser/browser-actions";
import { BrowserManager, DEFAULT_VIEWPORT } from "../../src/browser/browser-manager";
import { findChromium } from "../../src/browser/chromium-path";
import { BrowserFiles, placeOf } from "../../src/browser/downloads";
import { FileArea } from "../../src/files/file-area";
import { WorkspaceFiles } from "../../src/files/workspace-files";
import { silentLogger } from "../../src/log";
import { bodyParsing, errorHandling } from "../../src/server/http-errors";
import { browserRoutes } from "../../src/server/routes/browser";
import { servePages } from "../helpers/pages";

// Chromium on a busy 2-core machine can take seconds to start a page.
setDefaultTimeout(90_000);

/** Downloads and file inputs against the real Chromium, on pages this test serves on 127.0.0.1. */

const CAP = 1024 * 1024;
const html = (title: string, body: string) => `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title></head><body>${body}</body></html>`;
const attachment = (body: string | ReadableStream, disposition: string) =>
  new Response(body, { headers: { "content-type": "application/octet-stream", "content-disposition": disposition } });

/** A body of `total` bytes, sent in 64 KiB chunks a little apart (a download that takes a while), without a length. */
function slowBytes(total: number): ReadableStream {
  let sent = 0;
  return new ReadableStream({
    async pull(controller) {
      if (sent >= total) return controller.close();
      await Bun.sleep(5);
      const chunk = new Uint8Array(Math.min(65536, total - sent)).fill(120);
      sent += chunk.length;
      controller.enqueue(chunk);
    },
  });
}

const LINKS = html(
  "Links",
  `<a id="hostile" href="/hostile">hostile</a>
   <a id="named" href="/plain" download="report.txt">named</a>
   <a id="backslash" href="/plain" download="..\\..\\..\\evil.txt">backslash</a>
   <a id="dotfile" href="/plain" download=".bashrc">dotfile</a>
   <a id="huge" href="/huge">huge</a>
   <a id="late" href="/late" download="late.txt"><span id="inside-late">late</span></a>
   <button id="script" onclick="location.href = '/made'">script</button>`,
);

const FORM = html(
  "Form",
  `<input type="file" id="many" multiple onchange="show(this)"><input type="file" id="one" onchange="show(this)"><input type="text" id="text">
   <p id="out"></p>
   <script>function show(input) { document.getElementById('out').textContent = [...input.files].map((f) => f.name + ':' + f.size).join(','); }</script>`,
);

let server: ReturnType<typeof servePages>;
let manager: BrowserManager;
let app: Elysia;
let workspace: string;
/** The code session the owned browser sessions belong to. */
let codeDir: string;

async function call(method: string, path: string, body?: unknown) {
  const response = await app.handle(
    new Request(`http://localhost${path}`, { method, headers: { "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) }),
  );
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

async function ok(action: string, body: Record<string, unknown>) {
  const response = await call("POST", `/v1/browser/interactions/${action}`, body);
  expect({ action, status: response.status, detail: response.body.detail }).toEqual({ action, status: 200, detail: undefined });
  return response.body;
}

/** A browser session belonging to the code session `code1` (its id says so, as the routes make it). */
async function ownedSession(): Promise<string> {
  return (await manager.create({ viewport: DEFAULT_VIEWPORT }, `code1.${crypto.randomUUID()}`)).id;
}

beforeAll(() => {
  server = servePages({
    "/links": LINKS,
    "/form": FORM,
    "/plain": () => new Response("plain text\n", { headers: { "content-type": "text/plain" } }),
    "/made": () => attachment("made by script", 'attachment; filename="made.txt"'),
    "/hostile": () => attachment("hostile body", 'attachment; filename="../../../etc/passwd"'),
    "/huge": () => attachment(slowBytes(3 * CAP), 'attachment; filename="huge.bin"'),
    // A download link whose server takes a moment to answer: only a click that knew it clicked a download link waits for it.
    "/late": async () => {
      await Bun.sleep(600);
      return new Response("late body", { headers: { "content-type": "text/plain" } });
    },
  });
  workspace = mkdtempSync(join(tmpdir(), "coderunner-browser-files-"));
  codeDir = join(workspace, "sessions", "code1");
  mkdirSync(codeDir, { recursive: true });
  const sessions = { workspace, find: (id: string) => (id === "code1" ? ({ dir: codeDir } as never) : undefined) };
  const files = new BrowserFiles({
    files: new WorkspaceFiles(new FileArea(workspace), join(workspace, ".uploads")),
    workspace,
    placeOf: placeOf(sessions),
    maxBytes: CAP,
    log: silentLogger,
    pollMs: 20,
  });
  manager = new BrowserManager({ executablePath: findChromium(), maxSessions: 6, idleSeconds: 600, log: silentLogger, spares: 0 });
  app = new Elysia().use(errorHandling(silentLogger)).use(bodyParsing(1 << 20)).use(browserRoutes(manager, new BrowserActions(manager, files))) as unknown as Elysia;
});

afterAll(async () => {
  await manager.stop();
  server.stop();
  rmSync(workspace, { recursive: true, force: true });
});

describe("downloads", () => {
  test("a click that downloads answers where the file was saved; hostile names stay in the downloads folder", async () => {
    const session_id = await ownedSession();
    await ok("navigate", { session_id, url: `${server.base}/links` });

    const hostile = await ok("click", { session_id, selector: "#hostile" });
    expect(hostile.downloads).toHaveLength(1);
    const saved = hostile.downloads[0];
    expect(saved.status).toBe("completed");
    expect(saved.suggested_filename).toContain("passwd");
    expect(saved.filename).not.toContain("/");
    expect(saved.path).toBe(join(codeDir, "downloads", saved.filename));
    expect(saved.relative_path).toBe(join("downloads", saved.filename));
    expect(saved.size).toBe("hostile body".length);
    expect(readFileSync(saved.path, "utf8")).toBe("hostile body");

    const named = await ok("click", { session_id, selector: "#named" });
    expect(named.downloads[0]).toMatchObject({ filename: "report.txt", status: "completed", size: "plain text\n".length });
    // The same name again is kept beside the first, not over it.
    const again = await ok("click", { session_id, selector: "#named" });
    expect(again.downloads[0].filename).toBe("report (2).txt");

    for (const id of ["#backslash", "#dotfile"]) {
      const result = await ok("click", { session_id, selector: id });
      const { filename, path } = result.downloads[0];
      expect(filename).not.toMatch(/^\.|[\\/]/);
      expect(path.startsWith(join(codeDir, "downloads") + "/")).toBe(true);
    }
    expect(readdirSync(join(codeDir, "downloads")).length).toBe(5);

    // A download link (or something inside one) whose answer comes late is still in the click's answer.
    for (const id of ["#late", "#inside-late"]) {
      const late = await ok("click", { session_id, selector: id });
      expect(late.downloads?.[0], id).toMatchObject({ suggested_filename: "late.txt", status: "completed" });
    }

    // A click that does not download says nothing of downloads.
    const plain = await ok("click", { session_id, selector: "body" });
    expect(plain.downloads).toBeUndefined();
    await manager.close(session_id);
  });

  test("a download started by a script, and a navigation to a file, are answered too", async () => {
    const session_id = await ownedSession();
    await ok("navigate", { session_id, url: `${server.base}/links` });
    const scripted = await ok("click", { session_id, selector: "#script" });
    expect(scripted.downloads[0]).toMatchObject({ filename: "made.txt", status: "completed", size: "made by script".length });

    const navigated = await ok("navigate", { session_id, url: `${server.base}/hostile` });
    expect(navigated.status).toBe("downloaded");
    expect(navigated.url).toBe(`${server.base}/links`);
    expect(navigated.downloads[0].status).toBe("completed");
    await manager.close(session_id);
  });

  test("a download over the cap is stopped with a clear error, leaves no file, and the list shows every download", async () => {
    const session_id = await ownedSession();
    await ok("navigate", { session_id, url: `${server.base}/links` });
    const started = performance.now();
    const huge = await ok("click", { session_id, selector: "#huge" });
    expect(performance.now() - started).toBeLessThan(20_000);
    expect(huge.downloads[0].status).toBe("failed");
    expect(huge.downloads[0].error).toContain(`limit of ${CAP} bytes`);
    expect(huge.downloads[0].path).toBeNull();
    expect(existsSync(join(codeDir, "downloads", "huge.bin"))).toBe(false);

    await ok("click", { session_id, selector: "#named" });
    const listed = await call("GET", `/v1/browser/sessions/${session_id}/downloads`);
    expect(listed.status).toBe(200);
    expect(listed.body.downloads.map((download: { status: string }) => download.status)).toEqual(["failed", "completed"]);
    expect((await call("GET", "/v1/browser/sessions/nope/downloads")).status).toBe(404);
    await manager.close(session_id);
  });

  test("a browser session of no code session downloads into its own folder in the workspace", async () => {
    const { body } = await call("POST", "/v1/browser/sessions/", {});
    const session_id = body.session_id as string;
    await ok("navigate", { session_id, url: `${server.base}/links` });
    const named = await ok("click", { session_id, selector: "#named" });
    expect(named.downloads[0].path).toBe(join(workspace, "browser-downloads", session_id, "report.txt"));
    expect(named.downloads[0].relative_path).toBe(join("browser-downloads", session_id, "report.txt"));
    await manager.close(session_id);
  });
});

describe("file inputs from session files", () => {
  test("files of the session fill a file input, a downloaded one included", async () => {
    const session_id = await ownedSession();
    writeFileSync(join(codeDir, "input.txt"), "12345");
    mkdirSync(join(codeDir, "data"), { recursive: true });
    writeFileSync(join(codeDir, "data", "two.csv"), "a,b\n");
    await ok("navigate", { session_id, url: `${server.base}/links` });
    const downloaded = (await ok("click", { session_id, selector: "#named" })).downloads[0];

    await ok("navigate", { session_id, url: `${server.base}/form` });
    const result = await ok("upload", { session_id, selector: "#many", paths: ["input.txt", "data/two.csv", downloaded.relative_path] });
    expect(result).toMatchObject({ success: true, selector: "#many" });
    const out = await ok("extract", { session_id, selector: "#out" });
    expect(out.elements[0].text).toBe(`input.txt:5,two.csv:4,${downloaded.filename}:${downloaded.size}`);

    // By absolute path inside the workspace, and by ref.
    await ok("upload", { session_id, selector: "#one", paths: [join(codeDir, "input.txt")] });
    const snapshot = (await ok("snapshot", { session_id })).snapshot as string;
    const ref = /button \[ref=(e\d+)\] \[file\]/.exec(snapshot)![1];
    await ok("upload", { session_id, selector: `ref=${ref}`, paths: ["data/two.csv"] });
    expect((await ok("extract", { session_id, selector: "#out" })).elements[0].text).toBe("two.csv:4");
    await manager.close(session_id);
  });

  test("paths leaving the files, missing files and elements that are not file inputs are clear 4xx", async () => {
    const session_id = await ownedSession();
    await ok("navigate", { session_id, url: `${server.base}/form` });
    writeFileSync(join(codeDir, "input.txt"), "12345");
    const outside = mkdtempSync(join(tmpdir(), "coderunner-outside-"));
    writeFileSync(join(outside, "secret"), "secret");
    symlinkSync(outside, join(codeDir, "escape"));
    const cases: Array<[unknown, number, string]> = [
      [["../../../../etc/passwd"], 400, "INVALID_PATH"],
      [["/etc/passwd"], 400, "INVALID_PATH"],
      [["escape/secret"], 400, "INVALID_PATH"],
      [["in\u0000put.txt"], 400, "INVALID_PATH"],
      [["missing.txt"], 404, "FILE_NOT_FOUND"],
      [["data"], 400, "INVALID_PATH"],
    ];
    for (const [paths, status, code] of cases) {
      const response = await call("POST", "/v1/browser/interactions/upload", { session_id, selector: "#many", paths });
      expect({ paths, status: response.status, code: response.body.code }).toEqual({ paths, status, code });
      expect(typeof response.body.detail).toBe("string");
    }
    const notFileInput = await call("POST", "/v1/browser/interactions/upload", { session_id, selector: "#text", paths: ["input.txt"], timeout: 5000 });
    expect({ status: notFileInput.status, code: notFileInput.body.code }).toEqual({ status: 400, code: "NOT_A_FILE_INPUT" });
    const twoIntoOne = await call("POST", "/v1/browser/interactions/upload", { session_id, selector: "#one", paths: ["input.txt", "input.txt"], timeout: 5000 });
    expect(twoIntoOne.status).toBe(400);
    const noElement = await call("POST", "/v1/browser/interactions/upload", { session_id, selector: "#nothing", paths: ["input.txt"], timeout: 1000 });
    expect({ status: noElement.status, code: noElement.body.code }).toEqual({ status: 404, code: "ELEMENT_NOT_FOUND" });
    const noPaths = await call("POST", "/v1/browser/interactions/upload", { session_id, selector: "#many" });
    expect(noPaths.status).toBe(422);
    rmSync(outside, { recursive: true, force: true });
    await manager.close(session_id);
  });
});
