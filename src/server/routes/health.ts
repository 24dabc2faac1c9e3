import { Elysia, t } from "elysia";
import { VERSION } from "../../version";

/** `GET /health`: liveness plus whatever the components report. */
export function healthRoutes(report: () => Record<string, unknown>) {
  return new Elysia({ name: "health" }).get("/health", () => ({ status: "healthy", version: VERSION, ...report() }), {
    response: t.Object({ status: t.String(), version: t.String() }, { additionalProperties: true }),
    detail: { tags: ["Health"], summary: "Health and version" },
  });
}
