import { AppError, messageOf } from "../errors";
import type { ExecutionResult } from "../contract/execute";
import type { OutputEvent } from "../kernels/output";
import { type Logger, silentLogger } from "../log";
import { SweepLoop, sweepInterval } from "../sessions/registry";
import { isFinished, restartFailure, rowOf, settle, statusOf, type Task, type TaskFailure, type TaskStatus, taskOf } from "./task";
import { TaskDatabase } from "./task-database";

export { isFinished, statusOf, type Task, type TaskFailure, type TaskStatus } from "./task";

export interface TaskStoreOptions {
  /** The database file (created with its directory), or `:memory:` for tasks that end with the process. */
  path: string;
  /** Milliseconds a finished task is kept. */
  retentionMs: number;
  /** Tasks kept at once, whatever their state. */
  maxTasks: number;
  /** Bytes of finished tasks' output kept at once. */
  maxBytes: number;
  /** Milliseconds a running task's new state and output may wait before they are written (1000). */
  flushMs?: number;
  /** How often finished tasks past retention are deleted while open; defaults to `sweepInterval` of the retention. */
  sweepMs?: number;
  clock?: () => number;
  newId?: () => string;
  log?: Logger;
  /** Opens the database at `path` (tests wrap it to make writes fail). */
  openDatabase?: (path: string, log: Logger) => TaskDatabase;
}

/**
 * The records behind `POST /execute_async` and `GET /v1/executions/{task_id}`: each task's state, its
 * output so far, and its result once finished, kept in a SQLite file (`TaskDatabase`) so they outlive
 * the server. After a restart finished results read as before, and tasks that were queued or running
 * when the server died read `failed` with the code `SERVER_RESTARTED` and the output saved until then.
 *
 * A queued or running task is held in memory too, where its output collects; its state and output are
 * written through in batches (every `flushMs`, and whenever a task is created or finishes), never per
 * chunk. A finished task lives on disk only. The disk stays bounded under a steady stream of tasks:
 * finished tasks are deleted after the retention period, and earlier (oldest first) when the number of
 * tasks or the bytes of retained output pass their caps. A write that fails (a full disk) leaves the
 * task in memory, with a warning, until a later write succeeds. While open, a `SweepLoop` (the
 * timer session expiry uses too) deletes expired tasks even when no request comes. The clock is
 * injected so expiry is testable.
 */
export class TaskStore {
  /** Queued and running tasks, and finished ones whose write has not succeeded yet. */
  private readonly live = new Map<string, Task>();
  /** Live tasks whose state or output is not written yet. */
  private readonly dirty = new Set<Task>();
  /** How many output chunks of each live task are written. */
  private readonly written = new WeakMap<Task, { stdout: number; stderr: number }>();
  private db: TaskDatabase | undefined;
  private finishedCount = 0;
  private retainedBytes = 0;
  private oldestFinishedAt: number | null = null;
  private finishSeq = 0;
  private flushTimer: Timer | undefined;
  private failing = false;
  private readonly sweeper = new SweepLoop(() => this.sweep());
  private readonly clock: () => number;
  private readonly newId: () => string;
  private readonly log: Logger;

  constructor(private readonly options: TaskStoreOptions) {
    this.clock = options.clock ?? Date.now;
    this.newId = options.newId ?? (() => crypto.randomUUID());
    this.log = options.log ?? silentLogger;
  }

  /**
   * Opens the database (see `TaskDatabase.open` for a damaged or unusable file), marks the tasks the
   * previous server left queued or running `failed` with `SERVER_RESTARTED`, applies the caps, and
   * starts the periodic sweep.
   */
  open(): void {
    if (this.db) throw new Error("The task store is open already.");
    const db = (this.options.openDatabase ?? TaskDatabase.open)(this.options.path, this.log);
    this.db = db;
    const totals = db.finishedTotals();
    this.finishedCount = totals.count;
    this.retainedBytes = totals.bytes;
    this.oldestFinishedAt = totals.oldest;
    this.finishSeq = totals.seq;
    const lost = db.unfinished().map(taskOf);
    if (lost.length) {
      const now = this.clock();
      for (const task of lost) {
        task.failure = restartFailure(task.status);
        settle(task, "failed", now, true);
        this.live.set(task.id, task);
        this.dirty.add(task);
      }
      this.flush();
      this.log.warn(`${lost.length} async task(s) were queued or running when the server stopped; they read failed (SERVER_RESTARTED).`);
    }
    this.sweep();
    while ((this.size > this.options.maxTasks || this.retainedBytes > this.options.maxBytes) && this.dropOldestFinished());
    this.sweeper.start(this.options.sweepMs ?? sweepInterval(this.options.retentionMs));
  }

  /** Stops the periodic sweep, writes what is pending and closes the database; later changes stay in memory. */
  close(): void {
    void this.sweeper.stop();
    this.flush();
    this.db?.close();
    this.db = undefined;
  }

  /** Tasks held, whatever their state. */
  get size(): number {
    return this.live.size + this.finishedCount;
  }

  /** Bytes of finished tasks held. */
  get bytes(): number {
    return this.retainedBytes;
  }

