import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CodeRunner,
  CodeRunnerError,
  ExecutionError,
  FileError,
  InvalidRequestError,
  NetworkError,
  SessionError,
  TimeoutError,
  type StreamEvent,
} from "../../src/client/index";
import { startTestServer, type TestServer } from "../helpers/server";
import { freePort } from "../../src/kernels/jupyter-server";

/** The SDK against a real `coderunner serve` (real Jupyter kernels and shells), one server for the file. */

setDefaultTimeout(60_000);

let server: TestServer;
let workspace: string;
let runner: CodeRunner;

beforeAll(async () => {
  server = await startTestServer({ kernelPoolSize: 1 }, { listen: true });
  workspace = server.workspace;
  runner = new CodeRunner({ baseURL: server.url, autoStart: false });
});

afterAll(async () => {
  await runner?.close();
  await server?.stop();
});

async function serverHasSession(id: string): Promise<boolean> {
  const response = await fetch(`${server.url}/sessions/${id}`);
  await response.body?.cancel();
  return response.status === 200;
}

describe("zero-config construction", () => {
  test("new CodeRunner() with no arguments finds the server through CODERUNNER_URL", async () => {
    const saved = process.env.CODERUNNER_URL;
    process.env.CODERUNNER_URL = server.url;
    try {
      await using local = new CodeRunner();
      const result = await local.execute("print('Hello World')");
      expect(result.stdout).toBe("Hello World\n");
      expect(result.status).toBe("ok");
    } finally {
      if (saved === undefined) delete process.env.CODERUNNER_URL;
      else process.env.CODERUNNER_URL = saved;
    }
  });

  test("with autoStart off and nothing listening, the first call fails with a clear NetworkError", async () => {
    const deadURL = `http://127.0.0.1:${await freePort()}`;
    const local = new CodeRunner({ baseURL: deadURL, autoStart: false });
    const error = await local.execute("1").catch((e) => e);
    expect(error).toBeInstanceOf(NetworkError);
    expect(error.message).toContain(deadURL);
    expect(error.message).toContain("coderunner up");
  });
});

describe("execute", () => {
  test("runs Python in the client's own session, whose state persists between calls", async () => {
    const first = await runner.execute("x = 41");
    const second = await runner.execute("print(x + 1)");
    expect(second.stdout).toBe("42\n");
    expect(second.session_id).toBe(first.session_id);
    expect(first.session_id).not.toBe("default");
    expect(runner.sessionId).toBe(first.session_id);
    expect(typeof second.execution_time).toBe("number");
  });

  test("runs bash in a persistent shell", async () => {
    await runner.execute("cd /tmp && export GREETING=hi", { language: "bash" });
    const result = await runner.execute("echo $GREETING $(pwd)", { language: "bash" });
    expect(result.stdout).toBe("hi /tmp\n");
    expect(result.exit_code).toBe(0);
  });

  test("a user exception is a result with status error, not a thrown error", async () => {
    const result = await runner.execute("1/0");
    expect(result.status).toBe("error");
    expect(result.error?.ename).toBe("ZeroDivisionError");
    expect(result.stderr).toContain("ZeroDivisionError");
  });

  test("a run past its timeout returns status timeout and the session survives", async () => {
    await runner.execute("kept = 'still here'");
    const result = await runner.execute("import time\nprint('before', flush=True)\ntime.sleep(30)", { timeout: 1 });
    expect(result.status).toBe("timeout");
    expect(result.stdout).toContain("before");
    expect((await runner.execute("print(kept)")).stdout).toBe("still here\n");
  });

  test("invalid input is an InvalidRequestError carrying the server's code and detail", async () => {
    const error = await runner.execute("1", { timeout: -1 }).catch((e) => e);
    expect(error).toBeInstanceOf(InvalidRequestError);
    expect(error).toBeInstanceOf(CodeRunnerError);
    expect(error.status).toBe(422);
    expect(error.code).toBe("VALIDATION_ERROR");
    expect(error.detail).toContain("timeout");
  });

  test("an unknown session id is a SessionError (404, SESSION_NOT_FOUND)", async () => {
    const error = await runner.execute("1", { sessionId: "no-such-session" }).catch((e) => e);
    expect(error).toBeInstanceOf(SessionError);
    expect(error.status).toBe(404);
    expect(error.code).toBe("SESSION_NOT_FOUND");
  });
});

