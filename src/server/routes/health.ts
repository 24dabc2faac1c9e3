import { Elysia } from "elysia";
import { Health } from "../../contract/common";
import { VERSION } from "../../version";

/** `GET /health`: liveness plus whatever the components report. */
export function healthRoutes(report: () => Record<string, unknown>) {
  return new Elysia({ name: "health" }).get("/health", () => ({ status: "healthy", version: VERSION, ...report() }), {
    response: Health,
    detail: { tags: ["Health"], summary: "Health and version" },
  });
}
