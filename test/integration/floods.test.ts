/**
 * Output floods and standard input against a real `coderunner serve` process (its own Jupyter
 * Server, kernels and shells), the way an agent's worst loop meets it: a run that floods stdout or
 * stderr answers with the first CODERUNNER_OUTPUT_LIMIT_BYTES and `truncated`, is interrupted on its
 * timeout and keeps the session's state, through `/execute`, the stream endpoint and async tasks.
 * The server's memory during a flood and the time it takes to answer are printed (the memory
 * is also held to a loose bound: without the kernel's own cap it grew by over 500 MB). Code that
 * reads stdin gets EOF at once.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { startServeProcess, type ServeProcess } from "../helpers/serve-process";

const CLI = [process.execPath, `${import.meta.dir}/../../src/cli.ts`];
const CAP = 1024 * 1024;
const MiB = 1024 * 1024;
/** Short: a flood is stopped by its timeout, and what is asserted does not depend on its length. */
const FLOOD_TIMEOUT = 3;

let server: ServeProcess;
let session: string;

beforeAll(async () => {
  server = await startServeProcess(CLI, { env: { CODERUNNER_OUTPUT_LIMIT_BYTES: String(CAP) } });
  session = (await server.post("/v1/sessions/session", {})).session_id;
  expect((await run("kept = 41")).status).toBe("ok");
  expect((await run("export KEPT=42", { language: "bash" })).status).toBe("ok");
}, 120_000);

afterAll(async () => {
  await server?.cleanup();
});

function run(command: string, extra: Record<string, unknown> = {}): Promise<any> {
  return server.post("/execute", { command, session_id: session, timeout: 30, ...extra });
}

/** The session's Python variable and shell export set before the floods, read by fresh runs. */
async function expectStateKept(): Promise<void> {
  const python = await run("print(kept)");
  expect(python).toMatchObject({ stdout: "41\n", status: "ok", state_lost: false, truncated: false });
  const bash = await run("echo $KEPT", { language: "bash" });
  expect(bash).toMatchObject({ stdout: "42\n", status: "ok", state_lost: false, truncated: false });
}

/** A stream's text without CodeRunner's sentence on how the run ended (stderr ends with it). */
function withoutNotice(text: string): string {
  const at = text.lastIndexOf("\nExecution timed out");
  return at >= 0 ? text.slice(0, at) : text;
}

/** A timed-out flood's answer: the cap's worth of `unit`s in `stream`, flagged truncated. */
function expectFlood(result: any, stream: "stdout" | "stderr", unit: RegExp): void {
  expect(result.status).toBe("timeout");
  expect(result.truncated).toBe(true);
  expect(result.stderr).toContain(`Execution timed out after ${FLOOD_TIMEOUT} s`);
  const flood = withoutNotice(result[stream]);
  expect(Buffer.byteLength(flood)).toBe(CAP);
  expect(unit.test(flood)).toBe(true);
}

describe("an output flood keeps the session's state", () => {
  test("Python printing in a tight loop, with no sleep", async () => {
    expectFlood(await run("while True: print('x' * 10000)", { timeout: FLOOD_TIMEOUT }), "stdout", /^[x\n]+$/);
    await expectStateKept();
  });

  test("Python flooding stderr", async () => {
    const result = await run("import sys\nwhile True: print('e' * 10000, file=sys.stderr)", { timeout: FLOOD_TIMEOUT });
    expectFlood(result, "stderr", /^[e\n]+$/);
    expect(result.stdout).toBe("");
    await expectStateKept();
  });

  test("a subprocess flooding a Python cell: `!yes` and subprocess.run(['yes'])", async () => {
    expectFlood(await run("!yes", { timeout: FLOOD_TIMEOUT }), "stdout", /^[y\n]+$/);
    await expectStateKept();
    expectFlood(await run("import subprocess\nsubprocess.run(['yes'])", { timeout: FLOOD_TIMEOUT }), "stdout", /^[y\n]+$/);
    await expectStateKept();
  });

  test("Python displaying rich outputs in a loop: results up to the cap", async () => {
    const result = await run("from IPython.display import HTML, display\nwhile True: display(HTML('<b>' + 'y' * 5000 + '</b>'))", { timeout: FLOOD_TIMEOUT });
    expect(result).toMatchObject({ status: "timeout", truncated: true });
    const bytes = result.results.reduce((sum: number, item: Record<string, string>) => sum + Object.values(item).reduce((n, value) => n + Buffer.byteLength(value), 0), 0);
    expect(bytes).toBeGreaterThan(CAP - 20_000);
    expect(bytes).toBeLessThanOrEqual(CAP);
    await expectStateKept();
  });

  test("bash `yes`, on stdout and on stderr", async () => {
    expectFlood(await run("yes", { language: "bash", timeout: FLOOD_TIMEOUT }), "stdout", /^[y\n]+$/);
    await expectStateKept();
    expectFlood(await run("yes >&2", { language: "bash", timeout: FLOOD_TIMEOUT }), "stderr", /^[y\n]+$/);
    await expectStateKept();
  });

  test("bash output that fills the cap exactly, then more: truncated", async () => {
    const result = await run(`head -c ${CAP} /dev/zero | tr '\\0' a; sleep 0.3; echo more`, { language: "bash" });
    expect(result).toMatchObject({ status: "ok", truncated: true });
    expect(result.stdout).toBe("a".repeat(CAP));
  });

  test("bash output made of the end marker's first byte ends when the command does", async () => {
    // A run whose output ends with what could start the marker waits for more, not in a loop that
    // starves the server (which then never answered again).
    expect(await run("printf '\\036'; sleep 0.3; echo after", { language: "bash" })).toMatchObject({ stdout: "\x1eafter\n", status: "ok" });
    const flood = await run("head -c 3000000 /dev/zero | tr '\\0' '\\036'; echo done >&2", { language: "bash" });
    expect(flood).toMatchObject({ status: "ok", truncated: true, exit_code: 0 });
    expect(flood.stdout).toBe("\x1e".repeat(CAP));
    await expectStateKept();
  });

  test("the stream endpoint: the cap's worth of stdout events, then `done` with truncated", async () => {
    const response = await fetch(`${server.url}/execute/stream`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ command: "while True: print('x' * 10000)", session_id: session, timeout: FLOOD_TIMEOUT }),
    });
    expect(response.status).toBe(200);
    const events = (await response.text())
      .split("\n\n")
      .map((block) => ({ event: /^event: (.*)$/m.exec(block)?.[1], data: /^data: (.*)$/m.exec(block)?.[1] }))
      .filter((item) => item.event && item.data !== undefined)
      .map((item) => ({ event: item.event!, data: JSON.parse(item.data!) }));
    const streamed = events.filter((item) => item.event === "stdout").reduce((sum, item) => sum + Buffer.byteLength(item.data.text), 0);
    expect(streamed).toBe(CAP);
    const done = events.at(-1)!;
    expect(done.event).toBe("done");
    expectFlood(done.data, "stdout", /^[x\n]+$/);
    await expectStateKept();
  });

  test("an async task: the same answer in its result and serialized_stdout", async () => {
    const { task_id } = await server.post("/execute_async", { command: "while True: print('x' * 10000)", session_id: session, timeout: FLOOD_TIMEOUT });
    let task: any;
    for (;;) {
      task = await (await fetch(`${server.url}/v1/executions/${task_id}`)).json();
      if (task.is_complete) break;
      expect(Buffer.byteLength(task.serialized_stdout ?? "")).toBeLessThanOrEqual(CAP);
      await Bun.sleep(100);
    }
    expect(task.status).toBe("timeout");
    expectFlood(task.result, "stdout", /^[x\n]+$/);
    expect(Buffer.byteLength(task.serialized_stdout)).toBe(CAP);
    await expectStateKept();
  });
});

