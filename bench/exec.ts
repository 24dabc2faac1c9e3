/**
 * Execution latency, in one run on one machine:
 *   (a) a trivial cell through POST /execute on a warm session (HTTP to a separate `coderunner serve`),
 *   (b) the same cell sent straight to an ipykernel over ZMQ with /usr/bin/python3 + jupyter_client (the floor),
 *   (c) session create with a warm pool, and create + first trivial execute,
 *   (d) RSS of the CodeRunner server process (kernels and Jupyter Server are separate processes, reported apart).
 * Run: `bun run bench:exec` (env BENCH_N sets the sample size).
 */
import { join } from "node:path";
import { rssBytes } from "../src/kernels/proc-stats";
import { startServeProcess } from "../test/helpers/serve-process";
import { until } from "../test/helpers/poll";
import { line, summarize } from "./stats";

const N = Number(process.env.BENCH_N ?? 200);
const SESSIONS = Number(process.env.BENCH_SESSIONS ?? 20);
const PYTHON = process.env.CODERUNNER_PYTHON ?? "/usr/bin/python3";
const CELL = "1 + 1";

// The floor: a Python process holding one kernel, which measures N round trips whenever it reads N.
const ZMQ_FLOOR = `
import json, sys, time
from jupyter_client.manager import start_new_kernel
# The same kind of kernel as CodeRunner's: history kept in memory, not written to SQLite per cell.
km, kc = start_new_kernel(kernel_name="python3", extra_arguments=["--HistoryManager.enabled=False"])
def once():
    msg_id = kc.execute(${JSON.stringify(CELL)})
    while True:
        msg = kc.get_iopub_msg(timeout=10)
        if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            break
    kc.get_shell_msg(timeout=10)
for _ in range(20): once()
print("[]", flush=True)
for line in sys.stdin:
    samples = []
    for _ in range(int(line)):
        t = time.perf_counter(); once(); samples.append((time.perf_counter() - t) * 1000)
    print(json.dumps(samples), flush=True)
kc.stop_channels(); km.shutdown_kernel(now=True)
`;

/** Starts the floor process; `measure(n)` returns n round-trip times in ms. */
async function zmqFloor() {
  const proc = Bun.spawn([PYTHON, "-c", ZMQ_FLOOR], { stdin: "pipe", stdout: "pipe", stderr: "ignore", env: { ...process.env, PYDEVD_DISABLE_FILE_VALIDATION: "1" } });
  const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let buffered = "";
  const nextLine = async (): Promise<string> => {
    for (;;) {
      const at = buffered.indexOf("\n");
      if (at >= 0) {
        const line = buffered.slice(0, at);
        buffered = buffered.slice(at + 1);
        return line;
      }
      const { done, value } = await reader.read();
      if (done) throw new Error("the jupyter_client floor process ended");
      buffered += decoder.decode(value, { stream: true });
    }
  };
  await nextLine();
  return {
    measure: async (n: number): Promise<number[]> => {
      proc.stdin.write(`${n}\n`);
      proc.stdin.flush();
      return JSON.parse(await nextLine());
    },
    stop: async () => {
      proc.stdin.end();
      await proc.exited;
    },
  };
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await fn();
  return performance.now() - started;
}

const server = await startServeProcess([process.execPath, join(import.meta.dir, "..", "src", "cli.ts")], {
  env: { CODERUNNER_KERNEL_POOL_SIZE: "2" },
});
try {
  const post = async (path: string, body: unknown) => {
    const response = await fetch(`${server.url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
    return response.json() as Promise<any>;
  };
  const idleKernels = async () => (await (await fetch(`${server.url}/health`)).json()).kernels.idle as number;
  await until("the pool to warm", async () => (await idleKernels()) >= 2, { timeoutMs: 60_000 });

  // (d) RSS with two idle kernels and no session.
  const serverRss = rssBytes(server.proc.pid)!;

  // (a) and (b), interleaved in rounds so both see the same machine.
  const floorProcess = await zmqFloor();
  const { session_id } = await post("/v1/sessions/session", {});
  for (let i = 0; i < 20; i++) await post("/execute", { command: CELL, session_id });
  const viaHTTP: number[] = [];
  const floor: number[] = [];
  const ROUNDS = 5;
  for (let round = 0; round < ROUNDS; round++) {
    for (let i = 0; i < N / ROUNDS; i++) viaHTTP.push(await timed(() => post("/execute", { command: CELL, session_id })));
    floor.push(...(await floorProcess.measure(N / ROUNDS)));
  }
  await floorProcess.stop();
  const bashHTTP: number[] = [];
  for (let i = 0; i < N; i++) bashHTTP.push(await timed(() => post("/execute", { command: "true", language: "bash", session_id })));
  await post("/kill", { session_id });

  // (c) session create with a warm pool, and create + first execute.
  const create: number[] = [];
  const createAndRun: number[] = [];
  for (let i = 0; i < SESSIONS; i++) {
    await until("the pool to refill", async () => (await idleKernels()) >= 2, { timeoutMs: 60_000 });
    let id = "";
    const total = await timed(async () => {
      create.push(await timed(async () => (id = (await post("/v1/sessions/session", {})).session_id)));
      await post("/execute", { command: CELL, session_id: id });
    });
    createAndRun.push(total);
    await post("/kill", { session_id: id });
  }

  const a = summarize(viaHTTP);
  const b = summarize(floor);
  console.log(`coderunner bench:exec — ${N} samples each, ${SESSIONS} session creations, cell ${JSON.stringify(CELL)}`);
  console.log(line("(a) POST /execute, warm Python session", viaHTTP));
  console.log(line("(b) direct ZMQ to ipykernel (jupyter_client floor)", floor));
  console.log(line("    POST /execute, bash `true`, warm shell", bashHTTP));
  console.log(line("(c) session create (warm pool)", create));
  console.log(line("(c) session create + first trivial execute", createAndRun));
  console.log(`ratio a/b (median)                                   ${(a.median / b.median).toFixed(2)}   (target ≤ 1.5)`);
  console.log(`ratio a/b (p95)                                      ${(a.p95 / b.p95).toFixed(2)}`);
  console.log(`create + first execute median                        ${summarize(createAndRun).median.toFixed(1)} ms   (target ≤ 50 ms)`);
  console.log(`(d) server RSS, 2 idle kernels (kernels excluded)    ${(serverRss / 1024 / 1024).toFixed(1)} MiB   (target ≤ 100 MiB)`);
} finally {
  server.proc.kill("SIGTERM");
  await server.proc.exited;
  await server.cleanup();
}
