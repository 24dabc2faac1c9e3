import { timingSafeEqual } from "node:crypto";
import { AppError } from "../errors";

/**
 * Who may call the API, in one place for `coderunner serve` and the host: with a key configured,
 * every path but health, the docs and a session's usage needs it in `X-API-Key`; the SDK's
 * session-create call may carry it as `api_key` in its JSON body instead (and sends no header there).
 */

/** Paths anyone may call: health for probes and the API docs. */
export const PUBLIC_PATH = /^\/(health\/?$|docs(\/|$))/;

/** The one call whose key may come in its JSON body. */
export const KEY_IN_BODY_PATH = "/v1/sessions/session";

/**
 * A session's usage, read with its id alone: InstaVM's client sends no key there (its
 * `is_session_active` relies on it), and the id, 128 random bits handed only to the key's holder,
 * is itself the secret. It tells CPU time, memory and age, nothing of the session's contents.
 */
const USAGE_BY_ID = /^\/v1\/sessions\/usage\/[^/]+\/?$/;

/**
 * Whether a request's `X-API-Key` (`offered`, null when absent) must be checked, when a key is
 * configured. A session's usage needs none, but a key offered there must still be the right one.
 */
export function needsKeyHeader(method: string, path: string, offered: string | null): boolean {
  if (PUBLIC_PATH.test(path) || path === KEY_IN_BODY_PATH) return false;
  return !(method === "GET" && USAGE_BY_ID.test(path)) || offered !== null;
}

function same(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/** Throws 401 unless `offered` is `apiKey` (compared in constant time). */
export function checkKey(offered: unknown, apiKey: string): void {
  if (offered === undefined || offered === null || offered === "") {
    throw new AppError("UNAUTHORIZED", "This server requires an API key: send it in the X-API-Key header.");
  }
  if (typeof offered !== "string" || !same(offered, apiKey)) throw new AppError("UNAUTHORIZED", "The API key is not valid.");
}

/** The `api_key` field of a JSON body, or undefined when it has none or is not JSON. */
export function keyInBody(body: ArrayBuffer | null): unknown {
  if (!body) return undefined;
  try {
    return (JSON.parse(new TextDecoder().decode(body)) as { api_key?: unknown })?.api_key;
  } catch {
    return undefined;
  }
}
