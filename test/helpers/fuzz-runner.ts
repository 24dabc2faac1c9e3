import { appendFileSync } from "node:fs";
import { ErrorStatus } from "../../src/errors";
import { percentEncode } from "./fuzz-values";
import { type Body, type FuzzRequest, type MultipartDamage, type MultipartPart, pathOf } from "./openapi-fuzz";

/**
 * Sends generated requests to a live server with a client deadline each, and judges each answer by
 * the API's error contract: never a 5xx (nor a stream or MCP result hiding one), never a hang, every
 * non-2xx a JSON `{detail, code}` with string fields. Keeps the figures for a summary line.
 */

export interface Answer {
  status: number;
  contentType: string;
  text: string;
}

export interface Outcome {
  request: FuzzRequest;
  answer?: Answer;
  /** What is wrong with the answer, if anything. */
  problem?: string;
}

/**
 * The one 5xx that reports someone else's failure: a page that could not be loaded (refused, no such
 * host) is a 502 `NAVIGATION_FAILED`, a gateway's answer, as the contract documents it.
 */
const UPSTREAM_CODE = "NAVIGATION_FAILED";

function isUpstreamFailure(answer: Answer): boolean {
  try {
    return answer.status === ErrorStatus[UPSTREAM_CODE] && JSON.parse(answer.text).code === UPSTREAM_CODE;
  } catch {
    return false;
  }
}

/** Codes whose HTTP status is a 5xx: a stream's `failed` event or an MCP tool error carrying one hides a server error. */
const SERVER_CODES = Object.entries(ErrorStatus)
  .filter(([code, status]) => status >= 500 && code !== UPSTREAM_CODE)
  .map(([code]) => code);

/**
 * The message of a JSON-RPC "internal error" in an MCP answer, if there is one. The MCP SDK answers
 * -32603 for params that fail its own request schema (a list of Zod issues as the message): that is
 * the SDK's classification of a client's mistake, not a failure of CodeRunner, so it is left out.
 */
function internalRPCError(text: string): string | undefined {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return undefined;
  }
  for (const message of [body].flat() as { error?: { code?: unknown; message?: unknown } }[]) {
    if (message?.error?.code !== -32603) continue;
    const detail = String(message.error.message);
    try {
      const issues = JSON.parse(detail);
      if (Array.isArray(issues) && issues.every((issue) => typeof issue?.code === "string" && Array.isArray(issue?.path))) continue;
    } catch {}
    return detail;
  }
  return undefined;
}

/** Why `answer` breaks the contract, or undefined when it keeps it. */
export function problemWith(request: FuzzRequest, answer: Answer): string | undefined {
  if (answer.status >= 500 && !isUpstreamFailure(answer)) return `answered ${answer.status}`;
  // Bun's HTTP layer refuses a request line and headers past 16 KiB itself, with an empty 431, before the app sees it.
  if (answer.status >= 400 && request.method !== "HEAD" && answer.status !== 431) {
    let body: unknown;
    try {
      body = JSON.parse(answer.text);
    } catch {
      return `a ${answer.status} whose body is not JSON`;
    }
    const { detail, code } = (body ?? {}) as { detail?: unknown; code?: unknown };
    if (typeof detail !== "string" || typeof code !== "string") return `a ${answer.status} without string {detail, code}`;
    if (!answer.contentType.startsWith("application/json")) return `a ${answer.status} sent as ${answer.contentType || "no content type"}`;
  }
  if (answer.status < 300 && answer.contentType.startsWith("text/event-stream")) {
    const failed = /^event: failed\ndata: (.*)$/m.exec(answer.text.replace(/\nid: \d+/g, ""));
    if (failed && SERVER_CODES.some((code) => failed[1]!.includes(`"${code}"`))) return `a stream that failed with a server error: ${failed[1]!.slice(0, 200)}`;
  }
  // The fuzz runs only short, harmless code: none of it may cost a session its state, but for a shell
  // the code itself ended (`exit 3`), which the answer says, and for a task whose session the fuzz
  // closed under it (`cancelled`: closing ends the session's kernel mid-run).
  const cancelled = /"status":\s*"cancelled"/.test(answer.text);
  if (answer.status < 300 && /"state_lost":\s*true/.test(answer.text) && !answer.text.includes('"ename":"ShellExited"') && !cancelled) {
    return `a run that lost its session's state: ${answer.text.slice(0, 300)}`;
  }
  if (request.path === "/mcp" && answer.status < 300) {
    const internal = internalRPCError(answer.text);
    if (internal) return `an MCP internal error (-32603): ${internal.slice(0, 200)}`;
    const hidden = SERVER_CODES.find((code) => answer.text.includes(`(${code})`));
    if (hidden) return `an MCP tool result hiding a ${hidden}`;
  }
  return undefined;
}

