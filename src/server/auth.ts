import { Elysia } from "elysia";
import { checkKey, KEY_IN_BODY_PATH, needsKeyHeader } from "./key-policy";

/**
 * Requires `X-API-Key` when a key is configured (the policy is `key-policy.ts`). The header is
 * checked before the body is read; only the SDK's session-create call may carry the key as `api_key`
 * in its body instead.
 */
export function apiKeyGuard(apiKey: string | undefined) {
  const app = new Elysia({ name: "api-key" });
  if (!apiKey) return app;
  return app
    .onRequest(({ request }) => {
      const path = new URL(request.url).pathname;
      const offered = request.headers.get("x-api-key");
      if (needsKeyHeader(request.method, path, offered)) checkKey(offered, apiKey);
    })
    .onBeforeHandle({ as: "global" }, ({ request, path, body }) => {
      if (path !== KEY_IN_BODY_PATH) return;
      const fromBody = body && typeof body === "object" ? (body as { api_key?: unknown }).api_key : undefined;
      checkKey(request.headers.get("x-api-key") ?? fromBody, apiKey);
    });
}
