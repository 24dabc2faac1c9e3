import { describe, expect, test } from "bun:test";
import { AppError } from "../../../src/errors";
import type { ExecuteRequest, ExecutionResult, RunControls } from "../../../src/kernels/executor";
import { Session } from "../../../src/kernels/session-store";
import { silentLogger } from "../../../src/log";
import { AsyncRuns } from "../../../src/tasks/async-runs";
import { TaskStore } from "../../../src/tasks/task-store";
import { executionResult } from "../../helpers/results";

/** Lets queued promise callbacks run (no timer: the fakes never wait on the clock). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A fake executor that queues in the session's real SerialQueue and finishes runs when told to. */
function setup() {
  const sessions = new Map<string, Session>();
  const open = (id: string) => {
    const session = new Session(id, `/tmp/${id}`, {}, 0);
    sessions.set(id, session);
    return session;
  };
  const started: string[] = [];
  const gates = new Map<string, (result?: Partial<ExecutionResult>) => void>();
  const executor = {
    timeoutSeconds(requested: number | undefined) {
      if (requested !== undefined && requested > 100) throw new AppError("VALIDATION_ERROR", "too long");
      return requested ?? 30;
    },
    run(session: Session, request: ExecuteRequest, _timeout: number, controls: RunControls = {}) {
      return session.queue.run(async () => {
        if (session.closed) throw new AppError("SESSION_GONE", "closed");
        started.push(request.command);
        controls.listener?.({ type: "stdout", text: `${request.command} started\n` });
        const extra = await new Promise<Partial<ExecutionResult> | undefined>((resolve) => gates.set(request.command, resolve));
        return executionResult({ stdout: `${request.command}\n`, execution_time: 0.1, cpu_time: 0.05, session_id: session.id, ...extra });
      });
    },
  };
  const store = new TaskStore({ path: ":memory:", retentionMs: 3_600_000, maxTasks: 100, maxBytes: 1 << 30 });
  store.open();
  const resolver = {
    async resolve(id: string | null | undefined) {
      const session = sessions.get(id ?? "default");
      if (!session) throw new AppError("SESSION_NOT_FOUND", "unknown");
      return session;
    },
  };
  const runs = new AsyncRuns({ store, sessions: resolver, executor: executor as never, log: silentLogger });
  const finish = async (command: string, result?: Partial<ExecutionResult>) => {
    while (!gates.has(command)) await settle();
    gates.get(command)!(result);
    await settle();
  };
  return { runs, store, open, started, finish };
}

describe("AsyncRuns", () => {
  test("runs of one session start in submission order, one at a time; statuses follow", async () => {
    const { runs, open, started, finish } = setup();
    open("a");
    const first = await runs.submit({ command: "one", session_id: "a" });
    const second = await runs.submit({ command: "two", session_id: "a" });
    await settle();
    expect(first.status).toBe("running");
    expect(first.stdout.join("")).toBe("one started\n");
    expect(second.status).toBe("queued");
    await finish("one");
    expect(first.status).toBe("completed");
    await settle();
    expect(second.status).toBe("running");
    await finish("two", { status: "timeout" });
    expect(second.status).toBe("timeout");
    expect(started).toEqual(["one", "two"]);
  });

  test("different sessions run concurrently", async () => {
    const { runs, open, started, finish } = setup();
    open("a");
    open("b");
    const a = await runs.submit({ command: "a1", session_id: "a" });
    const b = await runs.submit({ command: "b1", session_id: "b" });
    await settle();
    expect([a.status, b.status]).toEqual(["running", "running"]);
    expect(started.sort()).toEqual(["a1", "b1"]);
    await finish("a1");
    await finish("b1");
  });

  test("an unknown session or a bad timeout is refused at submission, and no task is recorded", async () => {
    const { runs, store } = setup();
    await expect(runs.submit({ command: "x", session_id: "nope" })).rejects.toMatchObject({ code: "SESSION_NOT_FOUND", status: 404 });
    await expect(runs.submit({ command: "x", session_id: "nope", timeout: 1000 })).rejects.toMatchObject({ code: "VALIDATION_ERROR" });
    expect(store.size).toBe(0);
  });

  test("closing a session cancels its queued tasks and marks them cancelled", async () => {
    const { runs, open, finish } = setup();
    const session = open("a");
    const running = await runs.submit({ command: "one", session_id: "a" });
    const queued = [await runs.submit({ command: "two", session_id: "a" }), await runs.submit({ command: "three", session_id: "a" })];
    await settle();
    session.markClosed();
    session.queue.cancelPending(new AppError("SESSION_GONE", "Session a was closed before this run started."));
    await settle();
    for (const task of queued) {
      expect(task.status).toBe("cancelled");
      expect(task.failure).toEqual({ code: "SESSION_GONE", detail: "Session a was closed before this run started." });
    }
    await finish("one");
    expect(running.status).toBe("cancelled"); // its session went away during the run
    expect(running.result?.stdout).toBe("one\n");
  });
});
