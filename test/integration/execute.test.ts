import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { isAlive } from "../../src/kernels/proc-stats";
import { until } from "../helpers/poll";
import { startTestServer } from "../helpers/server";

// One real `coderunner serve` (real Jupyter Server, real kernels and shells) for the whole file.
let server: Awaited<ReturnType<typeof startTestServer>>;
const run = (body: Record<string, unknown>) => server.call("POST", "/execute", body);
const newSession = async (body: Record<string, unknown> = {}) => {
  const response = await server.call("POST", "/v1/sessions/session", body);
  expect(response.status).toBe(200);
  return response.body.session_id as string;
};

beforeAll(async () => {
  server = await startTestServer({ kernelPoolSize: 2, maxSessions: 32 });
});
afterAll(async () => {
  await server?.stop();
});

describe("python", () => {
  test("state persists between calls in the default session", async () => {
    expect((await run({ command: "counter = 41" })).body.status).toBe("ok");
    const second = await run({ command: "counter += 1\nprint(counter)" });
    expect(second.status).toBe(200);
    expect(second.body).toMatchObject({ stdout: "42\n", stderr: "", status: "ok", session_id: "default", error: null });
  });

  test("IPython conventions hold: the last value is `_`, and In/Out keep the history", async () => {
    const session = await newSession();
    await run({ session_id: session, command: "40 + 2" });
    const response = await run({ session_id: session, command: "print(_, In[1], Out[1])" });
    expect(response.body.stdout).toBe("42 40 + 2 42\n");
  });

  test("`code` is an alias of `command`", async () => {
    const response = await run({ code: "print('alias')" });
    expect(response.body.stdout).toBe("alias\n");
  });

  test("a user exception is a 200 with a plain traceback in stderr and a structured error", async () => {
    const response = await run({ command: "def f():\n    raise ValueError('bad value')\nf()" });
    expect(response.status).toBe(200);
    expect(response.body.status).toBe("error");
    expect(response.body.error).toMatchObject({ ename: "ValueError", evalue: "bad value" });
    expect(response.body.stderr).toContain("ValueError: bad value");
    expect(response.body.stderr).not.toContain("\x1b[");
    expect(response.body.error.traceback.join("\n")).not.toContain("\x1b[");
  });

  test("a user exception is not retried: side effects happen once", async () => {
    const session = await newSession();
    await run({ session_id: session, command: "hits = 0" });
    await run({ session_id: session, command: "hits += 1\nraise RuntimeError('once')" });
    const response = await run({ session_id: session, command: "print(hits)" });
    expect(response.body.stdout).toBe("1\n");
  });

  test("rich outputs: an expression's value and a matplotlib plot as PNG", async () => {
    const value = await run({ command: "{'a': 1}" });
    expect(value.body.results[0]["text/plain"]).toBe("{'a': 1}");
    const plot = await run({
      command: "import matplotlib\nmatplotlib.use('module://matplotlib_inline.backend_inline')\nimport matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.show()",
    });
    expect(plot.body.status).toBe("ok");
    const png = plot.body.results.find((result: Record<string, string>) => result["image/png"]);
    expect(png).toBeDefined();
    const bytes = Buffer.from(png["image/png"], "base64");
    expect(bytes.subarray(1, 4).toString()).toBe("PNG");
  });

  test("`!cmd` lines and `%%bash` cells run in the shell", async () => {
    const bang = await run({ command: "!echo from-bang" });
    expect(bang.body.stdout).toContain("from-bang");
    const cell = await run({ command: "%%bash\necho cell $((40 + 2))" });
    expect(cell.body.stdout).toBe("cell 42\n");
  });

  test("cpu_time is real CPU time, not wall time", async () => {
    const busy = await run({ command: "s = 0\nfor i in range(3 * 10**6): s += i" });
    expect(busy.body.cpu_time).toBeGreaterThan(0.05);
    const idle = await run({ command: "import time; time.sleep(0.5)" });
    expect(idle.body.execution_time).toBeGreaterThanOrEqual(0.5);
    expect(idle.body.cpu_time).toBeLessThan(0.2);
  });

  test("output over the cap is truncated and flagged", async () => {
    const response = await run({ command: "print('x' * 3_000_000)" });
    expect(response.body.truncated).toBe(true);
    expect(Buffer.byteLength(response.body.stdout)).toBeLessThanOrEqual(1024 * 1024);
    expect(response.body.stdout.length).toBeGreaterThan(1000);
    const next = await run({ command: "print('fine')" });
    expect(next.body).toMatchObject({ stdout: "fine\n", truncated: false });
  });

  test("a timeout interrupts the run, returns partial output promptly, and keeps the session's state", async () => {
    const session = await newSession();
    await run({ session_id: session, command: "kept = 'still here'" });
    const started = performance.now();
    const response = await run({
      session_id: session,
      timeout: 1,
      command: "import time\nfor i in range(100):\n    print(i, flush=True)\n    time.sleep(0.1)",
    });
    const elapsed = (performance.now() - started) / 1000;
    expect(response.status).toBe(200);
    expect(response.body.status).toBe("timeout");
    expect(response.body.stdout).toStartWith("0\n1\n");
    expect(response.body.stderr).toContain("timed out after 1 s");
    expect(response.body.state_lost).toBe(false);
    expect(elapsed).toBeLessThan(2.5);
    const after = await run({ session_id: session, command: "print(kept)" });
    expect(after.body).toMatchObject({ stdout: "still here\n", status: "ok" });
  });

  test("a timeout shorter than the kernel takes to pick up the cell still stops it, its state kept", async () => {
    const session = await newSession();
    // 0.31 s less the stop's reserve and the answer's margin: interrupted ~10 ms after it was sent.
    const early = await run({ session_id: session, timeout: 0.31, command: "import time\nx = 5\ntime.sleep(30)" });
    expect(early.body.status).toBe("timeout");
    const after = await run({ session_id: session, command: "print(x)" });
    expect(after.body).toMatchObject({ stdout: "5\n", state_lost: false });
  });

  test("a kernel that ignores the interrupt is replaced: answered by the deadline, the next run says state was lost", async () => {
    const session = await newSession();
    const response = await run({
      session_id: session,
      timeout: 0.5,
      command: "import time\nwhile True:\n    try:\n        time.sleep(1)\n    except KeyboardInterrupt:\n        pass",
    });
    expect(response.body.status).toBe("timeout");
    expect(response.body.state_lost).toBe(false); // not known yet when the client's deadline came
    expect(response.body.stderr).toContain("this answer could not wait for the Python kernel to stop");
    const after = await run({ session_id: session, command: "import os\nprint(os.getcwd())" });
    expect(after.body).toMatchObject({ status: "ok", state_lost: true });
    expect(after.body.stderr).toContain("so its Python kernel was replaced: the session's Python variables were lost.");
    expect(after.body.stdout.trim()).toEndWith(session);
  });

  test("a killed kernel process is detected and replaced; the session reports the lost state, then works", async () => {
    const session = await newSession();
    const pid = Number((await run({ session_id: session, command: "import os\nvalue = 1\nprint(os.getpid())" })).body.stdout);
    process.kill(pid, "SIGKILL");
    await until("the kernel to be gone", () => !isAlive(pid));
    const next = await run({ session_id: session, command: "print('value' in globals())" });
    expect(next.status).toBe(200);
    expect(next.body.stdout).toBe("False\n");
    expect(next.body.state_lost).toBe(true);
    expect(next.body.stderr).toContain("had died");
    const again = await run({ session_id: session, command: "print('ok')" });
    expect(again.body).toMatchObject({ stdout: "ok\n", state_lost: false });
  });

  test("a kernel killed mid-run gives that run a clear error, not a hang", async () => {
    const session = await newSession();
    const pid = Number((await run({ session_id: session, command: "import os; print(os.getpid())" })).body.stdout);
    const running = run({ session_id: session, timeout: 60, command: "import time\nprint('started', flush=True)\ntime.sleep(60)" });
    // Executing, not just queued: its kernel says busy.
    await until("the run to be executing", () => server.sessions.get(session).kernel?.connection.status === "busy");
    process.kill(pid, "SIGKILL");
    const response = await running;
    expect(response.body.status).toBe("error");
    expect(response.body.error.ename).toBe("KernelDied");
    expect(response.body.execution_time).toBeLessThan(10);
    expect((await run({ session_id: session, command: "print(1 + 1)" })).body.stdout).toBe("2\n");
  });

  test("concurrent runs in two sessions do not mix output or state", async () => {
    const [a, b] = await Promise.all([newSession(), newSession()]);
    const loop = (tag: string) => `import time\nfor i in range(5):\n    print('${tag}', i, flush=True)\n    time.sleep(0.05)\nname = '${tag}'`;
    const [ra, rb] = await Promise.all([run({ session_id: a, command: loop("A") }), run({ session_id: b, command: loop("B") })]);
    expect(ra.body.stdout).toBe([0, 1, 2, 3, 4].map((i) => `A ${i}\n`).join(""));
    expect(rb.body.stdout).toBe([0, 1, 2, 3, 4].map((i) => `B ${i}\n`).join(""));
    expect((await run({ session_id: a, command: "print(name)" })).body.stdout).toBe("A\n");
    expect((await run({ session_id: b, command: "print(name)" })).body.stdout).toBe("B\n");
  });

  test("runs of one session execute in submission order", async () => {
    const session = await newSession();
    await run({ session_id: session, command: "order = []" });
    await Promise.all([1, 2, 3, 4, 5].map((n) => run({ session_id: session, command: `order.append(${n})` })));
    expect((await run({ session_id: session, command: "print(order)" })).body.stdout).toBe("[1, 2, 3, 4, 5]\n");
  });
});