describe("async tasks", () => {
  test("executeAsync returns a task id and getTaskResult polls it to completion", async () => {
    const taskId = await runner.executeAsync("import time; time.sleep(0.3); print('async done')");
    expect(typeof taskId).toBe("string");
    const task = await runner.getTaskResult(taskId, { pollInterval: 0.05, timeout: 30 });
    expect(task.is_complete).toBe(true);
    expect(task.serialized_stdout).toBe("async done\n");
    expect(task.task_id).toBe(taskId);
  });

  test("runs of one session keep submission order", async () => {
    const first = await runner.executeAsync("order = []\norder.append(1)");
    const second = await runner.executeAsync("order.append(2); print(order)");
    await runner.getTaskResult(first, { pollInterval: 0.05 });
    expect((await runner.getTaskResult(second, { pollInterval: 0.05 })).serialized_stdout).toBe("[1, 2]\n");
  });

  test("getTaskResult gives up with TimeoutError after its timeout", async () => {
    const taskId = await runner.executeAsync("import time; time.sleep(5)", { timeout: 10 });
    const started = Date.now();
    const error = await runner.getTaskResult(taskId, { pollInterval: 0.05, timeout: 0.3 }).catch((e) => e);
    expect(error).toBeInstanceOf(TimeoutError);
    expect(Date.now() - started).toBeLessThan(3000);
    await runner.getTaskResult(taskId, { pollInterval: 0.1, timeout: 30 });
  });

  test("an unknown task is an ExecutionError with TASK_NOT_FOUND", async () => {
    const error = await runner.getTask("no-such-task").catch((e) => e);
    expect(error).toBeInstanceOf(ExecutionError);
    expect(error.code).toBe("TASK_NOT_FOUND");
  });
});

