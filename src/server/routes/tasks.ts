import { Elysia } from "elysia";
import type { AsyncRuns } from "../../tasks/async-runs";
import { isFinished, type Task, type TaskStore } from "../../tasks/task-store";
import { errors } from "../../contract/common";
import { ExecuteBody } from "../../contract/execute";
import { TaskIdParams, TaskSubmitted, TaskView } from "../../contract/tasks";
import { toExecuteRequest } from "./execute";

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** The wire shape of a task. */
export function taskView(task: Task): typeof TaskView.static {
  const result = task.result;
  return {
    task_id: task.id,
    status: task.status,
    is_complete: isFinished(task),
    serialized_stdout: result ? result.stdout : task.stdout.join(""),
    serialized_stderr: result ? result.stderr : task.failure && !task.stderr.length ? task.failure.detail : task.stderr.join(""),
    execution_time: result?.execution_time ?? null,
    cpu_time: result?.cpu_time ?? null,
    created_at: iso(task.createdAt)!,
    started_at: iso(task.startedAt),
    completed_at: iso(task.finishedAt),
    session_id: task.sessionId,
    language: task.language,
    result,
    failure: task.failure,
  };
}

/** `POST /execute_async` and `GET /v1/executions/{task_id}`. */
export function taskRoutes(runs: AsyncRuns, store: TaskStore) {
  return new Elysia({ name: "tasks" })
    .post(
      "/execute_async",
      async ({ body }) => {
        const task = await runs.submit(toExecuteRequest(body));
        return { task_id: task.id, status: "queued" as const, session_id: task.sessionId, created_at: iso(task.createdAt)! };
      },
      {
        body: ExecuteBody,
        response: { 200: TaskSubmitted, ...errors(400, 404, 413, 422, 429) },
        detail: {
          tags: ["Execution"],
          summary: "Queue a run and answer at once with a task id",
          description:
            "Same body as /execute. Runs of one session execute in submission order; sessions run concurrently. Poll GET /v1/executions/{task_id} until is_complete. An unknown session_id is a 404 here, not a failed task.",
        },
      },
    )
    .get("/v1/executions/:task_id", ({ params }) => taskView(store.get(params.task_id)), {
      params: TaskIdParams,
      response: { 200: TaskView, ...errors(404) },
      detail: {
        tags: ["Execution"],
        summary: "State and result of an async task",
        description: "Finished results are kept at least CODERUNNER_TASK_RETENTION_SECONDS (1 h by default), then answer 404.",
      },
    });
}
