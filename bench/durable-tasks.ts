/**
 * What durable async tasks cost, against a separate `coderunner serve` per store:
 *   (a) round trip of POST /execute_async + polling GET /v1/executions/{id} until complete (no pause
 *       between polls), for a trivial cell and for one printing 1000 lines (100 kB written through),
 *       with tasks.db on disk against the same SQLite store in memory (CODERUNNER_STATE_DIR=:memory:)
 *       and, given BENCH_BASELINE=<checkout>, that checkout's server (before durable tasks: a Map);
 *   (b) the store alone, in this process: create, 20 chunks of output, complete, read back, on disk
 *       against in memory.
 * Servers take turns task by task, so drift in the machine's load hits each alike.
 * Run: `bun run bench:durable` (env BENCH_N tasks per cell and server, BENCH_ROUNDS of the store alone, BENCH_BASELINE).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TaskStore } from "../src/tasks/task-store";
import { executionResult } from "../test/helpers/results";
import { type ServeProcess, startServeProcess } from "../test/helpers/serve-process";
import { until } from "../test/helpers/poll";
import { line, loadAverage, summarize } from "./stats";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const N = Number(process.env.BENCH_N ?? 200);
const BASELINE = process.env.BENCH_BASELINE;
const CELLS = {
  trivial: "1",
  "1000 lines": "for i in range(1000): print('x' * 99)",
};

const cli = (checkout: string) => [process.execPath, join(checkout, "src", "cli.ts")];
const here = join(import.meta.dir, "..");
const targets: { name: string; command: string[]; env: Record<string, string> }[] = [
  { name: "sqlite in memory", command: cli(here), env: { CODERUNNER_STATE_DIR: ":memory:" } },
  { name: "sqlite on disk (tasks.db)", command: cli(here), env: {} },
  ...(BASELINE ? [{ name: "baseline checkout (a Map)", command: cli(BASELINE), env: {} }] : []),
];

async function roundTrip(server: ServeProcess, command: string): Promise<number> {
  const started = performance.now();
  const { task_id } = await server.post("/execute_async", { command });
  for (;;) {
    const task = (await (await fetch(`${server.url}/v1/executions/${task_id}`)).json()) as any;
    if (task.is_complete) {
      if (task.status !== "completed") throw new Error(`task ${task.status}: ${task.serialized_stderr}`);
      return performance.now() - started;
    }
  }
}

/** Microseconds per task of the store alone: create, 20 output chunks, a flush, complete, read back. */
function storeOnly(path: string, tasks: number): number {
  const store = new TaskStore({ path, retentionMs: 3_600_000, maxTasks: 100_000, maxBytes: 1 << 30 });
  store.open();
  const result = executionResult({ stdout: "x".repeat(2000) });
  const started = performance.now();
  for (let i = 0; i < tasks; i++) {
    const task = store.create("s", "python");
    for (let j = 0; j < 20; j++) store.record(task, { type: "stdout", text: "x".repeat(100) });
    store.flush();
    store.complete(task, result);
    store.get(task.id);
  }
  const perTask = ((performance.now() - started) * 1000) / tasks;
  store.close();
  return perTask;
}

const servers = await Promise.all(targets.map((target) => startServeProcess(target.command, { env: { CODERUNNER_KERNEL_POOL_SIZE: "1", ...target.env } })));
const dir = mkdtempSync(join(tmpdir(), "coderunner-bench-durable-"));
try {
  for (const server of servers) {
    await until("the pool to warm", async () => ((await (await fetch(`${server.url}/health`)).json()) as any).kernels.idle >= 1, { timeoutMs: 60_000 });
    for (let i = 0; i < 5; i++) for (const cell of Object.values(CELLS)) await roundTrip(server, cell);
  }
  const samples = targets.map(() => Object.fromEntries(Object.keys(CELLS).map((name) => [name, [] as number[]])));
  for (let i = 0; i < N; i++) {
    for (const [index, server] of servers.entries()) {
      for (const [name, cell] of Object.entries(CELLS)) samples[index]![name]!.push(await roundTrip(server, cell));
    }
  }
  const store = { memory: [] as number[], disk: [] as number[] };
  storeOnly(":memory:", 500); // compiles the store's code paths
  for (let round = 0; round < ROUNDS; round++) {
    store.memory.push(storeOnly(":memory:", 500));
    store.disk.push(storeOnly(join(dir, `round-${round}.db`), 500));
  }

  console.log(`coderunner bench:durable — ${N} tasks per cell and server, load average ${loadAverage()}`);
  for (const name of Object.keys(CELLS)) {
    console.log(`(a) execute_async round trip, cell ${JSON.stringify(name)}`);
    targets.forEach((target, index) => console.log(line(`    ${target.name}`, samples[index]![name]!)));
    const median = (index: number) => summarize(samples[index]![name]!).median;
    console.log(`    ratio on disk / in memory (median)                 ${(median(1) / median(0)).toFixed(3)}`);
    if (BASELINE) console.log(`    ratio on disk / baseline (median)                  ${(median(1) / median(2)).toFixed(3)}`);
  }
  console.log("(b) the store alone: create, 20 chunks, flush, complete, read back (per task)");
  console.log(line("    in memory", store.memory, "µs"));
  console.log(line("    on disk", store.disk, "µs"));
  console.log(`    ratio on disk / in memory (median)                 ${(summarize(store.disk).median / summarize(store.memory).median).toFixed(3)}`);
} finally {
  for (const server of servers) await server.cleanup();
  rmSync(dir, { recursive: true, force: true });
}