/** The server process's resident memory, from /proc. */
function rssBytes(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8").match(/^VmRSS:\s+(\d+) kB$/m);
  return Number(line![1]) * 1024;
}

/** Runs a 10 s flood while sampling the server's RSS every 50 ms; prints the figures and returns the growth. */
async function measureFlood(what: string, command: string, language: string): Promise<number> {
  const pid = server.proc.pid;
  const before = rssBytes(pid);
  let peak = before;
  const sampler = setInterval(() => {
    peak = Math.max(peak, rssBytes(pid));
  }, 50);
  const started = performance.now();
  const result = await run(command, { language, timeout: 10 });
  const answeredMs = performance.now() - started;
  clearInterval(sampler);
  expectFloodOf10s(result);
  console.log(
    `flood figure (${what}, 10 s timeout): ${Buffer.byteLength(result.stdout)} bytes returned, truncated ${result.truncated}, ` +
      `answered after ${(answeredMs / 1000).toFixed(2)} s; server RSS ${(before / MiB).toFixed(0)} MiB before, peak ${(peak / MiB).toFixed(0)} MiB during`,
  );
  return peak - before;
}

function expectFloodOf10s(result: any): void {
  expect(result).toMatchObject({ status: "timeout", truncated: true, state_lost: false });
  expect(Buffer.byteLength(result.stdout)).toBe(CAP);
}

describe("the server's memory during a 10 s flood", () => {
  test("stays within a bound for Python and for bash", async () => {
    const python = await measureFlood("Python print loop", "while True: print('x' * 10000)", "python");
    const bash = await measureFlood("bash yes", "yes", "bash");
    expect(python).toBeLessThan(256 * MiB);
    expect(bash).toBeLessThan(256 * MiB);
    await expectStateKept();
  }, 60_000);
});

describe("a run has no standard input: readers get EOF at once", () => {
  test("input() raises EOFError after printing its prompt", async () => {
    const result = await run("name = input('name? ')");
    expect(result).toMatchObject({ status: "error", stdout: "name? ", error: { ename: "EOFError", evalue: "EOF when reading a line" } });
  });

  test("`!cat` and `!read` in a Python cell end at once, as at the end of input", async () => {
    const result = await run("!cat; echo \"cat $?\"; read line; echo \"read $?\"");
    expect(result).toMatchObject({ status: "ok", stdout: "cat 0\nread 1\n" });
  });

  test("a subprocess and sys.stdin read nothing", async () => {
    const result = await run("import subprocess, sys\nprint(subprocess.run(['cat'], capture_output=True).returncode, repr(sys.stdin.read()))");
    expect(result).toMatchObject({ status: "ok", stdout: "0 ''\n" });
  });

  test("bash `read` and `cat` get EOF", async () => {
    const result = await run("read line; echo \"read $?\"; cat; echo \"cat $?\"", { language: "bash" });
    expect(result).toMatchObject({ status: "ok", stdout: "read 1\ncat 0\n", exit_code: 0 });
  });

  test("`!cmd` keeps IPython's contract: $variables, _exit_code, line ends as written", async () => {
    expect(await run("word = 'hello'\n!echo $word; exit 3")).toMatchObject({ status: "ok", stdout: "hello\n" });
    expect(await run("print(_exit_code)")).toMatchObject({ stdout: "3\n" });
    expect((await run("!echo x &")).error).toMatchObject({ ename: "OSError", evalue: "Background processes not supported." });
  });
});
