import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { runsAndFilesFeature } from "../../src/server/features/runs-and-files";
import { startTestServer } from "../helpers/server";

let server: Awaited<ReturnType<typeof startTestServer>>;

beforeAll(async () => {
  server = await startTestServer({ kernelPoolSize: 1 }, { listen: false, features: [runsAndFilesFeature] });
}, 60_000);

afterAll(async () => {
  await server?.stop();
}, 30_000);

/** Polls the task until it is complete, as the InstaVM SDK does. */
async function waitFor(taskId: string, timeoutMs = 30_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { status, body } = await server.call("GET", `/v1/executions/${taskId}`);
    expect(status).toBe(200);
    if (body.is_complete) return body;
    if (Date.now() > deadline) throw new Error(`task ${taskId} still ${body.status}`);
    await Bun.sleep(20);
  }
}

async function newSession(): Promise<string> {
  const { status, body } = await server.call("POST", "/v1/sessions/session", {});
  expect(status).toBe(200);
  return body.session_id;
}

describe("POST /execute_async + GET /v1/executions/{task_id}", () => {
  test("20 tasks queued in one session complete in submission order with correct outputs", async () => {
    const session = await newSession();
    await server.call("POST", "/execute", { command: "order = []", session_id: session });
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) {
      const { status, body } = await server.call("POST", "/execute_async", { command: `order.append(${i}); print(${i} * ${i})`, session_id: session });
      expect(status).toBe(200);
      expect(body.status).toBe("queued");
      expect(typeof body.task_id).toBe("string");
      ids.push(body.task_id);
    }
    expect(new Set(ids).size).toBe(20);
    const done = [];
    for (const id of ids) done.push(await waitFor(id));
    done.forEach((task, i) => {
      expect(task.status).toBe("completed");
      expect(task.serialized_stdout).toBe(`${i * i}\n`);
      expect(task.serialized_stderr).toBe("");
      expect(task.execution_time).toBeGreaterThan(0);
      expect(typeof task.cpu_time).toBe("number");
      expect(new Date(task.created_at).toISOString()).toBe(task.created_at);
      expect(task.result.session_id).toBe(session);
    });
    for (let i = 1; i < 20; i++) expect(done[i].started_at >= done[i - 1].started_at).toBe(true);
    const check = await server.call("POST", "/execute", { command: "print(order == list(range(20)))", session_id: session });
    expect(check.body.stdout).toBe("True\n");
  }, 60_000);

  test("an exception makes the task failed with the traceback in serialized_stderr", async () => {
    const { body } = await server.call("POST", "/execute_async", { command: "print('before'); 1/0" });
    const task = await waitFor(body.task_id);
    expect(task.status).toBe("failed");
    expect(task.serialized_stdout).toBe("before\n");
    expect(task.serialized_stderr).toContain("ZeroDivisionError");
    expect(task.result.error.ename).toBe("ZeroDivisionError");
  }, 30_000);

  test("a task's timeout is honoured and its session survives with its state", async () => {
    const session = await newSession();
    await server.call("POST", "/execute", { command: "kept = 42", session_id: session });
    const { body } = await server.call("POST", "/execute_async", { command: "import time\nprint('start', flush=True)\ntime.sleep(30)", session_id: session, timeout: 0.5 });
    const task = await waitFor(body.task_id, 15_000);
    expect(task.status).toBe("timeout");
    expect(task.serialized_stdout).toBe("start\n");
    expect(task.serialized_stderr).toContain("timed out");
    expect(task.execution_time).toBeLessThan(5);
    const after = await server.call("POST", "/execute", { command: "print(kept)", session_id: session });
    expect(after.body.stdout).toBe("42\n");
  }, 30_000);

  test("a task that ignores the interrupt waits for its kernel's fate: its result says the state was lost", async () => {
    const session = await newSession();
    const command = "import time\nwhile True:\n    try:\n        time.sleep(1)\n    except KeyboardInterrupt:\n        pass";
    const { body } = await server.call("POST", "/execute_async", { command, session_id: session, timeout: 0.5 });
    const task = await waitFor(body.task_id, 15_000);
    expect(task.status).toBe("timeout");
    expect(task.result.state_lost).toBe(true);
    expect(task.serialized_stderr).toContain("did not stop, so it was replaced");
  }, 30_000);

  test("a running task shows output so far and status running", async () => {
    const session = await newSession();
    const { body } = await server.call("POST", "/execute_async", {
      command: "import time, os\nprint('first', flush=True)\nwhile not os.path.exists('go'): time.sleep(0.02)\nprint('second')",
      session_id: session,
    });
    let view: any;
    const deadline = Date.now() + 10_000;
    do {
      view = (await server.call("GET", `/v1/executions/${body.task_id}`)).body;
      if (view.serialized_stdout) break;
      await Bun.sleep(20);
    } while (Date.now() < deadline);
    expect(view.status).toBe("running");
    expect(view.is_complete).toBe(false);
    expect(view.serialized_stdout).toBe("first\n");
    expect(view.execution_time).toBeNull();
    // The session is busy with the task, so the go-ahead comes from outside it: a file in its directory.
    writeFileSync(join(server.sessions.get(session).dir, "go"), "");
    const task = await waitFor(body.task_id);
    expect(task.serialized_stdout).toBe("first\nsecond\n");
  }, 30_000);

  test("sessions run concurrently: two sessions' tasks overlap in time", async () => {
    const [a, b] = [await newSession(), await newSession()];
    const submit = async (session: string) => (await server.call("POST", "/execute_async", { command: "import time; time.sleep(1)", session_id: session })).body.task_id;
    const [ta, tb] = [await submit(a), await submit(b)];
    const [ra, rb] = [await waitFor(ta), await waitFor(tb)];
    expect(ra.started_at < rb.completed_at && rb.started_at < ra.completed_at).toBe(true);
  }, 60_000);

  test("killing a session cancels its queued tasks and marks them so", async () => {
    const session = await newSession();
    const submit = async (command: string) => (await server.call("POST", "/execute_async", { command, session_id: session })).body.task_id;
    const running = await submit("import time; print('busy', flush=True); time.sleep(60)");
    const queued = [await submit("print(1)"), await submit("print(2)"), await submit("print(3)")];
    for (;;) {
      const view = (await server.call("GET", `/v1/executions/${running}`)).body;
      if (view.status === "running") break;
      await Bun.sleep(20);
    }
    const killed = await server.call("POST", "/kill", { session_id: session });
    expect(killed.status).toBe(200);
    for (const id of queued) {
      const task = await waitFor(id, 5_000);
      expect(task.status).toBe("cancelled");
      expect(task.failure.code).toBe("SESSION_GONE");
      expect(task.serialized_stderr).toContain("closed");
    }
    const first = await waitFor(running, 15_000);
    expect(["cancelled", "failed"]).toContain(first.status);
  }, 60_000);

  test("bad input: unknown session 404 at submit, unknown task 404, missing command 422, bad timeout 422", async () => {
    const unknown = await server.call("POST", "/execute_async", { command: "1", session_id: "no-such-session" });
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe("SESSION_NOT_FOUND");
    const task = await server.call("GET", "/v1/executions/no-such-task");
    expect(task.status).toBe(404);
    expect(task.body).toEqual({ detail: expect.any(String), code: "TASK_NOT_FOUND" });
    expect((await server.call("POST", "/execute_async", {})).status).toBe(422);
    expect((await server.call("POST", "/execute_async", { command: "1", timeout: -1 })).status).toBe(422);
    expect((await server.call("POST", "/execute_async", "{not json")).status).toBe(400);
  });
});
