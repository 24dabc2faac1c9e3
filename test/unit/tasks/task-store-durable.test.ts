import { Database } from "bun:sqlite";
import { afterEach, describe, expect, test } from "bun:test";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Logger } from "../../../src/log";
import { taskView } from "../../../src/server/routes/tasks";
import { TaskDatabase, TaskDatabaseError } from "../../../src/tasks/task-database";
import { TaskStore, type TaskStoreOptions } from "../../../src/tasks/task-store";
import { executionResult } from "../../helpers/results";

import { until } from "../../helpers/poll";

/**
 * The store on a file, as the server uses it: a restart is a new store on the same file, a crash one
 * on a copy of the file taken while the first still runs (what a SIGKILL leaves on disk).
 */

const dirs: string[] = [];
const stores: TaskStore[] = [];

afterEach(() => {
  for (const store of stores.splice(0)) store.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "coderunner-tasks-"));
  dirs.push(dir);
  return dir;
}

function recordingLog(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  return { warnings, debug() {}, info() {}, warn: (message) => warnings.push(message), error() {} };
}

let clockNow = 1_000_000;
function open(path: string, over: Partial<TaskStoreOptions> = {}): TaskStore {
  const store = new TaskStore({ path, retentionMs: 3_600_000, maxTasks: 100, maxBytes: 1 << 30, flushMs: 60_000, clock: () => clockNow, ...over });
  store.open();
  stores.push(store);
  return store;
}

/** What a SIGKILL now would leave: the database and its write-ahead log, copied into a new directory. */
function crashCopy(path: string): string {
  const dir = tempDir();
  for (const suffix of ["", "-wal"]) if (existsSync(path + suffix)) copyFileSync(path + suffix, join(dir, `tasks.db${suffix}`));
  return join(dir, "tasks.db");
}

function rowsOnDisk(path: string): number {
  const db = new Database(path, { readonly: true });
  try {
    return db.query<{ n: number }, []>("SELECT COUNT(*) AS n FROM tasks").get()!.n;
  } finally {
    db.close();
  }
}

