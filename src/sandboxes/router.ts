import { tmpdir } from "node:os";
import { join } from "node:path";
import { AppError, messageOf } from "../errors";
import type { Logger } from "../log";
import { silentLogger } from "../log";
import { readLimitedBytes } from "../server/http-errors";
import { checkKey, needsKeyHeader } from "../server/key-policy";
import type { SandboxAddress } from "./backend";
import { forward, type ForwardBody, PROXY_HEADER } from "./forward";
import type { HostApp } from "./host-app";
import type { SandboxManager } from "./manager";
import { multipartField } from "./multipart-field";
import type { Fetch } from "./sandbox-api";

export interface RouterOptions {
  manager: SandboxManager;
  /** The routes the host answers itself (sessions, lists, usage, health). */
  hostApp: HostApp;
  /** When set, clients must present this key; sandboxes' own keys are never exposed. */
  apiKey?: string;
  /** Instance name, sent back in `X-CodeRunner-Container`. */
  instance: string;
  maxBodyBytes: number;
  maxUploadBytes: number;
  /** Where an upload whose file comes before its `session_id` waits while it is read. */
  spoolDir?: string;
  log?: Logger;
  fetch?: Fetch;
  /** The E2B surface, answering every path under its `prefix` (`/e2b`; its own auth and error shapes). */
  e2b?: { prefix: string; handle(request: Request): Promise<Response> };
}

/** Answered by the host itself. */
function isHostRoute(method: string, path: string): boolean {
  switch (method) {
    case "GET":
      return (
        path === "/health" ||
        path === "/sessions" ||
        path === "/v1/sessions/sandboxes" ||
        path === "/v1/browser/sessions/" ||
        path === "/v1/browser/sessions" ||
        path.startsWith("/v1/sessions/usage/")
      );
    case "POST":
      return path === "/sessions" || path === "/v1/sessions/session" || path === "/kill";
    case "DELETE":
      return /^\/sessions\/[^/]+$/.test(path);
  }
  return false;
}

/** POST routes whose JSON or form body names the session (or, for a browser session's creation, the sandbox). */
function bodyField(path: string): string | undefined {
  if (path === "/execute" || path === "/execute_async" || path === "/execute/stream" || path === "/download") return "session_id";
  if (path.startsWith("/v1/browser/interactions/")) return "session_id";
  if (path === "/v1/browser/sessions/" || path === "/v1/browser/sessions") return "sandbox_id";
  return undefined;
}

/** GET/DELETE routes whose last path segment names the session, a task or a browser session. */
const ID_IN_PATH = /^\/(?:sessions|v1\/sessions\/status|v1\/executions|v1\/browser\/sessions)\/([^/]+)\/?$/;
/** A browser session's downloads: in the sandbox the browser session lives in. */
const DOWNLOADS_IN_PATH = /^\/v1\/browser\/sessions\/([^/]+)\/downloads\/?$/;

/** The session an id belongs to: task and browser-session ids start with their session's id and a dot. */
export function routeKey(id: string): string {
  const dot = id.indexOf(".");
  return dot === -1 ? id : id.slice(0, dot);
}

/** A string field of a JSON object or form body; undefined when absent or not parseable. */
export function fieldOf(body: string, contentType: string, field: string): string | undefined {
  const type = contentType.split(";")[0]!.trim().toLowerCase();
  let value: unknown;
  if (type === "application/x-www-form-urlencoded") value = new URLSearchParams(body).get(field);
  else {
    try {
      value = (JSON.parse(body) as Record<string, unknown> | null)?.[field];
    } catch {
      return undefined;
    }
  }
  return typeof value === "string" && value !== "" ? value : undefined;
}

const arrayBufferOf = (bytes: Buffer): ArrayBuffer => bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;

const errorResponse = (error: AppError) => Response.json(error.toJSON(), { status: error.status });

