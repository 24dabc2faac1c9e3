import fc from "fast-check";
import { anyJSON, anyString, pathLike, shortString, urlString } from "./fuzz-values";
import type { FuzzOptions, FuzzRequest, Operation } from "./openapi-fuzz";

/**
 * What CodeRunner's fields mean, for the fuzzer: which ids the server issued (placeholders resolved
 * when a request is sent), code that is cheap and harmless to run, short browser waits, URLs that
 * never leave the machine, file paths aimed at a canary directory outside the workspace, and the
 * multipart and MCP bodies the OpenAPI document does not describe field by field.
 */

/** Ids the fuzzer may use: the fixtures' (never closed), those it made itself, and those it may close. */
export type IdKind = "session" | "own-session" | "closable-session" | "browser" | "own-browser" | "closable-browser" | "task";

/** A placeholder for an id the server issued, resolved when the request is sent. */
export class Issued {
  constructor(
    readonly kind: IdKind,
    readonly pick: number,
  ) {}
  toJSON() {
    return `<${this.kind} #${this.pick}>`;
  }
}

/** The ids the server issued, and how many sessions the fuzzer may still close (each costs a kernel start). */
export class IssuedIds {
  readonly sessions: string[] = [];
  readonly ownSessions: string[] = [];
  readonly browsers: string[] = [];
  readonly ownBrowsers: string[] = [];
  readonly tasks: string[] = [];
  /** Never issued: what a closing request names once its budget is spent. */
  private readonly unknown = crypto.randomUUID();

  constructor(private budget: { sessionCloses: number; browserCloses: number }) {}

  resolve(kind: IdKind, pick: number): string {
    const from = (list: string[]) => (list.length ? list[pick % list.length]! : this.unknown);
    switch (kind) {
      case "session":
        return from(this.sessions);
      case "own-session":
        return from(this.ownSessions);
      case "closable-session":
        return this.budget.sessionCloses > 0 ? from(this.ownSessions) : this.unknown;
      case "browser":
        return from(this.browsers);
      case "own-browser":
        return from(this.ownBrowsers);
      case "closable-browser":
        return this.budget.browserCloses > 0 ? from(this.ownBrowsers) : this.unknown;
      case "task":
        return from(this.tasks);
    }
  }

  /** Replaces every placeholder in `value` (deeply) by its id. */
  readonly resolveDeep = (value: unknown): unknown => {
    if (value instanceof Issued) return this.resolve(value.kind, value.pick);
    if (Array.isArray(value)) return value.map(this.resolveDeep);
    if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, this.resolveDeep(item)]));
    return value;
  };

  /** Learns ids from a successful answer, and counts the closes it spent. */
  learn(request: FuzzRequest, status: number, text: string): void {
    if (status >= 300) return;
    if (request.kind !== "valid" && request.kind !== "multipart") return;
    let body: { session_id?: unknown; task_id?: unknown } = {};
    try {
      body = JSON.parse(text);
    } catch {
      return;
    }
    const add = (list: string[], id: unknown) => typeof id === "string" && !list.includes(id) && list.push(id);
    if (request.op === "POST /sessions" || request.op === "POST /v1/sessions/session") add(this.ownSessions, body.session_id);
    if (request.op === "POST /v1/browser/sessions/") add(this.ownBrowsers, body.session_id);
    if (request.op === "POST /execute_async") add(this.tasks, body.task_id);
    if (request.method === "DELETE" && request.op === "DELETE /sessions/{id}") this.budget.sessionCloses--;
    if (request.op === "POST /kill") this.budget.sessionCloses--;
    if (request.method === "DELETE" && request.op === "DELETE /v1/browser/sessions/{id}") this.budget.browserCloses--;
  }
}

const issued = (kind: IdKind) => fc.nat(1000).map((pick) => new Issued(kind, pick));

/** Garbage ids for requests that close things: never one of the fixtures' (nor `default`, nor anything a URL could normalise into it). */
const harmlessGarbage = urlString.filter((id) => !/default/i.test(id));

const sessionIds = fc.oneof({ weight: 6, arbitrary: issued("session") }, { weight: 2, arbitrary: issued("own-session") }, { weight: 3, arbitrary: urlString });
const closableSessionIds = fc.oneof({ weight: 1, arbitrary: issued("closable-session") }, { weight: 3, arbitrary: harmlessGarbage });
const browserIds = fc.oneof({ weight: 6, arbitrary: issued("browser") }, { weight: 2, arbitrary: issued("own-browser") }, { weight: 3, arbitrary: urlString });
const closableBrowserIds = fc.oneof({ weight: 2, arbitrary: issued("closable-browser") }, { weight: 3, arbitrary: harmlessGarbage });
const taskIds = fc.oneof({ weight: 3, arbitrary: issued("task") }, { weight: 2, arbitrary: urlString });