describe("bash", () => {
  test("the shell persists: export and cd carry over", async () => {
    const session = await newSession();
    await run({ session_id: session, language: "bash", command: "export GREETING=hello\ncd /tmp" });
    const response = await run({ session_id: session, language: "bash", command: "echo $GREETING; pwd" });
    expect(response.body).toMatchObject({ stdout: "hello\n/tmp\n", status: "ok", exit_code: 0 });
  });

  test("shell and sh are bash too; a failing command reports its exit status", async () => {
    expect((await run({ language: "shell", command: "echo $0 >/dev/null; echo shell" })).body.stdout).toBe("shell\n");
    const failing = await run({ language: "sh", command: "echo out; echo err >&2; false" });
    expect(failing.body).toMatchObject({ stdout: "out\n", stderr: "err\n", status: "error", exit_code: 1 });
  });

  test("a shell timeout interrupts the command and keeps the shell's state", async () => {
    const session = await newSession();
    await run({ session_id: session, language: "bash", command: "export KEEP=yes" });
    const response = await run({ session_id: session, language: "bash", timeout: 0.5, command: "echo before; sleep 30; echo after" });
    expect(response.body.status).toBe("timeout");
    expect(response.body.stdout).toBe("before\n");
    expect(response.body.state_lost).toBe(false);
    const loop = await run({ session_id: session, language: "bash", timeout: 0.5, command: "while true; do :; done" });
    expect(loop.body.status).toBe("timeout");
    expect((await run({ session_id: session, language: "bash", command: "echo $KEEP" })).body.stdout).toBe("yes\n");
  });

  test("output without a trailing newline and marker-like text stay intact", async () => {
    const response = await run({ language: "bash", command: "printf 'no newline'; printf '\\036CODERUNNER-END:fake:0\\n'" });
    expect(response.body.stdout).toBe("no newline\x1eCODERUNNER-END:fake:0\n");
    expect(response.body.status).toBe("ok");
  });

  test("`exit` ends the shell: the run says so once, and the next run gets a fresh shell", async () => {
    const session = await newSession({ language: "bash" });
    await run({ session_id: session, language: "bash", command: "export GONE=soon" });
    const exited = await run({ session_id: session, language: "bash", command: "echo bye; exit 3" });
    expect(exited.body).toMatchObject({ stdout: "bye\n", status: "error", exit_code: 3, state_lost: true });
    expect(exited.body.error.ename).toBe("ShellExited");
    const next = await run({ session_id: session, language: "bash", command: "echo \"[$GONE]\"" });
    expect(next.body).toMatchObject({ stdout: "[]\n", stderr: "", status: "ok", state_lost: false });
  });

  test("a shell killed between runs is noticed: the next run says the shell state was lost", async () => {
    const session = await newSession({ language: "bash" });
    const pid = Number((await run({ session_id: session, language: "bash", command: "echo $$" })).body.stdout);
    process.kill(pid, "SIGKILL");
    await until("the shell to be gone", () => !isAlive(pid));
    const next = await run({ session_id: session, language: "bash", command: "echo ok" });
    expect(next.body).toMatchObject({ stdout: "ok\n", status: "ok", state_lost: true });
    expect(next.body.stderr).toContain("shell had ended");
  });

  test("closing a session ends the shell's background jobs; so does replacing a shell that exited", async () => {
    const waitDead = (pid: number) => until(`process ${pid} to end`, () => !isAlive(pid), { timeoutMs: 2000 }).then(() => true, () => false);
    const session = await newSession({ language: "bash" });
    const job = Number((await run({ session_id: session, language: "bash", command: "sleep 300 >/dev/null 2>&1 & echo $!" })).body.stdout);
    expect(isAlive(job)).toBe(true);
    expect((await server.call("DELETE", `/sessions/${session}`)).status).toBe(200);
    expect(await waitDead(job)).toBe(true);

    const other = await newSession({ language: "bash" });
    const left = Number((await run({ session_id: other, language: "bash", command: "sleep 301 >/dev/null 2>&1 & echo $!; exit 0" })).body.stdout);
    expect(left).toBeGreaterThan(0);
    expect(await waitDead(left)).toBe(true);
  });

  test("a command reading stdin does not hang", async () => {
    const response = await run({ language: "bash", timeout: 5, command: "cat; echo done" });
    expect(response.body).toMatchObject({ stdout: "done\n", status: "ok" });
  });
});