/** A multipart body written by hand, so it can be broken as `damage` says. */
function multipartBytes(parts: MultipartPart[], boundary: string, damage: MultipartDamage, resolve: (value: unknown) => unknown): { body: BodyInit; contentType: string } {
  const quote = (text: string) => text.replaceAll('"', "%22").replaceAll("\r", "%0D").replaceAll("\n", "%0A");
  const chunks: (string | Uint8Array)[] = [];
  for (const part of parts) {
    chunks.push(`--${boundary}\r\n`);
    if ("content" in part) chunks.push(`Content-Disposition: form-data; name="${quote(part.field)}"; filename="${quote(part.filename)}"\r\nContent-Type: application/octet-stream\r\n\r\n`, part.content, "\r\n");
    else chunks.push(`Content-Disposition: form-data; name="${quote(part.name)}"\r\n\r\n${String(resolve(part.value))}\r\n`);
  }
  if (damage !== "no-closing") chunks.push(`--${boundary}--\r\n`);
  let body = new Uint8Array(Buffer.concat(chunks.map((chunk) => (typeof chunk === "string" ? Buffer.from(chunk) : chunk))));
  if (damage === "truncated") body = body.subarray(0, Math.floor(body.length / 2));
  const contentType = { "no-boundary": "multipart/form-data", "wrong-boundary": "multipart/form-data; boundary=other", json: "application/json" }[damage as string] ?? `multipart/form-data; boundary=${boundary}`;
  return { body, contentType };
}

/** The request's body as fetch sends it, with its content type. */
function encode(body: Body | undefined, resolve: (value: unknown) => unknown): { body?: BodyInit; contentType?: string } {
  if (!body) return {};
  if ("json" in body) return { body: JSON.stringify(resolve(body.json)) ?? "", contentType: body.contentType ?? "application/json" };
  if ("raw" in body) return { body: body.raw as BodyInit, contentType: body.contentType };
  if ("parts" in body) return multipartBytes(body.parts, body.boundary, body.damage, resolve);
  const fields = Object.entries(resolve(body.form) as Record<string, unknown>).map(([name, value]) => [name, typeof value === "object" ? JSON.stringify(value) : String(value)] as const);
  if (body.as === "urlencoded") return { body: new URLSearchParams(fields as [string, string][]).toString(), contentType: "application/x-www-form-urlencoded" };
  const form = new FormData();
  for (const [name, value] of fields) form.append(name, value);
  return { body: form };
}

/** The request's path and query string as sent. */
function target(request: FuzzRequest, resolve: (value: unknown) => unknown): string {
  const params = Object.entries(resolve(request.queryParams) as Record<string, unknown>).map(([name, value]) => `${name}=${percentEncode(String(value))}`);
  const query = params.length ? `?${params.join("&")}${request.query.replace(/^\?/, "&")}` : request.query;
  return pathOf(request, resolve) + query;
}

/** A short description of a request for a failure message (huge strings cut). */
export function describe(request: FuzzRequest, resolve: (value: unknown) => unknown): string {
  const bytes = (_: string, value: unknown) => (value instanceof Uint8Array ? `<${value.length} bytes>` : value);
  const body = request.body && ("json" in request.body ? JSON.stringify(resolve(request.body.json)) : "raw" in request.body ? String(request.body.raw) : JSON.stringify(request.body, bytes));
  const clip = (text: string) => (text.length > 300 ? `${text.slice(0, 300)}… (${text.length} chars)` : text);
  return `${request.method} ${clip(target(request, resolve))} [${request.kind} of ${request.op}] ${JSON.stringify(request.headers)} ${clip(body ?? "")}`;
}