/**
 * Code that is harmless and quick in Python and in bash alike (each errs quickly in the other), and
 * unicode. It never reads stdin, never ends the kernel (`exit()` would), never loops. No huge cells:
 * IPython spends seconds on one, uninterruptibly (a 1 MiB cell of one-letter lines: over a minute),
 * so a short timeout replaces the kernel, which is the server's rule, not a fault the fuzz can judge.
 */
const code = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom("print(1)", "1/0", "x_fuzz = 1", "echo hi", "true", "exit 3", "import sys; sys.exit(2)", "", "   ", "# nothing", "print('a' * 10_000)", "ls -la", "pwd; cd .. ; pwd", "\\", "'", "%%bash\necho cell", "!echo bang") },
  { weight: 3, arbitrary: shortString.map((text) => `print(${JSON.stringify(text)})`) },
);

/** Browser waits in milliseconds: short, so an absent element costs little. */
const shortWait = fc.oneof(fc.integer({ min: 1, max: 300 }), fc.constantFrom(1, 50, 800));

/** A page with something to click, fill, type into, extract and read. */
export const FORM_PAGE = `<!doctype html><html lang="en"><head><title>Fuzz form</title></head><body>
<h1>Fuzzing</h1><article><p>${"A paragraph of readable text for the article extractor. ".repeat(12)}</p></article>
<form><label for="name">Name</label><input id="name" name="q"><textarea id="notes"></textarea>
<select id="pick"><option>a</option><option>b</option></select><button id="go" type="button" onclick="this.textContent='done'">Go</button></form>
<a href="/other">other page</a><a id="dead" href="http://127.0.0.1:9/">closed port</a><div style="display:none" id="hidden">hidden</div></body></html>`;

/** Selectors that match on the form page, match nothing, or are not selectors at all. */
const selectors = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom("#name", "input[name=q]", "#notes", "#go", "#pick", "a", "h1", "body", "#hidden", "text=Go", "xpath=//h1", "form >> input") },
  { weight: 2, arbitrary: fc.constantFrom("#nope", "[[[", "", " ", "::", "div:has(", "xpath=//*[", "text=", ">>", "*") },
  { weight: 1, arbitrary: anyString },
);

/** URLs that stay on this machine (the page server, a closed port, data:, about:blank) or are refused before any connection. */
export function urls(pageBase: string): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(`${pageBase}/`, `${pageBase}/form`, "about:blank", `data:text/html,${encodeURIComponent(FORM_PAGE)}`, "data:text/plain,hello") },
    { weight: 2, arbitrary: fc.constantFrom("http://127.0.0.1:9/", "file:///etc/passwd", "javascript:alert(1)", "chrome://settings", "view-source:about:blank", "about:config", "ftp://127.0.0.1/", "example.com", "http://", "", "http://:80/", "data:", "about:blank#x") },
    { weight: 2, arbitrary: shortString.map((path) => `${pageBase}/${encodeURIComponent(path.toWellFormed())}`) },
    { weight: 1, arbitrary: shortString.map((text) => `data:text/html,${encodeURIComponent(text.toWellFormed())}`) },
    { weight: 1, arbitrary: anyString.filter((text) => !/^\s*(https?|ftp|wss?):/i.test(text)) },
  );
}

const isBrowser = (op: Operation) => op.path.startsWith("/v1/browser");