describe("sessions", () => {
  test("create, status, usage, list, delete (seed and InstaVM paths)", async () => {
    const seed = await server.call("POST", "/sessions", {});
    expect(seed.status).toBe(200);
    const id = seed.body.session_id;
    expect((await server.call("GET", `/sessions/${id}`)).body).toMatchObject({ session_id: id, status: "active" });
    expect((await server.call("GET", `/v1/sessions/status/${id}`)).body).toMatchObject({ session_id: id, vm_status: "active" });
    await run({ session_id: id, command: "x = bytearray(50 * 1024 * 1024)" });
    const usage = await server.call("GET", `/v1/sessions/usage/${id}`);
    expect(usage.body.executions).toBe(1);
    expect(usage.body.memory_bytes).toBeGreaterThan(50 * 1024 * 1024);
    expect(usage.body.cpu_seconds).toBeGreaterThan(0);
    expect(usage.body.uptime_seconds).toBeGreaterThanOrEqual(0);
    const listed = await server.call("GET", "/v1/sessions/sandboxes");
    expect(Array.isArray(listed.body)).toBe(true);
    expect(listed.body.map((s: { sandbox_id: string }) => s.sandbox_id)).toContain(id);
    const dir = server.sessions.get(id).dir;
    expect(existsSync(dir)).toBe(true);
    const kernelPid = server.sessions.get(id).kernel!.pid;
    expect((await server.call("DELETE", `/sessions/${id}`)).body).toEqual({ success: true });
    expect((await server.call("GET", `/sessions/${id}`)).status).toBe(404);
    expect(existsSync(dir)).toBe(false);
    await until("the session's kernel to end", () => !isAlive(kernelPid), { timeoutMs: 5000 });
  });

  test("env is set in the kernel and the shell; each session has its own working directory", async () => {
    const id = await newSession({ env: { PROJECT: "apollo" }, metadata: { team: "qa" } });
    expect((await run({ session_id: id, command: "import os\nprint(os.environ['PROJECT'], os.getcwd())" })).body.stdout).toBe(
      `apollo ${server.workspace}/sessions/${id}\n`,
    );
    expect((await run({ session_id: id, language: "bash", command: "echo $PROJECT; pwd" })).body.stdout).toBe(`apollo\n${server.workspace}/sessions/${id}\n`);
    const filtered = await server.call("GET", `/v1/sessions/sandboxes?metadata=${encodeURIComponent(JSON.stringify({ team: "qa" }))}`);
    expect(filtered.body.map((s: { sandbox_id: string }) => s.sandbox_id)).toEqual([id]);
    expect((await server.call("POST", "/kill", { session_id: id })).body).toEqual({ success: true, session_id: id });
    expect((await server.call("POST", "/kill", { session_id: id })).status).toBe(404);
  });

  test("the kernel enters the session's directory with its first run only: the code's own chdir holds, and a vanished directory is said", async () => {
    const id = await newSession({ env: { PROJECT: "apollo" } });
    const first = await run({ session_id: id, command: "import os\nos.chdir('/tmp')\nget_ipython().run_cell('pass')\nprint(os.getcwd())" });
    expect(first.body.stdout, JSON.stringify(first.body)).toBe("/tmp\n");
    expect((await run({ session_id: id, command: "print(os.getcwd(), os.environ['PROJECT'])" })).body.stdout).toBe("/tmp apollo\n");
    // Its directory removed, a replacement kernel runs where it can and says why.
    await run({ session_id: id, command: `import shutil\nshutil.rmtree(${JSON.stringify(`${server.workspace}/sessions/${id}`)})\nos._exit(1)` });
    const replaced = await run({ session_id: id, command: "import os\nprint(os.environ['PROJECT'])" });
    expect(replaced.body.stdout, JSON.stringify(replaced.body)).toBe("apollo\n");
    expect(replaced.body.stderr).toContain("could not enter its working directory");
  });

  test("vm_lifetime_seconds bounds a session's life", async () => {
    const id = await newSession({ vm_lifetime_seconds: 3 });
    const status = await server.call("GET", `/v1/sessions/status/${id}`);
    expect(status.status).toBe(200);
    const endsAt = Date.parse(status.body.end_at);
    expect(endsAt - Date.parse(status.body.created_at)).toBe(3000);
    await Bun.sleep(Math.max(0, endsAt - Date.now()) + 50);
    const gone = await server.call("GET", `/v1/sessions/status/${id}`);
    expect(gone.status).toBe(404);
    expect(gone.body.code).toBe("SESSION_NOT_FOUND");
    expect((await run({ session_id: id, command: "1" })).status).toBe(404);
  });
});

