import { isAppError, messageOf } from "../errors";
import type { ExecuteRequest, Executor } from "../kernels/executor";
import type { Session, SessionStore } from "../kernels/session-store";
import type { Logger } from "../log";
import type { Task, TaskStore } from "./task-store";

export interface AsyncRunsOptions {
  store: TaskStore;
  sessions: Pick<SessionStore, "resolve">;
  executor: Pick<Executor, "timeoutSeconds" | "run">;
  log: Logger;
}

/**
 * Submits runs that answer at once with a task id (`POST /execute_async`). Each run goes into its
 * session's queue at submission, so runs of one session (async and synchronous alike) execute in
 * submission order while different sessions run concurrently. When a session is closed its queued
 * runs are rejected by the queue, and their tasks are marked `cancelled`.
 */
export class AsyncRuns {
  constructor(private readonly options: AsyncRunsOptions) {}

  /**
   * Validates the request (timeout, session: unknown is a 404 now, not a failed task later), records
   * a queued task and queues the run.
   */
  async submit(request: ExecuteRequest): Promise<Task> {
    const { store, executor } = this.options;
    const timeout = executor.timeoutSeconds(request.timeout);
    const session = await this.options.sessions.resolve(request.session_id);
    const task = store.create(session.id, request.language ?? "python");
    this.markStart(session, task);
    executor.run(session, request, timeout, { listener: (event) => store.record(task, event) }).then(
      (result) => store.complete(task, result, session.closed),
      (error) => {
        const gone = session.closed || (isAppError(error) && error.code === "SESSION_GONE");
        if (!isAppError(error)) this.options.log.error(`Async task ${task.id} failed: ${(error as Error)?.stack ?? messageOf(error)}`);
        store.fail(task, gone ? "cancelled" : "failed", {
          detail: isAppError(error) ? error.message : "The run failed inside CodeRunner; the server log has the details.",
          code: isAppError(error) ? error.code : "INTERNAL_ERROR",
        });
      },
    );
    return task;
  }

  /**
   * Marks the task running when it reaches the front of the session's queue: a no-op job queued just
   * before the run itself (`Executor.run` queues synchronously), so it completes exactly when the
   * jobs submitted earlier have.
   */
  private markStart(session: Session, task: Task): void {
    session.queue.run(async () => this.options.store.markRunning(task)).catch(() => undefined);
  }
}