/** The field generators and weights for `requestsFor`, given where the test pages are served. */
export function coderunnerFuzzOptions(pageBase: string): FuzzOptions {
  const url = urls(pageBase);
  return {
    isProtected: (op, name) => name === "command" || name === "code" || (op.path === "/kill" && name === "session_id"),
    alwaysSent: new Set(["timeout", "wait_timeout", "delay"]),
    kindWeight: (op, kind) => {
      // A browser action costs Chromium real work (a screenshot, a page read): fewer of them are valid.
      if (kind === "valid" && isBrowser(op) && op.method === "POST") return 2;
      // Without a body (or one read as no options) a screenshot or a page read works on the default
      // 1920×1080 browser session: a full-page capture costs Chromium ~1.7 s of CPU, a read ~1.5 s.
      if (/\/(screenshot|content)$/.test(op.path)) {
        if (kind === "no-body" || kind === "content-type" || kind === "path") return 0;
        if (kind === "malformed") return 1;
      }
      // A browser session's creation costs Chromium about a second: the caps (429) are what is fuzzed there.
      if (kind === "path" && op.path === "/v1/browser/sessions/") return 0;
      return undefined;
    },
    pathParam: (op, name) => {
      if (name === "task_id") return taskIds;
      const closing = op.method === "DELETE";
      if (isBrowser(op)) return closing ? closableBrowserIds : browserIds;
      return closing ? closableSessionIds : sessionIds;
    },
    field: (op, name) => {
      const browser = isBrowser(op);
      switch (name) {
        case "command":
        case "code":
          return code;
        case "timeout":
          // Runs get time to finish even on a loaded machine: a run stopped inside `!cmd` can cost the
          // kernel (the interrupt does not land in time), the server's rule rather than a fault to find here.
          return browser ? shortWait : fc.oneof(fc.double({ min: 2, max: 3, noNaN: true }), fc.constantFrom(2, 3));
        case "wait_timeout":
          return shortWait;
        case "vm_lifetime_seconds":
          // A session that ends during the run frees its slot for another, each a kernel start.
          return fc.oneof(fc.constant(null), fc.double({ min: 600, max: 1e6, noNaN: true }));
        case "delay":
          return fc.integer({ min: 0, max: 5 });
        case "text":
          return fc.string({ maxLength: 12 });
        case "session_id":
          if (op.path === "/kill") return closableSessionIds;
          // null: the default session (the default browser session's page is 1920×1080, costly to capture).
          return fc.oneof({ weight: browser ? 12 : 5, arbitrary: browser ? browserIds : sessionIds }, { weight: 1, arbitrary: fc.constant(null) });
        case "sandbox_id":
          return fc.oneof(sessionIds, fc.constant(null));
        case "url":
          return url;
        case "selector":
          return selectors;
        case "viewport_width":
        case "viewport_height":
          // Chromium's work grows with the pixels (screenshots above all): small pages, the schema's bounds in mutations.
          return fc.integer({ min: 16, max: 640 });
        case "full_page":
          return fc.oneof({ weight: 4, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constantFrom(true, null) });
        case "condition":
          return fc.oneof({ weight: 4, arbitrary: fc.constantFrom("visible", "hidden", "load", "networkidle") }, { weight: 1, arbitrary: anyString });
        case "filename":
          return fc.oneof(fc.constantFrom("upload.txt", "dir/upload.bin", "missing.txt", "."), pathLike, anyString);
        case "metadata":
          return op.method === "GET" ? fc.oneof(fc.json(), urlString) : undefined;
        case "path":
          return pathLike;
      }
      return undefined;
    },
  };
}

/** Paths an upload may aim outside the workspace: at `canary` (absolute) or up from the session's directory. */
function escapes(canary: string, tag: string) {
  return fc.oneof(
    fc.nat(99).map((n) => `${canary}/${tag}-${n}`),
    fc.record({ up: fc.integer({ min: 1, max: 8 }), n: fc.nat(99) }).map(({ up, n }) => `${"../".repeat(up)}${tag}-${n}`),
    fc.nat(99).map((n) => `%2e%2e/${tag}-${n}`),
    fc.nat(99).map((n) => `./../x/../../${tag}-${n}`),
  );
}

/** Multipart bodies for `POST /upload`, well-formed or not, with escaping paths aimed at `canary`. */
export function uploads(canary: string, tag: string): fc.Arbitrary<FuzzRequest> {
  const name = fc.oneof({ weight: 4, arbitrary: fc.constantFrom("upload.txt", "dir/upload.bin", "a b.txt", "ünï😀.txt") }, { weight: 3, arbitrary: escapes(canary, tag) }, { weight: 2, arbitrary: fc.oneof(pathLike, shortString) });
  const content = fc.oneof({ weight: 8, arbitrary: fc.uint8Array({ maxLength: 2048 }) }, { weight: 1, arbitrary: fc.integer({ min: 512 * 1024, max: 3 * 1024 * 1024 }).map((size) => new Uint8Array(size)) });
  const part = fc.oneof(
    { weight: 3, arbitrary: fc.record({ field: fc.constant("file"), filename: name, content }) },
    { weight: 1, arbitrary: fc.record({ field: fc.constantFrom("file", "files", "", "session_id"), filename: fc.oneof(name, fc.constant("")), content }) },
  );
  const field = fc.oneof(
    fc.record({ name: fc.constant("remote_path"), value: name }),
    fc.record({ name: fc.constant("session_id"), value: sessionIds }),
    fc.record({ name: fc.constant("recursive"), value: fc.oneof(fc.constantFrom("true", "false", "TRUE", "1", ""), shortString) }),
    fc.record({ name: fc.oneof(shortString, fc.constantFrom("__proto__", "constructor")), value: anyString }),
  );
  const parts = fc.array(fc.oneof(part, field), { minLength: 0, maxLength: 5 });
  const damage = fc.constantFrom("none", "none", "none", "none", "truncated", "no-closing", "wrong-boundary", "no-boundary", "json");
  return fc.record({ parts, damage, boundary: fc.constantFrom("fuzzboundary", "----WebKitFormBoundary7MA4YWxkTrZu0gW", "a", "x".repeat(70)) }).map(
    ({ parts, damage, boundary }) =>
      ({ op: "POST /upload", kind: damage === "none" ? "multipart" : `multipart-${damage}`, method: "POST", path: "/upload", params: {}, spelling: 0, query: "", queryParams: {}, headers: {}, body: { parts, boundary, damage } }) satisfies FuzzRequest,
  );
}