describe("bad input", () => {
  test.each([
    ["malformed JSON", "{not json", 400, "INVALID_JSON"],
    ["missing command", {}, 422, "VALIDATION_ERROR"],
    ["command of the wrong type", { command: 42 }, 422, "VALIDATION_ERROR"],
    ["unknown language", { command: "1", language: "cobol" }, 422, "VALIDATION_ERROR"],
    ["timeout of the wrong type", { command: "1", timeout: "soon" }, 422, "VALIDATION_ERROR"],
    ["negative timeout", { command: "1", timeout: -1 }, 422, "VALIDATION_ERROR"],
    ["unknown session", { command: "1", session_id: "no-such-session" }, 404, "SESSION_NOT_FOUND"],
  ])("%s", async (_name, body, status, code) => {
    const response = await run(body as Record<string, unknown>);
    expect(response.status).toBe(status);
    expect(response.body.code).toBe(code);
    expect(typeof response.body.detail).toBe("string");
    expect(response.body.detail.length).toBeGreaterThan(5);
  });

  test("an oversized body is a 413", async () => {
    const response = await run({ command: `print(${JSON.stringify("x".repeat(11 * 1024 * 1024))})` });
    expect(response.status).toBe(413);
    expect(response.body.code).toBe("PAYLOAD_TOO_LARGE");
  });

  test("unknown ids on every session path are 404 with {detail, code}", async () => {
    for (const [method, path, body] of [
      ["GET", "/sessions/nope"],
      ["DELETE", "/sessions/nope"],
      ["GET", "/v1/sessions/status/nope"],
      ["GET", "/v1/sessions/usage/nope"],
      ["POST", "/kill", { session_id: "nope" }],
    ] as const) {
      const response = await server.call(method, path, body);
      expect(response.status).toBe(404);
      expect(response.body).toMatchObject({ code: "SESSION_NOT_FOUND" });
    }
  });

  test("the default session keeps working after all of the above", async () => {
    expect((await run({ command: "print(counter)" })).body.stdout).toBe("42\n");
  });
});
