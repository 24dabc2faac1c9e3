import { AppError, type ErrorCode } from "../errors";
import type { ExecutionResult } from "../kernels/executor";
import type { OutputEvent } from "../kernels/output";

/**
 * The records behind `POST /execute_async` and `GET /v1/executions/{task_id}`: each task's state, its
 * output so far, and its result once finished. Memory stays bounded under a steady stream of tasks:
 * finished tasks are dropped after the retention period, and earlier (oldest first) when the number of
 * tasks or the bytes of retained output pass their caps. The clock is injected so expiry is testable.
 */

export type TaskStatus = "queued" | "running" | "completed" | "failed" | "timeout" | "cancelled";

/** A failure of the run itself (not of the user's code), as `{detail, code}`. */
export interface TaskFailure {
  detail: string;
  code: ErrorCode;
}

export interface Task {
  id: string;
  sessionId: string;
  language: string;
  status: TaskStatus;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  /** Output received while running; replaced by the result's once finished. */
  stdout: string[];
  stderr: string[];
  result: ExecutionResult | null;
  failure: TaskFailure | null;
  /** Approximate bytes this task holds once finished. */
  size: number;
}

export interface TaskStoreOptions {
  /** Milliseconds a finished task is kept. */
  retentionMs: number;
  /** Tasks kept at once, whatever their state. */
  maxTasks: number;
  /** Bytes of finished tasks' output kept at once. */
  maxBytes: number;
  clock?: () => number;
  newId?: () => string;
}

const FINISHED: ReadonlySet<TaskStatus> = new Set(["completed", "failed", "timeout", "cancelled"]);

export function isFinished(task: Task): boolean {
  return FINISHED.has(task.status);
}

/** The task status a finished run maps to. */
export function statusOf(result: ExecutionResult): TaskStatus {
  return result.status === "ok" ? "completed" : result.status === "timeout" ? "timeout" : "failed";
}

function sizeOf(task: Task): number {
  const result = task.result;
  let size = 256;
  if (result) {
    size += result.stdout.length + result.stderr.length;
    for (const rich of result.results) size += JSON.stringify(rich)?.length ?? 0;
    if (result.error) size += result.error.traceback.reduce((sum, line) => sum + line.length, result.error.evalue.length);
  }
  if (task.failure) size += task.failure.detail.length;
  return size;
}

export class TaskStore {
  private readonly tasks = new Map<string, Task>();
  /** Ids of finished tasks, in the order they finished (expiry and eviction take from the front). */
  private finishedOrder: string[] = [];
  private finishedHead = 0;
  private retainedBytes = 0;
  private readonly clock: () => number;
  private readonly newId: () => string;

  constructor(private readonly options: TaskStoreOptions) {
    this.clock = options.clock ?? Date.now;
    this.newId = options.newId ?? (() => crypto.randomUUID());
  }

  /** Tasks held, whatever their state. */
  get size(): number {
    return this.tasks.size;
  }

  /** Bytes of finished output held. */
  get bytes(): number {
    return this.retainedBytes;
  }

  /** Records a new queued task. Makes room by dropping finished tasks; 429 if every slot holds a live one. */
  create(sessionId: string, language: string): Task {
    this.sweep();
    while (this.tasks.size >= this.options.maxTasks && this.dropOldestFinished());
    if (this.tasks.size >= this.options.maxTasks) {
      throw new AppError("TOO_MANY_TASKS", `${this.tasks.size} async tasks are queued or running, the most allowed; wait for some to finish.`);
    }
    const task: Task = {
      // The session's id first: a host routing requests to one sandbox per session finds a task's
      // sandbox from its id alone, also after the host restarted.
      id: `${sessionId}.${this.newId()}`,
      sessionId,
      language,
      status: "queued",
      createdAt: this.clock(),
      startedAt: null,
      finishedAt: null,
      stdout: [],
      stderr: [],
      result: null,
      failure: null,
      size: 0,
    };
    this.tasks.set(task.id, task);
    return task;
  }

  /** The task, or a 404 (unknown, or dropped after its retention period). */
  get(id: string): Task {
    this.sweep();
    const task = this.tasks.get(id);
    if (!task) throw new AppError("TASK_NOT_FOUND", `No task with id ${JSON.stringify(id)} (unknown, or its result expired).`);
    return task;
  }

  /** The queued task left its session's queue and started. */
  markRunning(task: Task): void {
    if (task.status !== "queued") return;
    task.status = "running";
    task.startedAt = this.clock();
  }

  /** Output produced while the task runs (kept until the result replaces it). */
  record(task: Task, event: OutputEvent): void {
    if (isFinished(task)) return;
    this.markRunning(task);
    if (event.type === "stdout") task.stdout.push(event.text);
    else if (event.type === "stderr") task.stderr.push(event.text);
  }

  /** The run finished with a result; `cancelled` when its session went away during the run. */
  complete(task: Task, result: ExecutionResult, cancelled = false): void {
    if (isFinished(task)) return;
    task.result = result;
    this.finish(task, cancelled ? "cancelled" : statusOf(result));
  }

  /** The run never produced a result: its session closed first (`cancelled`) or it failed (`failed`). */
  fail(task: Task, status: "failed" | "cancelled", failure: TaskFailure): void {
    if (isFinished(task)) return;
    task.failure = failure;
    this.finish(task, status);
  }

  private finish(task: Task, status: TaskStatus): void {
    task.status = status;
    task.finishedAt = this.clock();
    task.startedAt ??= task.finishedAt;
    task.stdout = [];
    task.stderr = [];
    task.size = sizeOf(task);
    this.retainedBytes += task.size;
    this.finishedOrder.push(task.id);
    this.sweep();
    while (this.retainedBytes > this.options.maxBytes && this.dropOldestFinished());
  }

  /** Drops finished tasks past the retention period. */
  sweep(): void {
    const cutoff = this.clock() - this.options.retentionMs;
    for (;;) {
      const id = this.finishedOrder[this.finishedHead];
      if (id === undefined) break;
      const task = this.tasks.get(id);
      if (task && task.finishedAt! > cutoff) break;
      this.dropOldestFinished();
    }
  }

  private dropOldestFinished(): boolean {
    const id = this.finishedOrder[this.finishedHead];
    if (id === undefined) return false;
    this.finishedHead += 1;
    const task = this.tasks.get(id);
    if (task) {
      this.tasks.delete(id);
      this.retainedBytes -= task.size;
    }
    if (this.finishedHead > 1024 && this.finishedHead * 2 > this.finishedOrder.length) {
      this.finishedOrder = this.finishedOrder.slice(this.finishedHead);
      this.finishedHead = 0;
    }
    return true;
  }
}