const MCP_ACCEPT = "application/json, text/event-stream";

/** JSON-RPC for `POST /mcp`: the protocol's calls and every tool, with cheap, harmless arguments, or broken. */
export function mcpRequests(pageBase: string, canary: string, tag: string): fc.Arbitrary<FuzzRequest> {
  const url = urls(pageBase);
  const tool = fc.oneof(
    fc.record({ name: fc.constant("execute_python"), arguments: fc.record({ code, session_id: sessionIds, timeout: fc.constantFrom(0.5, 1) }, { requiredKeys: ["code"] }) }),
    fc.record({ name: fc.constant("execute_bash"), arguments: fc.record({ command: code, session_id: sessionIds, timeout: fc.constantFrom(0.5, 1) }, { requiredKeys: ["command"] }) }),
    fc.record({ name: fc.constant("create_session"), arguments: fc.record({ env: fc.dictionary(shortString, shortString, { maxKeys: 3 }) }, { requiredKeys: [] }) }),
    fc.record({ name: fc.constant("close_session"), arguments: fc.record({ session_id: closableSessionIds }) }),
    fc.record({ name: fc.constant("write_file"), arguments: fc.record({ path: fc.oneof(escapes(canary, tag), pathLike, shortString), content: shortString, session_id: sessionIds }, { requiredKeys: ["path", "content"] }) }),
    fc.record({ name: fc.constantFrom("read_file", "list_files"), arguments: fc.record({ path: pathLike, session_id: sessionIds }, { requiredKeys: [] }) }),
    fc.record({ name: fc.constantFrom("browser_navigate", "browser_content"), arguments: fc.record({ url, session_id: browserIds }, { requiredKeys: ["url"] }) }),
    fc.record({ name: fc.constant("browser_click"), arguments: fc.record({ selector: selectors, session_id: browserIds, timeout: shortWait }, { requiredKeys: ["selector", "timeout"] }) }),
    fc.record({ name: fc.constantFrom("browser_extract", "browser_screenshot"), arguments: fc.record({ selector: selectors, session_id: browserIds, full_page: fc.boolean() }, { requiredKeys: ["selector"] }) }),
    fc.record({ name: fc.oneof(shortString, fc.constantFrom("execute_python", "browser_fill", "nope")), arguments: fc.oneof(anyJSON, fc.dictionary(shortString, anyJSON, { maxKeys: 3 })) }),
  );
  const message = fc.oneof(
    { weight: 2, arbitrary: fc.record({ jsonrpc: fc.constant("2.0"), id: fc.nat(), method: fc.constant("tools/call"), params: tool }) },
    { weight: 1, arbitrary: fc.record({ jsonrpc: fc.constant("2.0"), id: fc.oneof(fc.nat(), shortString), method: fc.constantFrom("tools/list", "ping", "initialize", "resources/list", "prompts/list", "nope") }) },
    { weight: 1, arbitrary: fc.record({ jsonrpc: fc.constant("2.0"), id: fc.nat(), method: fc.constant("initialize"), params: fc.record({ protocolVersion: fc.constantFrom("2025-06-18", "2024-11-05", "1999-01-01"), capabilities: fc.constant({}), clientInfo: fc.constant({ name: "fuzz", version: "1" }) }) }) },
    { weight: 1, arbitrary: fc.record({ jsonrpc: fc.constantFrom("2.0", "1.0"), method: fc.constantFrom("notifications/initialized", "notifications/cancelled") }) },
    { weight: 1, arbitrary: anyJSON },
  );
  const body = fc.oneof({ weight: 5, arbitrary: message }, { weight: 1, arbitrary: fc.array(message, { minLength: 1, maxLength: 3 }) });
  return fc
    .record({ body, accept: fc.constantFrom(MCP_ACCEPT, MCP_ACCEPT, MCP_ACCEPT, "application/json", "text/event-stream", "*/*", ""), contentType: fc.constantFrom("application/json", "application/json", "application/json", "text/plain", "application/x-www-form-urlencoded") })
    .map(({ body, accept, contentType }) => ({ op: "POST /mcp", kind: "valid", method: "POST", path: "/mcp", params: {}, spelling: 0, query: "", queryParams: {}, headers: accept ? { accept } : ({} as Record<string, string>), body: { json: body, contentType } }) satisfies FuzzRequest);
}