/**
 * The host's REST API: one address for every sandbox. Calls that name a session (in the body, the
 * query, the path, or a task's or browser session's id) go to that session's sandbox; calls that
 * name none, or an id no session owns, go to the default sandbox (which answers 404 for ids it does
 * not know); session creation, ending, listing and usage are answered here. Requests and answers
 * stream both ways; the sandbox's key is added, the client's never passed on.
 */
export class HostRouter {
  private readonly fetch: Fetch;
  private readonly log: Logger;
  private readonly spoolDir: string;
  private server: ReturnType<typeof Bun.serve> | undefined;

  constructor(private readonly options: RouterOptions) {
    this.fetch = options.fetch ?? (fetch as unknown as Fetch);
    this.log = options.log ?? silentLogger;
    this.spoolDir = options.spoolDir ?? join(tmpdir(), "coderunner-host-spool");
  }

  /** Listens on `hostname:port` (0 picks a free port); returns the URL. */
  listen(hostname: string, port: number): { url: string; port: number } {
    this.server = Bun.serve({
      hostname,
      port,
      idleTimeout: 0,
      maxRequestBodySize: this.options.maxUploadBytes + 16 * 1024 * 1024,
      fetch: (request) => this.handle(request),
    });
    const bound = this.server.port!;
    return { url: `http://${hostname.includes(":") ? `[${hostname}]` : hostname}:${bound}`, port: bound };
  }

  async stop(): Promise<void> {
    await this.server?.stop(true);
    this.server = undefined;
  }

  /** Answers one request. Never throws. */
  async handle(request: Request): Promise<Response> {
    let response: Response;
    try {
      response = await this.route(request);
    } catch (error) {
      if (request.signal.aborted) return new Response(null, { status: 499 });
      if (!(error instanceof AppError)) this.log.error(`host: ${request.method} ${new URL(request.url).pathname}: ${(error as Error)?.stack ?? messageOf(error)}`);
      response = errorResponse(error instanceof AppError ? error : new AppError("INTERNAL_ERROR", "Internal error in the CodeRunner host; its log has the details."));
    }
    response.headers.set(PROXY_HEADER, this.options.instance);
    return response;
  }

  private async route(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const { pathname: path } = url;
    const method = request.method;
    if (isHostRoute(method, path)) return this.options.hostApp.handle(request);
    const { e2b } = this.options;
    if (e2b && (path === e2b.prefix || path.startsWith(`${e2b.prefix}/`))) return e2b.handle(request);
    const offered = request.headers.get("x-api-key");
    if (this.options.apiKey && needsKeyHeader(method, path, offered)) checkKey(offered, this.options.apiKey);

    if (method === "POST" && path === "/mcp") return this.mcp(request);
    if (method === "POST" && path === "/upload") return this.upload(request);
    if (method === "GET" && path === "/files") return this.toSandbox(request, url.searchParams.get("session_id") ?? undefined, null);
    const inPath = (method === "GET" || method === "DELETE") && (ID_IN_PATH.exec(path) ?? DOWNLOADS_IN_PATH.exec(path));
    if (inPath) return this.toSandbox(request, decodeURIComponent(inPath[1]!), null);
    const field = method === "POST" ? bodyField(path) : undefined;
    if (field) {
      const bytes = await readLimitedBytes(request, this.options.maxBodyBytes);
      return this.toSandbox(request, fieldOf(bytes.toString("utf8"), request.headers.get("content-type") ?? "", field), arrayBufferOf(bytes));
    }
    return this.toSandbox(request, undefined, method === "GET" || method === "HEAD" ? null : request.body);
  }

