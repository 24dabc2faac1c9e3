import { t } from "elysia";
import { ExecutionResult } from "./execute";

export const TaskIdParams = t.Object({ task_id: t.String() });

export const TaskStatus = t.Union(
  [t.Literal("queued"), t.Literal("running"), t.Literal("completed"), t.Literal("failed"), t.Literal("timeout"), t.Literal("cancelled")],
  {
    description:
      "queued → running → completed (ran, no error) · failed (the code raised, or the run could not happen) · timeout · cancelled (its session was closed first).",
  },
);

/** Answer of `POST /execute_async`. */
export const TaskSubmitted = t.Object({
  task_id: t.String(),
  status: t.Literal("queued"),
  session_id: t.String({ description: "The session the task runs in." }),
  created_at: t.String(),
});

/** Answer of `GET /v1/executions/{task_id}`: the names the InstaVM SDK polls, plus the full result. */
export const TaskView = t.Object(
  {
    task_id: t.String(),
    status: TaskStatus,
    is_complete: t.Boolean({ description: "True once the task is finished, whatever the outcome." }),
    serialized_stdout: t.String({ description: "stdout so far (all of it once complete)." }),
    serialized_stderr: t.String({ description: "stderr so far (all of it once complete), tracebacks included." }),
    execution_time: t.Nullable(t.Number({ description: "Wall seconds of the run; null until it ran." })),
    cpu_time: t.Nullable(t.Number({ description: "CPU seconds of the run; null until it ran or if unknowable." })),
    created_at: t.String({ description: "When the task was submitted (ISO 8601 UTC)." }),
    started_at: t.Nullable(t.String()),
    completed_at: t.Nullable(t.String()),
    session_id: t.String(),
    language: t.String(),
    result: t.Nullable(ExecutionResult),
    failure: t.Nullable(t.Object({ detail: t.String(), code: t.String() }, { description: "Why a task that never ran ended (cancelled or failed)." })),
  },
  { title: "Task" },
);

// The TypeScript types, derived from the schemas above (each named as its schema).
export type TaskIdParams = typeof TaskIdParams.static;
export type TaskStatus = typeof TaskStatus.static;
export type TaskSubmitted = typeof TaskSubmitted.static;
export type TaskView = typeof TaskView.static;