  /**
   * Records a new queued task, written before it is returned. Makes room by deleting finished tasks;
   * 429 if every slot holds a live one.
   */
  create(sessionId: string, language: string): Task {
    if (!this.db) throw new Error("The task store is not open.");
    this.sweep();
    while (this.size >= this.options.maxTasks && this.dropOldestFinished());
    if (this.size >= this.options.maxTasks) {
      throw new AppError("TOO_MANY_TASKS", `${this.size} async tasks are queued or running, the most allowed; wait for some to finish.`);
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
    this.live.set(task.id, task);
    this.written.set(task, { stdout: 0, stderr: 0 });
    this.dirty.add(task);
    this.flush();
    return task;
  }

  /** The task, or a 404 (unknown, or deleted after its retention period). */
  get(id: string): Task {
    let task = this.live.get(id);
    if (!task) {
      this.sweep();
      const row = this.db?.get(id);
      if (row) task = taskOf(row);
    }
    if (!task) throw new AppError("TASK_NOT_FOUND", `No task with id ${JSON.stringify(id)} (unknown, or its result expired).`);
    return task;
  }

  /** The queued task left its session's queue and started. */
  markRunning(task: Task): void {
    if (task.status !== "queued") return;
    task.status = "running";
    task.startedAt = this.clock();
    this.changed(task);
  }

  /** Output produced while the task runs (kept until the result replaces it). */
  record(task: Task, event: OutputEvent): void {
    if (isFinished(task)) return;
    this.markRunning(task);
    if (event.type === "stdout") task.stdout.push(event.text);
    else if (event.type === "stderr") task.stderr.push(event.text);
    else return;
    this.changed(task);
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
    settle(task, status, this.clock());
    this.dirty.add(task);
    this.flush();
    this.sweep();
    while (this.retainedBytes > this.options.maxBytes && this.dropOldestFinished());
  }

  /** Deletes finished tasks past the retention period. */
  sweep(): void {
    const db = this.db;
    const cutoff = this.clock() - this.options.retentionMs;
    if (!db || this.oldestFinishedAt === null || this.oldestFinishedAt > cutoff) return;
    this.attempt(() => {
      this.forget(db.deleteFinishedBefore(cutoff));
      this.oldestFinishedAt = db.oldestFinishedAt();
    });
  }

  /** Writes every pending change now, in one transaction. */
  flush(): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const db = this.db;
    if (!db || !this.dirty.size) return;
    const tasks = [...this.dirty];
    const applied: (() => void)[] = [];
    const ok = this.attempt(() => {
      db.transaction(() => {
        for (const task of tasks) applied.push(isFinished(task) ? this.writeFinished(db, task) : this.writeLive(db, task));
      });
      return true;
    });
    if (ok) for (const apply of applied) apply();
    else this.schedule();
  }

  /** Writes a live task's state and the output it printed since; what to note once committed. */
  private writeLive(db: TaskDatabase, task: Task): () => void {
    const marks = this.written.get(task) ?? { stdout: 0, stderr: 0 };
    const counts = { stdout: task.stdout.length, stderr: task.stderr.length };
    db.saveLive({
      ...rowOf(task, null),
      stdout: task.stdout.slice(marks.stdout).join(""),
      stderr: task.stderr.slice(marks.stderr).join(""),
    });
    return () => {
      this.written.set(task, counts);
      this.dirty.delete(task);
    };
  }

  /** Writes a finished task whole; once committed it leaves memory. */
  private writeFinished(db: TaskDatabase, task: Task): () => void {
    const seq = ++this.finishSeq;
    db.saveFinished(rowOf(task, seq));
    return () => {
      this.dirty.delete(task);
      this.live.delete(task.id);
      this.finishedCount += 1;
      this.retainedBytes += task.size;
      this.oldestFinishedAt = Math.min(this.oldestFinishedAt ?? Infinity, task.finishedAt!);
    };
  }

  private changed(task: Task): void {
    this.dirty.add(task);
    this.schedule();
  }

  private schedule(): void {
    if (this.flushTimer || !this.db) return;
    this.flushTimer = setTimeout(() => this.flush(), this.options.flushMs ?? 1000);
    this.flushTimer.unref?.();
  }

  private dropOldestFinished(): boolean {
    const db = this.db;
    if (!db) return false;
    return this.attempt(() => {
      const size = db.deleteOldestFinished();
      if (size === undefined) return false;
      this.forget([size]);
      this.oldestFinishedAt = db.oldestFinishedAt();
      return true;
    }) ?? false;
  }

  private forget(sizes: number[]): void {
    this.finishedCount -= sizes.length;
    for (const size of sizes) this.retainedBytes -= size;
  }

  /** Runs a database call; a failure is logged once per spell of failures and answers undefined. */
  private attempt<T>(fn: () => T): T | undefined {
    try {
      const value = fn();
      if (this.failing) this.log.info(`Async tasks are written to ${this.options.path} again.`);
      this.failing = false;
      return value;
    } catch (error) {
      if (!this.failing) this.log.warn(`Async tasks cannot be written to ${this.options.path} (${messageOf(error)}); they stay in memory until a write succeeds, and a restart meanwhile loses them.`);
      this.failing = true;
      return undefined;
    }
  }
}