  /** MCP: `create_session` and `close_session` are the host's; other tools go where their `session_id` lives. */
  private async mcp(request: Request): Promise<Response> {
    const bytes = await readLimitedBytes(request, this.options.maxBodyBytes);
    const text = bytes.toString("utf8");
    const body = arrayBufferOf(bytes);
    let message: { jsonrpc?: string; id?: unknown; method?: string; params?: { name?: unknown; arguments?: Record<string, unknown> } } | undefined;
    try {
      message = JSON.parse(text);
    } catch {
      message = undefined;
    }
    if (!message || Array.isArray(message) || message.method !== "tools/call") return this.toSandbox(request, undefined, body);
    const name = message.params?.name;
    const args = message.params?.arguments ?? {};
    const reply = (result: Record<string, unknown>) => Response.json({ jsonrpc: "2.0", id: message!.id ?? null, result });
    const toolText = (value: unknown) => ({ content: [{ type: "text", text: JSON.stringify(value, null, 2) }] });
    const toolError = (error: unknown) => ({ isError: true, content: [{ type: "text", text: messageOf(error) }] });
    if (name === "create_session") {
      const env = args.env && typeof args.env === "object" && !Array.isArray(args.env) ? (args.env as Record<string, string>) : undefined;
      try {
        const session = await this.options.manager.create({ env });
        return reply(toolText({ session_id: session.id }));
      } catch (error) {
        return reply(toolError(error));
      }
    }
    const sessionId = typeof args.session_id === "string" && args.session_id !== "" ? args.session_id : undefined;
    if (name === "close_session" && sessionId && this.options.manager.find(sessionId)) {
      await this.options.manager.close(sessionId);
      return reply(toolText({ success: true }));
    }
    return this.toSandbox(request, sessionId, body);
  }

  /** An upload goes to the sandbox its `session_id` field names; the field may come before or after the file. */
  private async upload(request: Request): Promise<Response> {
    const type = request.headers.get("content-type") ?? "";
    if (!request.body || !/^multipart\/form-data/i.test(type)) return this.toSandbox(request, undefined, request.body);
    const lookup = await multipartField(request.body, type, "session_id", { limit: this.options.maxUploadBytes, spoolDir: this.spoolDir });
    try {
      return await this.toSandbox(request, lookup.value, lookup.body);
    } finally {
      lookup.cleanup();
    }
  }

  /** Sends the request to the sandbox of session `id` (or to the default sandbox). */
  private async toSandbox(request: Request, id: string | undefined, body: ForwardBody): Promise<Response> {
    const { manager } = this.options;
    const key = id === undefined ? undefined : routeKey(id);
    const session = key === undefined ? undefined : manager.find(key);
    if (key !== undefined && !session) {
      const ended = manager.ended(key);
      if (ended) throw new AppError("SESSION_GONE", `Session ${key} has ended: ${ended}`);
    }
    if (session) {
      const done = manager.use(session);
      try {
        return await this.send(request, session.sandbox.address!, body, done);
      } catch (error) {
        if (request.signal.aborted) return new Response(null, { status: 499 });
        if (await manager.checkGone(session)) throw new AppError("SESSION_GONE", `Session ${session.id} has ended: ${manager.ended(session.id)}`);
        throw new AppError("DOCKER_UNAVAILABLE", `The sandbox of session ${session.id} is not answering; retry in a moment.`, { cause: error });
      }
    }
    const retryable = body === null || body instanceof ArrayBuffer || body instanceof Blob;
    try {
      return await this.send(request, manager.defaultTarget.address, body);
    } catch (error) {
      if (request.signal.aborted) return new Response(null, { status: 499 });
      this.log.warn(`host: the default sandbox did not answer ${request.method} ${new URL(request.url).pathname}: ${messageOf(error)}`);
      // It may have restarted on another port, or stopped: find it again, start it if need be, retry once.
      const again = (await manager.refreshDefault().catch(() => undefined)) ?? (await manager.ensureDefault().catch(() => undefined));
      const unavailable = (cause: unknown) => new AppError("DOCKER_UNAVAILABLE", "The default sandbox is not answering (it may be restarting); retry in a moment.", { cause });
      if (!again || !retryable) throw unavailable(error);
      try {
        return await this.send(request, again.address, body);
      } catch (retried) {
        if (request.signal.aborted) return new Response(null, { status: 499 });
        throw unavailable(retried);
      }
    }
  }

  private send(request: Request, target: SandboxAddress, body: ForwardBody, onDone?: () => void): Promise<Response> {
    return forward(request, target, body, { fetch: this.fetch, instance: this.options.instance, onDone });
  }
}