describe("TaskStore on disk", () => {
  test("after a crash, finished results read as before; running and queued tasks read failed SERVER_RESTARTED, with the output saved", () => {
    const path = join(tempDir(), "state", "tasks.db");
    const before = open(path);
    const done = before.create("s", "python");
    const result = executionResult({ stdout: "42\n", results: [{ "text/plain": "42" }], execution_time: 1.5 });
    before.complete(done, result);
    const running = before.create("s", "python");
    before.record(running, { type: "stdout", text: "step 1\n" });
    before.record(running, { type: "stderr", text: "warning\n" });
    before.flush(); // what the batch timer does
    const queued = before.create("s", "bash");
    before.record(running, { type: "stdout", text: "step 2\n" }); // printed after the last write: lost with the server

    const after = open(crashCopy(path));
    expect(after.size).toBe(3);
    expect(after.get(done.id)).toMatchObject({ status: "completed", result, failure: null, sessionId: "s", language: "python" });
    const lost = taskView(after.get(running.id));
    expect(lost).toMatchObject({ status: "failed", is_complete: true, serialized_stdout: "step 1\n", serialized_stderr: "warning\n" });
    expect(lost.failure).toEqual({ code: "SERVER_RESTARTED", detail: expect.stringContaining("restarted while this task ran") });
    const never = taskView(after.get(queued.id));
    expect(never).toMatchObject({ status: "failed", is_complete: true, serialized_stdout: "", language: "bash" });
    expect(never.failure).toEqual({ code: "SERVER_RESTARTED", detail: expect.stringContaining("never ran") });
    expect(never.serialized_stderr).toBe(never.failure!.detail);
    expect(() => after.get("s.unknown")).toThrow(expect.objectContaining({ code: "TASK_NOT_FOUND", status: 404 }));
  });

  test("a clean stop writes what was pending; the next start reads it, and a third start finds the same", () => {
    const path = join(tempDir(), "tasks.db");
    const first = open(path);
    const task = first.create("s", "python");
    first.record(task, { type: "stdout", text: "so far\n" });
    first.close();
    stores.splice(stores.indexOf(first), 1);
    const second = open(path);
    expect(taskView(second.get(task.id))).toMatchObject({ status: "failed", serialized_stdout: "so far\n", failure: { code: "SERVER_RESTARTED" } });
    const read = second.get(task.id);
    second.close();
    stores.splice(stores.indexOf(second), 1);
    expect(open(path).get(task.id)).toEqual(read);
  });

  test("output is written through in batches: none per chunk, all of it once the interval has passed", async () => {
    const path = join(tempDir(), "tasks.db");
    const store = open(path, { flushMs: 20 });
    const task = store.create("s", "python");
    for (let i = 0; i < 100; i++) store.record(task, { type: "stdout", text: `${i}\n` });
    const restartedNow = () => {
      const copy = open(crashCopy(path));
      return copy.get(task.id).stdout.join("");
    };
    expect(restartedNow()).toBe("");
    const all = Array.from({ length: 100 }, (_, i) => `${i}\n`).join("");
    await until("the batch to be written", () => restartedNow() === all, { timeoutMs: 5_000 });
  });

  test("the caps hold on disk: expired and evicted tasks are deleted rows, also for caps lowered between starts", () => {
    const path = join(tempDir(), "tasks.db");
    const first = open(path, { retentionMs: 60_000 });
    const start = clockNow;
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      const task = first.create("s", "python");
      first.complete(task, executionResult({ stdout: "x".repeat(1000) }));
      ids.push(task.id);
      clockNow += 1000;
    }
    first.close();
    stores.splice(stores.indexOf(first), 1);
    expect(rowsOnDisk(path)).toBe(6);

    const smaller = open(path, { retentionMs: 60_000, maxTasks: 4 });
    expect(smaller.size).toBe(4);
    expect(() => smaller.get(ids[1]!)).toThrow(expect.objectContaining({ code: "TASK_NOT_FOUND" }));
    expect(smaller.get(ids[2]!).status).toBe("completed");
    clockNow = start + 2000 + 60_000; // ids[2] finished 60 s ago
    expect(() => smaller.get(ids[2]!)).toThrow(expect.objectContaining({ code: "TASK_NOT_FOUND" }));
    expect(smaller.size).toBe(3);
    smaller.close();
    stores.splice(stores.indexOf(smaller), 1);
    expect(rowsOnDisk(path)).toBe(3);

    const byBytes = open(path, { retentionMs: 60_000, maxBytes: 3000 });
    expect(byBytes.size).toBe(2);
    expect(byBytes.bytes).toBeLessThanOrEqual(3000);
    expect(byBytes.get(ids[5]!).result?.stdout).toBe("x".repeat(1000));
  });

  test("a damaged file is moved aside with a warning and the server starts on a new one", () => {
    const dir = tempDir();
    const path = join(dir, "tasks.db");
    writeFileSync(path, "not a database ".repeat(400));
    const log = recordingLog();
    const store = open(path, { log });
    expect(store.get(store.create("s", "python").id).status).toBe("queued");
    expect(log.warnings).toEqual([expect.stringContaining(`${path} could not be read (file is not a database); it was moved to ${path}.damaged-`)]);
    const aside = readdirSync(dir).find((name) => name.startsWith("tasks.db.damaged-"))!;
    expect(readFileSync(join(dir, aside), "utf8")).toStartWith("not a database");
  });

  test("a database of a newer schema is moved aside too (an image rolled back)", () => {
    const dir = tempDir();
    const path = join(dir, "tasks.db");
    const newer = new Database(path);
    newer.run("CREATE TABLE tasks (id TEXT PRIMARY KEY, other BLOB); PRAGMA user_version = 7");
    newer.close();
    const log = recordingLog();
    const store = open(path, { log });
    expect(store.size).toBe(0);
    expect(log.warnings[0]).toContain("schema version 7, this CodeRunner knows 1");
    expect(readdirSync(dir).some((name) => name.startsWith("tasks.db.damaged-"))).toBe(true);
  });

  test("a path that cannot hold the database, or one another server holds, is a startup error naming it", () => {
    const dir = tempDir();
    const blocked = join(dir, "is-a-directory.db");
    mkdirSync(blocked);
    const store = new TaskStore({ path: blocked, retentionMs: 1000, maxTasks: 10, maxBytes: 1 << 20 });
    expect(() => store.open()).toThrow(TaskDatabaseError);
    expect(() => store.open()).toThrow(`Cannot open the task database ${blocked}`);

    const path = join(dir, "tasks.db");
    open(path);
    const second = new TaskStore({ path, retentionMs: 1000, maxTasks: 10, maxBytes: 1 << 20 });
    expect(() => second.open()).toThrow(`Cannot open the task database ${path}: another CodeRunner server is using it`);
  });

  test("the file is the server's alone: 0600 in a directory it creates 0700", () => {
    const dir = join(tempDir(), "state");
    open(join(dir, "tasks.db"));
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, "tasks.db")).mode & 0o777).toBe(0o600);
  });

  test("a run that ends after the store closed (the server stopping) changes nothing and throws nothing", () => {
    const path = join(tempDir(), "tasks.db");
    const store = open(path);
    const task = store.create("s", "python");
    store.close();
    stores.splice(stores.indexOf(store), 1);
    store.record(task, { type: "stdout", text: "late\n" });
    store.complete(task, executionResult());
    expect(task.status).toBe("completed");
    expect(open(path).get(task.id).failure?.code).toBe("SERVER_RESTARTED");
  });

  test("while writes fail (a full disk) tasks stay in memory and answer as usual; the next write saves them; one warning", () => {
    const path = join(tempDir(), "tasks.db");
    let full = false;
    const writes = new Set(["saveLive", "saveFinished", "deleteFinishedBefore", "deleteOldestFinished"]);
    const log = recordingLog();
    const store = open(path, {
      log,
      openDatabase: (file, logger) =>
        new Proxy(TaskDatabase.open(file, logger), {
          get(target, name, receiver) {
            const value = Reflect.get(target, name, receiver);
            if (typeof value !== "function") return value;
            return (...args: unknown[]) => {
              if (full && writes.has(String(name))) throw new Error("database or disk is full");
              return value.apply(target, args);
            };
          },
        }),
    });
    full = true;
    const task = store.create("s", "python");
    store.record(task, { type: "stdout", text: "partial\n" });
    expect(store.get(task.id)).toMatchObject({ status: "running", stdout: ["partial\n"] });
    store.complete(task, executionResult({ stdout: "done\n" }));
    expect(store.get(task.id)).toMatchObject({ status: "completed", result: { stdout: "done\n" } });
    expect(store.size).toBe(1);
    expect(log.warnings).toEqual([expect.stringContaining("cannot be written")]);
    expect(() => open(crashCopy(path)).get(task.id)).toThrow(expect.objectContaining({ code: "TASK_NOT_FOUND" }));

    full = false;
    store.flush();
    expect(open(crashCopy(path)).get(task.id)).toMatchObject({ status: "completed", result: { stdout: "done\n" } });
    expect(store.get(task.id).status).toBe("completed");
    expect(store.size).toBe(1);
    expect(log.warnings).toHaveLength(1);
  });
});
