import { t } from "elysia";

/** Body of every non-2xx response. */
export const ErrorBody = t.Object(
  {
    detail: t.String({ description: "A human sentence saying what went wrong." }),
    code: t.String({ description: "Stable machine-readable error code, e.g. SESSION_NOT_FOUND." }),
  },
  { $id: "#/components/schemas/Error", title: "Error" },
);

export const Success = t.Object({ success: t.Boolean() });

/** Answer of `GET /health`: liveness and version, plus whatever the components report. */
export const Health = t.Object({ status: t.String(), version: t.String() }, { additionalProperties: true });

/** Common error responses to document on a route. */
export const errors = (...statuses: number[]) => Object.fromEntries(statuses.map((status) => [status, ErrorBody]));

// The TypeScript types, derived from the schemas above (each named as its schema).
export type ErrorBody = typeof ErrorBody.static;
export type Success = typeof Success.static;
export type Health = typeof Health.static;
