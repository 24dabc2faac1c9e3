/**
 * Async runs and streaming, in one run on one machine, against a separate `coderunner serve`:
 *   (a) throughput: the same tasks spread over 8 sessions, submitted with POST /execute_async and polled
 *       until complete, against the baseline of running them one after another with POST /execute;
 *   (b) streaming first-byte latency: time to the first stdout event of POST /execute/stream for a cell
 *       that prints and then keeps working, against the total latency of the same cell via POST /execute
 *       (what a client waits before it sees anything without streaming).
 * Medians over rounds/samples. Run: `bun run bench:async` (env BENCH_ROUNDS, BENCH_TASKS, BENCH_N, BENCH_CELL).
 */
import { join } from "node:path";
import { startServeProcess } from "../test/helpers/serve-process";
import { until } from "../test/helpers/poll";
import { line, summarize } from "./stats";

const SESSIONS = 8;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const TASKS = Number(process.env.BENCH_TASKS ?? 160);
const N = Number(process.env.BENCH_N ?? 30);
const TASK_CELL = process.env.BENCH_CELL ?? "sum(i * i for i in range(20000))";
const STREAM_CELL = "import time\nprint('first', flush=True)\ntime.sleep(0.25)\nprint('last')";

const server = await startServeProcess([process.execPath, join(import.meta.dir, "..", "src", "cli.ts")], {
  env: { CODERUNNER_KERNEL_POOL_SIZE: "2" },
});

const post = async (path: string, body: unknown) => {
  const response = await fetch(`${server.url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
  return response.json() as Promise<any>;
};

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await fn();
  return performance.now() - started;
}

/** Runs every task one after another with POST /execute; tasks per second. */
async function syncRound(sessions: string[]): Promise<number> {
  const ms = await timed(async () => {
    for (let i = 0; i < TASKS; i++) {
      const result = await post("/execute", { command: TASK_CELL, session_id: sessions[i % SESSIONS] });
      if (result.status !== "ok") throw new Error(`sync task failed: ${result.stderr}`);
    }
  });
  return TASKS / (ms / 1000);
}

/** Submits every task with POST /execute_async, polls until all are complete; tasks per second. */
async function asyncRound(sessions: string[]): Promise<number> {
  const ms = await timed(async () => {
    const pending = new Set<string>();
    for (let i = 0; i < TASKS; i++) pending.add((await post("/execute_async", { command: TASK_CELL, session_id: sessions[i % SESSIONS] })).task_id);
    while (pending.size) {
      for (const id of [...pending]) {
        const task = (await (await fetch(`${server.url}/v1/executions/${id}`)).json()) as any;
        if (!task.is_complete) break; // tasks of a session finish in order; check again next sweep
        if (task.status !== "completed") throw new Error(`async task ${task.status}: ${task.serialized_stderr}`);
        pending.delete(id);
      }
      if (pending.size) await Bun.sleep(5);
    }
  });
  return TASKS / (ms / 1000);
}

/** Milliseconds to the first stdout event, and to the end of the stream. */
async function streamOnce(session: string): Promise<{ first: number; total: number }> {
  const started = performance.now();
  const response = await fetch(`${server.url}/execute/stream`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ command: STREAM_CELL, session_id: session }),
  });
  const decoder = new TextDecoder();
  let text = "";
  let first = 0;
  for await (const chunk of response.body as ReadableStream<Uint8Array>) {
    text += decoder.decode(chunk, { stream: true });
    if (!first && text.includes("event: stdout")) first = performance.now() - started;
  }
  if (!text.includes("event: done")) throw new Error("the stream ended without its done event");
  return { first, total: performance.now() - started };
}

try {
  await until("the pool to warm", async () => ((await (await fetch(`${server.url}/health`)).json()) as any).kernels.idle >= 2, { timeoutMs: 60_000 });
  const sessions: string[] = [];
  for (let i = 0; i < SESSIONS; i++) sessions.push((await post("/v1/sessions/session", {})).session_id);
  for (const session of sessions) await post("/execute", { command: TASK_CELL, session_id: session });

  const syncRates: number[] = [];
  const asyncRates: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    syncRates.push(await syncRound(sessions));
    asyncRates.push(await asyncRound(sessions));
  }

  const session = sessions[0]!;
  for (let i = 0; i < 3; i++) await streamOnce(session);
  const executeTotal: number[] = [];
  const streamFirst: number[] = [];
  const streamTotal: number[] = [];
  for (let i = 0; i < N; i++) {
    executeTotal.push(await timed(() => post("/execute", { command: STREAM_CELL, session_id: session })));
    const { first, total } = await streamOnce(session);
    streamFirst.push(first);
    streamTotal.push(total);
  }

  const syncMedian = summarize(syncRates).median;
  const asyncMedian = summarize(asyncRates).median;
  console.log(`coderunner bench:async — ${TASKS} tasks over ${SESSIONS} sessions × ${ROUNDS} rounds, cell ${JSON.stringify(TASK_CELL)}; ${N} streaming samples`);
  console.log(line("(a) baseline: POST /execute one after another", syncRates, "t/s"));
  console.log(line("(a) POST /execute_async across 8 sessions + polling", asyncRates, "t/s"));
  console.log(`ratio async/sync throughput (median)                 ${(asyncMedian / syncMedian).toFixed(2)}`);
  console.log(line("(b) POST /execute total (print, 250 ms work, print)", executeTotal));
  console.log(line("(b) POST /execute/stream: first stdout event", streamFirst));
  console.log(line("    POST /execute/stream: whole stream", streamTotal));
  console.log(`ratio stream first event / execute total (median)    ${(summarize(streamFirst).median / summarize(executeTotal).median).toFixed(3)}`);
  console.log(`streaming overhead on the whole run (median)         ${(summarize(streamTotal).median - summarize(executeTotal).median).toFixed(2)} ms`);
} finally {
  server.proc.kill("SIGTERM");
  await server.proc.exited;
  await server.cleanup();
}