describe("streaming", () => {
  test("executeStream yields output as it is produced, then the full result", async () => {
    const events: StreamEvent[] = [];
    for await (const event of runner.executeStream("import sys\nfor i in range(3): print(i, flush=True)\nprint('oops', file=sys.stderr)")) {
      events.push(event);
    }
    const stdout = events.filter((e) => e.type === "stdout").map((e) => (e as { text: string }).text).join("");
    expect(stdout).toBe("0\n1\n2\n");
    expect(events.some((e) => e.type === "stderr" && e.text.includes("oops"))).toBe(true);
    const last = events.at(-1)!;
    expect(last.type).toBe("result");
    if (last.type === "result") {
      expect(last.result.stdout).toBe("0\n1\n2\n");
      expect(last.result.session_id).toBe(runner.sessionId!);
    }
  });

  test("leaving the loop early cancels the run and frees the session", async () => {
    const seen: string[] = [];
    for await (const event of runner.executeStream("import time\nfor i in range(600):\n    print(i, flush=True)\n    time.sleep(0.05)", { timeout: 120 })) {
      if (event.type === "stdout") seen.push(event.text);
      if (seen.length) break;
    }
    expect(seen[0]).toBe("0\n");
    const started = Date.now();
    expect((await runner.execute("print('free')")).stdout).toBe("free\n");
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  test("an aborted execute rejects at once with the caller's reason", async () => {
    const controller = new AbortController();
    const started = Date.now();
    const pending = runner.execute("import time; time.sleep(2)", { signal: controller.signal, timeout: 60 }).catch((e) => e);
    setTimeout(() => controller.abort(), 200);
    const error = await pending;
    expect(Date.now() - started).toBeLessThan(1500);
    expect(error).not.toBeInstanceOf(CodeRunnerError);
    expect(error.name).toBe("AbortError");
    expect((await runner.execute("print('after abort')")).stdout).toBe("after abort\n");
  });

  test("rich outputs arrive as display events", async () => {
    const events: StreamEvent[] = [];
    for await (const event of runner.executeStream("from IPython.display import HTML, display\ndisplay(HTML('<b>hi</b>'))")) events.push(event);
    const display = events.find((e) => e.type === "display");
    expect(display && display.type === "display" && display.data["text/html"]).toBe("<b>hi</b>");
  });

  test("a stream for an unknown session throws SessionError before any event", async () => {
    const iterate = async () => {
      for await (const _ of runner.executeStream("1", { sessionId: "nope" })) {
        // no events expected
      }
    };
    expect(iterate()).rejects.toBeInstanceOf(SessionError);
  });
});

describe("sessions", () => {
  test("startSession with env, isSessionActive, getUsage, closeSession", async () => {
    await using local = new CodeRunner({ baseURL: server.url, autoStart: false });
    const id = await local.startSession({ env: { PROJECT: "demo" }, metadata: { owner: "client-test" } });
    expect(local.sessionId).toBe(id);
    expect(await local.isSessionActive()).toBe(true);
    expect((await local.execute("import os; print(os.environ['PROJECT'])")).stdout).toBe("demo\n");
    const usage = await local.getUsage();
    expect(usage.session_id).toBe(id);
    expect(usage.executions).toBe(1);
    const listed = await local.listSessions({ metadata: { owner: "client-test" } });
    expect(listed.map((s) => s.sandbox_id)).toEqual([id]);
    await local.closeSession();
    expect(local.sessionId).toBeUndefined();
    expect(await local.isSessionActive(id)).toBe(false);
    expect(await serverHasSession(id)).toBe(false);
  });

  test("kill ends a session; a later call on it is a SessionError", async () => {
    const local = new CodeRunner({ baseURL: server.url, autoStart: false });
    const id = await local.startSession();
    const killed = await local.kill();
    expect(killed).toEqual({ success: true, session_id: id });
    expect(await local.isSessionActive(id)).toBe(false);
    expect(local.execute("1", { sessionId: id })).rejects.toBeInstanceOf(SessionError);
    expect(local.kill(id)).rejects.toBeInstanceOf(SessionError);
  });

  test("getUsage with no session is a SessionError", async () => {
    const local = new CodeRunner({ baseURL: server.url, autoStart: false });
    expect(() => local.getUsage()).toThrow(SessionError);
    expect(await local.isSessionActive()).toBe(false);
  });

  test("`await using` closes the sessions the client opened", async () => {
    let ids: string[];
    {
      await using local = new CodeRunner({ baseURL: server.url, autoStart: false });
      const first = (await local.execute("print(1)")).session_id;
      const second = await local.startSession();
      ids = [first, second];
      expect(await serverHasSession(first)).toBe(true);
      expect(await serverHasSession(second)).toBe(true);
    }
    expect(await serverHasSession(ids[0]!)).toBe(false);
    expect(await serverHasSession(ids[1]!)).toBe(false);
  });
});

describe("files", () => {
  test("uploadFile writes into the session's directory, where code sees it; downloadFile reads it back", async () => {
    const uploaded = await runner.uploadFile("a,b\n1,2\n", "data.csv");
    expect(uploaded.success).toBe(true);
    expect(uploaded.size).toBe(8);
    expect((await runner.execute("print(open('data.csv').read().splitlines()[1])")).stdout).toBe("1,2\n");
    await runner.execute("open('out.txt', 'w').write('written by python')");
    const file = await runner.downloadFile("out.txt");
    expect(file.text()).toBe("written by python");
    expect(file.size).toBe(17);
  });

  test("binary content round-trips byte for byte", async () => {
    const bytes = new Uint8Array(256).map((_, i) => i);
    await runner.uploadFile(bytes, "bytes.bin");
    const file = await runner.downloadFile("bytes.bin");
    expect([...file.content]).toEqual([...bytes]);
    const listing = await runner.listFiles(".");
    expect(listing.entries.map((e) => e.name)).toContain("bytes.bin");
  });

  test("a local file uploads from its bytes", async () => {
    const local = join(workspace, "..", `client-upload-${process.pid}.txt`);
    writeFileSync(local, "from disk");
    try {
      await runner.uploadFile(new Blob([await Bun.file(local).arrayBuffer()]), "from-disk.txt");
      expect((await runner.downloadFile("from-disk.txt")).text()).toBe("from disk");
    } finally {
      rmSync(local, { force: true });
    }
  });

  test("a missing file is a FileError 404; a path leaving the sandbox is a FileError 400", async () => {
    const missing = await runner.downloadFile("nope.txt").catch((e) => e);
    expect(missing).toBeInstanceOf(FileError);
    expect(missing.status).toBe(404);
    const escape = await runner.downloadFile("../../../../etc/passwd").catch((e) => e);
    expect(escape).toBeInstanceOf(FileError);
    expect(escape.status).toBe(400);
    expect(escape.code).toBe("INVALID_PATH");
  });
});

describe("Node", () => {
  test("the SDK bundled for Node runs against the server with Node's own fetch", async () => {
    const out = mkdtempSync(join(tmpdir(), "coderunner-node-"));
    try {
      const built = await Bun.build({ entrypoints: [join(import.meta.dir, "../../src/client/index.ts")], target: "node", outdir: out, naming: "sdk.mjs" });
      expect(built.success).toBe(true);
      const script = join(out, "run.mjs");
      writeFileSync(
        script,
        `import { CodeRunner, ContainerError, SessionError } from "./sdk.mjs";
         const runner = new CodeRunner({ autoStart: false });
         const result = await runner.execute("print(6 * 7)");
         let sessionError = false;
         try { await runner.execute("1", { sessionId: "missing" }); } catch (e) { sessionError = e instanceof SessionError; }
         await runner[Symbol.asyncDispose]();
         // Nothing listens here and Node cannot load the (Bun) container lifecycle: a clear error, no hang.
         let startError = "";
         try { await new CodeRunner({ baseURL: "http://127.0.0.1:9", onProgress: () => {} }).execute("1"); } catch (e) { startError = e instanceof ContainerError ? e.message : String(e); }
         console.log(JSON.stringify({ stdout: result.stdout, sessionError, startError }));`,
      );
      const node = Bun.spawn(["node", script], { env: { ...process.env, CODERUNNER_URL: server.url }, stdout: "pipe", stderr: "pipe" });
      const [stdout, stderr, code] = await Promise.all([new Response(node.stdout).text(), new Response(node.stderr).text(), node.exited]);
      expect(stderr).toBe("");
      expect(code).toBe(0);
      const report = JSON.parse(stdout);
      expect(report).toMatchObject({ stdout: "42\n", sessionError: true });
      expect(report.startError).toContain("coderunner up");
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
