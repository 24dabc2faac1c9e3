import { timingSafeEqual } from "node:crypto";
import { Elysia } from "elysia";
import { AppError } from "../errors";

/** Paths anyone may call: health for probes and the API docs. */
const PUBLIC = /^\/(health\/?$|docs(\/|$))/;
/** The SDK's session-create call sends its key in the JSON body instead of the header. */
const KEY_IN_BODY = "/v1/sessions/session";

function same(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

function check(offered: unknown, apiKey: string): void {
  if (offered === undefined || offered === null || offered === "") {
    throw new AppError("UNAUTHORIZED", "This server requires an API key: send it in the X-API-Key header.");
  }
  if (typeof offered !== "string" || !same(offered, apiKey)) throw new AppError("UNAUTHORIZED", "The API key is not valid.");
}

/**
 * Requires `X-API-Key` when a key is configured. The header is checked before the body is read; only
 * the SDK's session-create call may carry the key as `api_key` in its body instead.
 */
export function apiKeyGuard(apiKey: string | undefined) {
  const app = new Elysia({ name: "api-key" });
  if (!apiKey) return app;
  return app
    .onRequest(({ request }) => {
      const path = new URL(request.url).pathname;
      if (PUBLIC.test(path) || path === KEY_IN_BODY) return;
      check(request.headers.get("x-api-key"), apiKey);
    })
    .onBeforeHandle({ as: "global" }, ({ request, path, body }) => {
      if (path !== KEY_IN_BODY) return;
      const fromBody = body && typeof body === "object" ? (body as { api_key?: unknown }).api_key : undefined;
      check(request.headers.get("x-api-key") ?? fromBody, apiKey);
    });
}