/** A file each request is written to as it is sent, and its number when answered (CODERUNNER_FUZZ_TRACE): what a hang was waiting for. */
const TRACE = process.env.CODERUNNER_FUZZ_TRACE;

/** Methods fetch sends without a body. */
const BODYLESS = new Set(["GET", "HEAD"]);

export class FuzzRunner {
  sent = 0;
  readonly byClass: Record<string, number> = {};
  readonly operations = new Set<string>();
  /** Milliseconds spent waiting for answers and requests sent, by operation and kind (`op [kind]`). */
  readonly waited: Record<string, { ms: number; count: number }> = {};
  readonly problems: string[] = [];

  constructor(
    private readonly baseURL: string,
    private readonly options: {
      /** Most a request may take, answer read whole, before it counts as a hang. */
      deadlineMs: number;
      /** Turns the caller's placeholders in a value into what is sent. */
      resolve: (value: unknown) => unknown;
      /** Told about every answer (to learn the ids the server issued). */
      onAnswer?: (request: FuzzRequest, answer: Answer) => void;
      /** `performance.now()` past which no request is started (a test's own time budget). */
      stopAt?: number;
    },
  ) {}

  async run(request: FuzzRequest): Promise<Outcome> {
    const { resolve } = this.options;
    const url = `${this.baseURL}${target(request, resolve)}`;
    const { body, contentType } = encode(request.body, resolve);
    const headers = new Headers(request.headers);
    if (contentType !== undefined) headers.set("content-type", contentType);
    const number = ++this.sent;
    this.operations.add(request.op);
    if (TRACE) appendFileSync(TRACE, `> ${number} ${describe(request, resolve)}\n`);
    let answer: Answer;
    const started = performance.now();
    try {
      const response = await fetch(url, { method: request.method, headers, body: BODYLESS.has(request.method) ? undefined : body, signal: AbortSignal.timeout(this.options.deadlineMs) });
      answer = { status: response.status, contentType: response.headers.get("content-type") ?? "", text: await response.text() };
    } catch (error) {
      const name = (error as Error)?.name;
      const what = name === "TimeoutError" || name === "AbortError" ? `no answer within ${this.options.deadlineMs} ms (a hang)` : `the connection failed: ${String(error)}`;
      return this.record({ request, problem: what });
    } finally {
      if (TRACE) appendFileSync(TRACE, `< ${number} ${Math.round(performance.now() - started)} ms\n`);
      const key = `${request.op} [${request.kind}]`;
      const entry = (this.waited[key] ??= { ms: 0, count: 0 });
      entry.ms += performance.now() - started;
      entry.count++;
    }
    const statusClass = isUpstreamFailure(answer) ? "502 page unreachable" : `${Math.floor(answer.status / 100)}xx`;
    this.byClass[statusClass] = (this.byClass[statusClass] ?? 0) + 1;
    this.options.onAnswer?.(request, answer);
    return this.record({ request, answer, problem: problemWith(request, answer) });
  }

  /** Whether the time budget is spent: requests not yet started are then left unsent. */
  get outOfTime(): boolean {
    return performance.now() > (this.options.stopAt ?? Number.POSITIVE_INFINITY);
  }

  /** Sends `requests` with `concurrency` of them in flight at a time, until the time budget is spent. */
  async runAll(requests: FuzzRequest[], concurrency: number): Promise<void> {
    let next = 0;
    const client = async () => {
      while (next < requests.length && !this.outOfTime) await this.run(requests[next++]!);
    };
    await Promise.all(Array.from({ length: concurrency }, client));
  }

  private record(outcome: Outcome): Outcome {
    if (outcome.problem) {
      const excerpt = outcome.answer ? ` → ${outcome.answer.status} ${outcome.answer.text.slice(0, 300)}` : "";
      this.problems.push(`${outcome.problem}: ${describe(outcome.request, this.options.resolve)}${excerpt}`);
    }
    return outcome;
  }
}
