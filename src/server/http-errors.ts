import { Elysia, ValidationError } from "elysia";
import { AppError, isAppError } from "../errors";
import type { Logger } from "../log";

/** The `{detail, code}` body and status for anything a handler or Elysia threw. */
export function toErrorResponse(error: unknown, elysiaCode: unknown, request: Request, log: Logger): { status: number; body: { detail: string; code: string } } {
  if (isAppError(error)) return { status: error.status, body: error.toJSON() };
  // Elysia wraps what a parser throws (our 413s and 415s among it) in a ParseError.
  const cause = (error as { cause?: unknown })?.cause;
  if (isAppError(cause)) return { status: cause.status, body: cause.toJSON() };
  switch (elysiaCode) {
    case "PARSE":
      return { status: 400, body: { detail: "The request body is not valid JSON (or not valid for its Content-Type).", code: "INVALID_JSON" } };
    case "VALIDATION":
      return { status: 422, body: { detail: validationDetail(error as ValidationError), code: "VALIDATION_ERROR" } };
    case "NOT_FOUND": {
      const path = new URL(request.url).pathname;
      return { status: 404, body: { detail: `No route for ${request.method} ${path}.`, code: "NOT_FOUND" } };
    }
    case "INVALID_COOKIE_SIGNATURE":
    case "INVALID_FILE_TYPE":
      return { status: 400, body: { detail: String((error as Error).message), code: "INVALID_REQUEST" } };
  }
  const status = (error as { status?: unknown })?.status;
  if (typeof status === "number" && status >= 400 && status < 500) {
    return { status, body: { detail: String((error as Error).message || "Bad request."), code: "INVALID_REQUEST" } };
  }
  log.error(`Unhandled error on ${request.method} ${request.url}: ${(error as Error)?.stack ?? String(error)}`);
  return { status: 500, body: { detail: "Internal error; the server log has the details.", code: "INTERNAL_ERROR" } };
}

function validationDetail(error: ValidationError): string {
  const first = error.all?.[0] as { path?: string; message?: string; summary?: string } | undefined;
  if (!first) return "The request does not match the expected schema.";
  const where = first.path ? first.path.replace(/^\//, "").replaceAll("/", ".") : "";
  const what = first.summary ?? first.message ?? "is invalid";
  const location = error.type === "body" ? "body" : error.type;
  return where ? `Invalid ${location} field '${where}': ${what}.` : `Invalid ${location}: ${what}.`;
}

/** Turns every error into `{detail, code}` with the status its code maps to. */
export function errorHandling(log: Logger) {
  return new Elysia({ name: "error-handling" }).onError({ as: "global" }, ({ error, code, request, set }) => {
    const { status, body } = toErrorResponse(error, code, request, log);
    set.status = status;
    set.headers["content-type"] = "application/json";
    return body;
  });
}

/**
 * Reads a request body as text, refusing (413) past `limit` bytes whether or not the client declared
 * a Content-Length.
 */
export async function readLimitedText(request: Request, limit: number): Promise<string> {
  return (await readLimitedBytes(request, limit)).toString("utf8");
}

/** A request body's bytes, refusing (413) past `limit` bytes whether or not the client declared a Content-Length. */
export async function readLimitedBytes(request: Request, limit: number): Promise<Buffer> {
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > limit) throw tooLarge(limit);
  if (!request.body) return Buffer.alloc(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge(limit);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

export function tooLarge(limit: number): AppError {
  return new AppError("PAYLOAD_TOO_LARGE", `The request body is larger than the limit of ${limit} bytes.`);
}

/** Paths that judge their own JSON bodies: JSON-RPC answers a bad message with a JSON-RPC error. */
const OWN_BODY_PATHS = new Set(["/mcp"]);

/**
 * Body parsing for JSON and form requests with a size cap; malformed JSON is a 400. Multipart bodies
 * are left to the routes that stream them. A JSON body that is not an object (a number, a string, an
 * array) is a 422: Elysia would quietly make it `{}` for a route whose body is optional and run it.
 */
export function bodyParsing(limit: number) {
  return new Elysia({ name: "body-parsing" })
    .onTransform({ as: "global" }, ({ body, path }) => {
      if (body === undefined || body === null || (typeof body === "object" && !Array.isArray(body)) || OWN_BODY_PATHS.has(path)) return;
      throw new AppError("VALIDATION_ERROR", `The request body must be a JSON object, not ${Array.isArray(body) ? "an array" : `a ${typeof body}`}.`);
    })
    .onParse({ as: "global" }, async ({ request }, contentType) => {
      const type = contentType.split(";")[0]!.trim().toLowerCase();
      if (type === "application/json" || type.endsWith("+json") || type === "text/plain") {
        const text = await readLimitedText(request, limit);
        if (text.trim() === "") return {};
        try {
          return parseJSON(text);
        } catch {
          if (type === "text/plain") throw new AppError("UNSUPPORTED_MEDIA_TYPE", "Send a JSON body with Content-Type: application/json.");
          throw new AppError("INVALID_JSON", "The request body is not valid JSON.");
        }
      }
      if (type === "application/x-www-form-urlencoded") {
        return Object.fromEntries(new URLSearchParams(await readLimitedText(request, limit)));
      }
    });
}

/**
 * JSON.parse that keeps every object printable. A key named `toString` or `valueOf` that holds data
 * makes `${value}` throw, and Elysia prints a rejected value into its validation message, so such a
 * body answered 500 instead of 422. Those objects get a hidden `Symbol.toPrimitive`, which JSON,
 * key listings and validation never see.
 */
export function parseJSON(text: string): unknown {
  return JSON.parse(text, (_key, value: unknown) => {
    if (value !== null && typeof value === "object" && !Array.isArray(value) && (Object.hasOwn(value, "toString") || Object.hasOwn(value, "valueOf"))) {
      Object.defineProperty(value, Symbol.toPrimitive, { value: () => "[object Object]", enumerable: false });
    }
    return value;
  });
}
