import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { commandLine } from "../../src/kernels/proc-stats";
import { until } from "../helpers/poll";
import { startTestServer } from "../helpers/server";

let server: Awaited<ReturnType<typeof startTestServer>>;

beforeAll(async () => {
  server = await startTestServer({ kernelPoolSize: 1 });
}, 60_000);

afterAll(async () => {
  await server?.stop();
}, 30_000);

const usage = async (id: string) => {
  const { status, body } = await server.call("GET", `/v1/sessions/usage/${id}`);
  expect(status).toBe(200);
  return body;
};

describe("GET /v1/sessions/usage/{id} reports real figures", () => {
  test("cpu_seconds grows after a CPU-heavy run, memory_bytes after allocating ~100 MB, executions count runs", async () => {
    const id = (await server.call("POST", "/v1/sessions/session", {})).body.session_id;
    const before = await usage(id);
    expect(before.kernel.pid).toBeGreaterThan(0);
    expect(before.cpu_seconds).toBeGreaterThanOrEqual(0);
    expect(before.memory_bytes).toBeGreaterThan(1024 * 1024);
    expect(before.executions).toBe(0);

    const burn = await server.call("POST", "/execute", {
      command: "import time\nend = time.process_time() + 1.0\nwhile time.process_time() < end: pass",
      session_id: id,
    });
    expect(burn.body.status).toBe("ok");
    const afterCPU = await usage(id);
    expect(afterCPU.cpu_seconds - before.cpu_seconds).toBeGreaterThanOrEqual(0.9);
    expect(afterCPU.executions).toBe(1);

    await server.call("POST", "/execute", { command: "blob = bytearray(100 * 1024 * 1024)\nblob[::4096] = b'x' * len(blob[::4096])", session_id: id });
    const afterMemory = await usage(id);
    expect(afterMemory.memory_bytes - afterCPU.memory_bytes).toBeGreaterThanOrEqual(90 * 1024 * 1024);
    expect(afterMemory.executions).toBe(2);
    expect(afterMemory.uptime_seconds).toBeGreaterThan(before.uptime_seconds);

    await server.call("POST", "/execute", { command: "del blob; import gc; gc.collect()", session_id: id });
    const afterFree = await usage(id);
    expect(afterMemory.memory_bytes - afterFree.memory_bytes).toBeGreaterThanOrEqual(90 * 1024 * 1024);
  }, 60_000);

  test("the shell's figures are included once it runs", async () => {
    const id = (await server.call("POST", "/v1/sessions/session", {})).body.session_id;
    expect((await usage(id)).shell.pid).toBeNull();
    await server.call("POST", "/execute", { command: "echo hi", language: "bash", session_id: id });
    const after = await usage(id);
    expect(after.shell.pid).toBeGreaterThan(0);
    expect(after.shell.memory_bytes).toBeGreaterThan(0);
    expect(after.memory_bytes).toBe(after.kernel.memory_bytes + after.shell.memory_bytes);
  }, 30_000);

  test("what runs left running is listed, and ended when the session closes: nohup jobs, own sessions, a server", async () => {
    const id = (await server.call("POST", "/v1/sessions/session", {})).body.session_id;
    // Its own durations (sleep takes fractions) tell its sleeps from any other test's.
    const marker = String(Math.floor(Math.random() * 1e6));
    expect((await usage(id)).processes).toEqual([]);
    await server.call("POST", "/execute", { command: `nohup sleep 1001.${marker} >/dev/null 2>&1 &`, language: "bash", session_id: id });
    await server.call("POST", "/execute", { session_id: id, command: `import subprocess\nsubprocess.Popen(['sleep', '1002.${marker}'], start_new_session=True)\nimport sys\nsubprocess.Popen([sys.executable, '-m', 'http.server', '0', '--bind', '127.0.0.1'], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)` });
    type Listed = { pid: number; command: string; memory_bytes: number | null }[];
    const expected = [`sleep 1001.${marker}`, `sleep 1002.${marker}`, expect.stringContaining("http.server")];
    // A snapshot of /proc: wait for what was just started to have exec'd.
    const listed = await until("the three to be listed", async () => {
      const processes = (await usage(id)).processes as Listed;
      return processes.length >= 3 && processes;
    });
    expect(listed.map((entry) => entry.command)).toEqual(expect.arrayContaining(expected));
    expect(listed.every((entry) => entry.memory_bytes === null || entry.memory_bytes > 0)).toBe(true);

    expect((await server.call("DELETE", `/sessions/${id}`)).status).toBe(200);
    const alive = () => listed.filter((entry) => commandLine(entry.pid) === entry.command);
    await until("what the session left to end", () => alive().length === 0);
  }, 30_000);

  test("unknown session: 404", async () => {
    const { status, body } = await server.call("GET", "/v1/sessions/usage/no-such-session");
    expect(status).toBe(404);
    expect(body.code).toBe("SESSION_NOT_FOUND");
  });
});
