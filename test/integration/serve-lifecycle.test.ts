import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findProcesses, isAlive } from "../../src/kernels/proc-stats";
import { until } from "../helpers/poll";
import { startServeProcess, type ServeProcess } from "../helpers/serve-process";
import { startTestServer } from "../helpers/server";

const CLI = [process.execPath, `${import.meta.dir}/../../src/cli.ts`];
const started: ServeProcess[] = [];
afterAll(async () => {
  for (const server of started) await server.cleanup();
});

/** Jupyter Server and kernel processes that belong to a serve process (found by its workspace path). */
async function childrenOf(server: ServeProcess) {
  const status = await server.post("/execute", { command: "import os\nprint(os.getpid(), os.getppid())" });
  const [kernelPid, jupyterPid] = status.stdout.trim().split(" ").map(Number);
  return { kernelPid: kernelPid!, jupyterPid: jupyterPid! };
}

describe("coderunner serve as a process", () => {
  test("SIGTERM stops Jupyter Server and every kernel: no orphan is left", async () => {
    const server = await startServeProcess(CLI);
    started.push(server);
    const { kernelPid, jupyterPid } = await childrenOf(server);
    expect(isAlive(kernelPid)).toBe(true);
    expect(findProcesses(server.workspace).length).toBeGreaterThan(0);
    server.proc.kill("SIGTERM");
    expect(await server.proc.exited).toBe(0);
    await until("kernel and Jupyter to end", () => !isAlive(kernelPid) && !isAlive(jupyterPid), { timeoutMs: 10_000 });
  });

  test("SIGINT does the same", async () => {
    const server = await startServeProcess(CLI);
    started.push(server);
    const { kernelPid, jupyterPid } = await childrenOf(server);
    server.proc.kill("SIGINT");
    expect(await server.proc.exited).toBe(0);
    await until("kernel and Jupyter to end", () => !isAlive(kernelPid) && !isAlive(jupyterPid), { timeoutMs: 10_000 });
  });

  test("even a SIGKILLed CodeRunner leaves nothing behind: Jupyter watches its parent, kernels theirs", async () => {
    const server = await startServeProcess(CLI);
    started.push(server);
    const { kernelPid, jupyterPid } = await childrenOf(server);
    server.proc.kill("SIGKILL");
    await server.proc.exited;
    await until("Jupyter Server to notice its parent died", () => !isAlive(jupyterPid), { timeoutMs: 10_000 });
    await until("the kernel to notice Jupyter died", () => !isAlive(kernelPid), { timeoutMs: 15_000 });
  });
});

describe("Jupyter Server dying", () => {
  test("is restarted; sessions get fresh kernels and are told their state was lost", async () => {
    await using server = await startTestServer();
    const first = await server.call("POST", "/execute", { command: "kept = 1\nprint('before')" });
    expect(first.body.stdout).toBe("before\n");
    const oldPid = server.jupyter.pid!;
    process.kill(oldPid, "SIGKILL");
    await until("Jupyter Server to be restarted", () => server.jupyter.pid !== undefined && server.jupyter.pid !== oldPid, { timeoutMs: 30_000 });
    const after = await server.call("POST", "/execute", { command: "print('kept' in globals())" });
    expect(after.status).toBe(200);
    expect(after.body.stdout).toBe("False\n");
    expect(after.body.state_lost).toBe(true);
    expect(after.body.stderr).toContain("Jupyter Server had to be restarted");
    const health = await server.call("GET", "/health");
    expect(health.body.kernels.jupyter).toBe("running");
  });
});

describe("a client that goes away", () => {
  test("interrupts its run: the session answers the next call at once, state intact", async () => {
    await using server = await startTestServer({}, { listen: true, features: [] });
    const post = (body: unknown, signal?: AbortSignal) =>
      fetch(`${server.url}/execute`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body), signal });
    await (await post({ command: "kept = 7" })).json();
    const controller = new AbortController();
    const abandoned = post({ command: "import time\nprint('started', flush=True)\ntime.sleep(30)", timeout: 60 }, controller.signal).catch(() => "aborted");
    // Executing, not just queued: its kernel says busy.
    await until("the run to be executing", () => server.sessions.find("default")?.kernel?.connection.status === "busy");
    controller.abort();
    expect(await abandoned).toBe("aborted");
    const started = performance.now();
    const next = await (await post({ command: "print(kept)" })).json();
    expect(next.stdout).toBe("7\n");
    expect(performance.now() - started).toBeLessThan(5000);
  });
});

describe("a server that stops and starts again on the same workspace", () => {
  test("keeps the default session's files: the next server's default session finds them", async () => {
    const workspace = mkdtempSync(join(tmpdir(), "coderunner-restart-"));
    try {
      const first = await startTestServer({ workspace });
      const written = await first.call("POST", "/execute", { command: "open('notes.txt', 'w').write('kept across restarts')" });
      expect(written.body.status).toBe("ok");
      await first.stop();
      await using second = await startTestServer({ workspace });
      const read = await second.call("POST", "/execute", { command: "print(open('notes.txt').read())" });
      expect(read.body.stdout).toBe("kept across restarts\n");
    } finally {
      rmSync(workspace, { recursive: true, force: true });
    }
  });
});

describe("secrets", () => {
  test("user code sees neither the API key nor Jupyter's token in its environment", async () => {
    const saved = process.env.CODERUNNER_API_KEY;
    process.env.CODERUNNER_API_KEY = "secret-key-for-this-test";
    try {
      await using server = await startTestServer({ apiKey: "secret-key-for-this-test" });
      const headers = { "x-api-key": "secret-key-for-this-test" };
      const python = await server.call("POST", "/execute", { command: "import os\nprint(sorted(k for k in os.environ if 'TOKEN' in k or 'API_KEY' in k))" }, headers);
      expect(python.body.stdout).toBe("[]\n");
      const bash = await server.call("POST", "/execute", { language: "bash", command: "env | grep -c -e TOKEN -e API_KEY; env | grep -c '^PATH='" }, headers);
      expect(bash.body.stdout).toBe("0\n1\n");
      const proc = await server.call("POST", "/execute", { command: "print(open('/proc/self/environ').read().count('secret-key-for-this-test'))" }, headers);
      expect(proc.body.stdout).toBe("0\n");
    } finally {
      if (saved === undefined) delete process.env.CODERUNNER_API_KEY;
      else process.env.CODERUNNER_API_KEY = saved;
    }
  });
});
