import { describe, expect, test } from "bun:test";
import { TaskStore } from "../../../src/tasks/task-store";
import { until } from "../../helpers/poll";
import { executionResult } from "../../helpers/results";

const result = executionResult;

function store(over: Partial<ConstructorParameters<typeof TaskStore>[0]> = {}) {
  let now = 1_000_000;
  let n = 0;
  const tasks = new TaskStore({ path: ":memory:", retentionMs: 3_600_000, maxTasks: 100, maxBytes: 1 << 30, clock: () => now, newId: () => `t${++n}`, ...over });
  tasks.open();
  return { tasks, advance: (ms: number) => (now += ms), now: () => now };
}

describe("TaskStore", () => {
  test("a task goes queued → running → completed, keeping partial output until the result replaces it", () => {
    const { tasks, advance } = store();
    const task = tasks.create("s", "python");
    expect(task.status).toBe("queued");
    advance(5);
    tasks.record(task, { type: "stdout", text: "partial" });
    expect(task.status).toBe("running");
    expect(task.startedAt).toBe(1_000_005);
    expect(task.stdout).toEqual(["partial"]);
    tasks.complete(task, result());
    expect(task.status).toBe("completed");
    expect(task.stdout).toEqual([]);
    expect(task.result?.stdout).toBe("out\n");
  });

  test("the result's status decides the task's: error → failed, timeout → timeout; session gone → cancelled", () => {
    const { tasks } = store();
    const a = tasks.create("s", "python");
    tasks.complete(a, result({ status: "error" }));
    expect(a.status).toBe("failed");
    const b = tasks.create("s", "python");
    tasks.complete(b, result({ status: "timeout" }));
    expect(b.status).toBe("timeout");
    const c = tasks.create("s", "python");
    tasks.complete(c, result(), true);
    expect(c.status).toBe("cancelled");
    const d = tasks.create("s", "python");
    tasks.fail(d, "cancelled", { detail: "closed", code: "SESSION_GONE" });
    expect(d.status).toBe("cancelled");
    expect(d.failure?.code).toBe("SESSION_GONE");
    tasks.complete(d, result());
    expect(d.status).toBe("cancelled"); // a finished task never changes again
  });

  test("finished tasks are kept for the retention period, then answer 404", () => {
    const { tasks, advance } = store({ retentionMs: 60_000 });
    const task = tasks.create("s", "python");
    tasks.complete(task, result());
    advance(59_999);
    expect(tasks.get(task.id)).toEqual(task);
    advance(1);
    expect(() => tasks.get(task.id)).toThrow(expect.objectContaining({ code: "TASK_NOT_FOUND", status: 404 }));
    expect(tasks.size).toBe(0);
    expect(tasks.bytes).toBe(0);
  });

  test("while open, expired tasks are deleted with no request to trigger it", async () => {
    const { tasks, advance } = store({ retentionMs: 60_000, sweepMs: 10 });
    tasks.complete(tasks.create("s", "python"), result());
    expect(tasks.size).toBe(1);
    advance(60_000);
    await until("the periodic sweep to delete the expired task", () => tasks.size === 0);
    tasks.close();
  });

  test("queued and running tasks never expire", () => {
    const { tasks, advance } = store({ retentionMs: 1000 });
    const task = tasks.create("s", "python");
    advance(10_000_000);
    tasks.sweep();
    expect(tasks.get(task.id).status).toBe("queued");
  });

  test("past the task cap the oldest finished task is dropped; with none finished, 429", () => {
    const { tasks } = store({ maxTasks: 3 });
    const first = tasks.create("s", "python");
    const second = tasks.create("s", "python");
    tasks.create("s", "python");
    tasks.complete(second, result());
    tasks.complete(first, result());
    tasks.create("s", "python"); // drops `second`, which finished first
    expect(() => tasks.get(second.id)).toThrow();
    expect(tasks.get(first.id).status).toBe("completed");
    tasks.create("s", "python"); // drops `first`
    expect(tasks.size).toBe(3);
    expect(() => tasks.create("s", "python")).toThrow(expect.objectContaining({ code: "TOO_MANY_TASKS", status: 429 }));
  });

  test("past the byte budget the oldest finished tasks are dropped early", () => {
    const { tasks } = store({ maxBytes: 10_000 });
    const big = "x".repeat(4000);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const task = tasks.create("s", "python");
      tasks.complete(task, result({ stdout: big }));
      ids.push(task.id);
    }
    expect(tasks.bytes).toBeLessThanOrEqual(10_000);
    expect(() => tasks.get(ids[0]!)).toThrow();
    expect(tasks.get(ids[4]!).result?.stdout).toBe(big);
  });

  test("memory stays bounded under a steady stream of tasks", () => {
    const { tasks, advance } = store({ retentionMs: 1000, maxTasks: 50_000 });
    for (let i = 0; i < 20_000; i++) {
      const task = tasks.create("s", "python");
      tasks.complete(task, result());
      advance(10); // 100 tasks a second, kept 1 s
    }
    expect(tasks.size).toBeLessThanOrEqual(101);
  });
});
