import type { ErrorCode } from "../errors";
import type { ExecutionResult } from "../contract/execute";
import type { TaskStatus } from "../contract/tasks";
import type { TaskRow } from "./task-database";

/** An async task (`POST /execute_async`) as the server holds it, and its row in the task database. */

export type { TaskStatus };

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
  /** Approximate bytes this task holds on disk once finished. */
  size: number;
}

const FINISHED: ReadonlySet<TaskStatus> = new Set(["completed", "failed", "timeout", "cancelled"]);

export function isFinished(task: Task): boolean {
  return FINISHED.has(task.status);
}

/** The task status a finished run maps to. */
export function statusOf(result: ExecutionResult): TaskStatus {
  return result.status === "ok" ? "completed" : result.status === "timeout" ? "timeout" : "failed";
}

export function sizeOf(task: Task): number {
  const result = task.result;
  let size = 256;
  if (result) {
    size += result.stdout.length + result.stderr.length;
    for (const rich of result.results) size += JSON.stringify(rich)?.length ?? 0;
    if (result.error) size += result.error.traceback.reduce((sum, line) => sum + line.length, result.error.evalue.length);
  }
  if (task.failure) size += task.failure.detail.length;
  for (const text of [...task.stdout, ...task.stderr]) size += text.length;
  return size;
}

/** Ends `task` with `status` at `now`: the output so far is dropped (the result has its own) unless `keepOutput`. */
export function settle(task: Task, status: TaskStatus, now: number, keepOutput = false): void {
  task.status = status;
  task.finishedAt = now;
  task.startedAt ??= now;
  if (!keepOutput) {
    task.stdout = [];
    task.stderr = [];
  }
  task.size = sizeOf(task);
}

/** Why a task that was queued or running when the server died never finished. */
export function restartFailure(status: string): TaskFailure {
  return {
    code: "SERVER_RESTARTED",
    detail:
      status === "queued"
        ? "The server restarted before this task started, so it never ran; submit it again."
        : "The server restarted while this task ran (a crash, out of memory, or a restart of its container); what it printed until shortly before is in serialized_stdout and serialized_stderr.",
  };
}

export function taskOf(row: TaskRow): Task {
  return {
    id: row.id,
    sessionId: row.session_id,
    language: row.language,
    status: row.status as TaskStatus,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    stdout: row.stdout ? [row.stdout] : [],
    stderr: row.stderr ? [row.stderr] : [],
    result: row.result === null ? null : (JSON.parse(row.result) as ExecutionResult),
    failure: row.failure === null ? null : (JSON.parse(row.failure) as TaskFailure),
    size: row.size,
  };
}

export function rowOf(task: Task, finishSeq: number | null): TaskRow {
  return {
    id: task.id,
    session_id: task.sessionId,
    language: task.language,
    status: task.status,
    created_at: task.createdAt,
    started_at: task.startedAt,
    finished_at: task.finishedAt,
    finish_seq: finishSeq,
    stdout: task.stdout.join(""),
    stderr: task.stderr.join(""),
    result: task.result && JSON.stringify(task.result),
    failure: task.failure && JSON.stringify(task.failure),
    size: task.size,
  };
}
