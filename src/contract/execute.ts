import { t } from "elysia";

export const Language = t.Union([t.Literal("python"), t.Literal("bash"), t.Literal("shell"), t.Literal("sh")], {
  description: "python (default) runs in the session's Jupyter kernel; bash/shell/sh in its persistent shell.",
});

/** Body of `POST /execute` (and `/execute_async`). `code` is accepted as an alias of `command`. */
export const ExecuteBody = t.Object({
  command: t.Optional(t.String({ description: "The code to run." })),
  code: t.Optional(t.String({ description: "Alias of command." })),
  language: t.Optional(Language),
  timeout: t.Optional(t.Number({ description: "Seconds before the run is interrupted (default 30).", exclusiveMinimum: 0 })),
  session_id: t.Optional(t.Nullable(t.String({ description: "Session to run in; absent: the default session." }))),
});

export const RunErrorSchema = t.Object({
  ename: t.String(),
  evalue: t.String(),
  traceback: t.Array(t.String()),
});

/** One rich output (`display_data` / `execute_result`), keyed by MIME type: `image/png` is base64, `text/html`, `application/json`, ... */
export const RichResult = t.Record(t.String(), t.Unknown(), { description: "Rich output keyed by MIME type (image/png base64, text/html, ...)." });

export const ExecutionResult = t.Object(
  {
    stdout: t.String(),
    stderr: t.String({ description: "Includes a Python exception's traceback, without ANSI codes." }),
    execution_time: t.Number({ description: "Wall seconds of the run." }),
    cpu_time: t.Nullable(t.Number({ description: "CPU seconds the run used; null if unknowable." })),
    session_id: t.String(),
    status: t.Union([t.Literal("ok"), t.Literal("error"), t.Literal("timeout")]),
    error: t.Nullable(RunErrorSchema),
    results: t.Array(RichResult, { description: "Rich outputs keyed by MIME type (image/png base64, text/html, ...)." }),
    truncated: t.Boolean({ description: "True when output hit the size cap and the rest was dropped." }),
    state_lost: t.Boolean({ description: "True when the session's kernel or shell had to be restarted." }),
    exit_code: t.Nullable(t.Number({ description: "Exit status of a shell run; null for Python." })),
  },
  { title: "ExecutionResult" },
);

/**
 * The `data` of each event `POST /execute/stream` sends while the run goes on, the event's name
 * repeated as `type`. The stream then ends with `done` (an `ExecutionResult`) or, when the run could
 * not happen, `failed` (an error body `{detail, code}`).
 */
export const OutputEvent = t.Union([
  t.Object({ type: t.Literal("stdout"), text: t.String() }),
  t.Object({ type: t.Literal("stderr"), text: t.String() }),
  t.Object({ type: t.Literal("result"), data: RichResult }),
  t.Object({ type: t.Literal("error"), error: RunErrorSchema }, { description: "The user's code raised: the run goes on to `done` with status \"error\"." }),
]);

// The TypeScript types, derived from the schemas above (each named as its schema).
export type Language = typeof Language.static;
export type ExecuteBody = typeof ExecuteBody.static;
export type RunError = typeof RunErrorSchema.static;
export type ExecutionResult = typeof ExecutionResult.static;
export type RichResult = typeof RichResult.static;
export type OutputEvent = typeof OutputEvent.static;
