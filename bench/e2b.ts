/**
 * `bun bench/e2b.ts`: what the E2B surface adds. Alternating runs, the warm pool full before each:
 * (a) the unchanged `@e2b/code-interpreter` SDK: `Sandbox.create()`, then `runCode("print(1)")`;
 * (b) the same through CodeRunner's own API: `POST /v1/sessions/session`, then `POST /execute`.
 * n = BENCH_E2B_RUNS (default 10): medians and the difference. Issue 14's target: (a) − (b) ≤ 10 ms.
 * Then, in each E2B sandbox, `createCodeContext()` and a first `runCode` in it (a kernel of its own),
 * against a second `runCode` in the default context.
 * Also the SDK's own client-side cost, which is not CodeRunner's: the same two calls, SDK against two
 * plain fetches, on a stub server that answers at once.
 * A host started in this process with its own instance name, on the image CODERUNNER_IMAGE
 * (default the test image `coderunner-test:ci`, which `bun test` builds).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Sandbox } from "@e2b/code-interpreter";
import { loadConfig } from "../src/config";
import { LABEL } from "../src/docker/container-spec";
import { DockerClient } from "../src/docker/docker-client";
import { startHostMode } from "../src/host/host-mode";
import { silentLogger } from "../src/log";
import { loadAverage, median } from "./stats";

const RUNS = Number.parseInt(process.env.BENCH_E2B_RUNS ?? "10", 10);
const IMAGE = process.env.CODERUNNER_IMAGE ?? "coderunner-test:ci";
const NAME = `crbench-e2b-${process.pid}`;
const docker = new DockerClient();
const stateHome = mkdtempSync(join(tmpdir(), "coderunner-bench-e2b-"));
const config = loadConfig(process.env, { port: 0, host: "127.0.0.1", image: IMAGE, containerName: NAME, containerPort: 0, apiKey: undefined, poolSize: 1 });
const host = await startHostMode(config, { log: silentLogger, docker, diskDir: join(stateHome, "disks"), settings: { labels: { "org.coderunner.bench": "1" } } });
const e2b = { apiUrl: `${host.url}/e2b`, sandboxUrl: `${host.url}/e2b`, apiKey: "bench", requestTimeoutMs: 600_000 };

async function post(path: string, body: unknown): Promise<any> {
  const response = await fetch(`${host.url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
  return response.json();
}

/** Median ms the SDK's create + runCode take beyond two plain fetches, against a stub that answers at once. */
async function sdkClientCost(runs = 50): Promise<number> {
  const stub = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(request) {
      await request.arrayBuffer();
      const path = new URL(request.url).pathname;
      if (path === "/e2b/v2/sandboxes") return Response.json({ sandboxID: "stub", templateID: "base", clientID: "stub", envdVersion: "0.5.6", envdAccessToken: "stub" }, { status: 201 });
      if (path === "/e2b/execute") return new Response(`${['{"type":"stdout","text":"1\\n","timestamp":"2026-01-01T00:00:00Z"}', '{"type":"number_of_executions","execution_count":1}', '{"type":"end_of_execution"}'].join("\n")}\n`);
      return Response.json(path === "/session" ? { session_id: "stub", status: "active" } : { stdout: "1\n" });
    },
  });
  const url = `http://127.0.0.1:${stub.port}`;
  const plain = (path: string, body: unknown) => fetch(`${url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) }).then((response) => response.json());
  const extra: number[] = [];
  try {
    for (let run = 0; run < runs; run++) {
      let started = performance.now();
      const sandbox = await Sandbox.create({ apiUrl: `${url}/e2b`, sandboxUrl: `${url}/e2b`, apiKey: "stub" });
      const execution = await sandbox.runCode("print(1)");
      const sdk = performance.now() - started;
      if (execution.logs.stdout.join("") !== "1\n") throw new Error(`stub: unexpected ${JSON.stringify(execution.toJSON())}`);
      started = performance.now();
      await plain("/session", {});
      await plain("/execute", { command: "print(1)", session_id: "stub" });
      extra.push(sdk - (performance.now() - started));
    }
  } finally {
    stub.stop(true);
  }
  return median(extra.slice(10)); // the first runs warm up the JIT and the connections
}

/** Milliseconds to create, then to the first result. */
interface Phases {
  create: number;
  first: number;
}

/** Milliseconds of a second run in the default context, of creating a context, and of its first run. */
interface ContextPhases {
  again: number;
  context: number;
  inContext: number;
}

const contextRuns: ContextPhases[] = [];

async function viaE2B(): Promise<Phases> {
  const started = performance.now();
  const sandbox = await Sandbox.create(e2b);
  const created = performance.now();
  const execution = await sandbox.runCode("print(1)");
  const done = performance.now();
  if (execution.logs.stdout.join("") !== "1\n") throw new Error(`unexpected ${JSON.stringify(execution.toJSON())}`);
  await sandbox.runCode("print(2)");
  const again = performance.now();
  const context = await sandbox.createCodeContext();
  const opened = performance.now();
  const inContext = await sandbox.runCode("print(3)", { context });
  if (inContext.logs.stdout.join("") !== "3\n") throw new Error(`context: unexpected ${JSON.stringify(inContext.toJSON())}`);
  contextRuns.push({ again: again - done, context: opened - again, inContext: performance.now() - opened });
  await sandbox.kill();
  return { create: created - started, first: done - created };
}

async function viaCodeRunner(): Promise<Phases> {
  const started = performance.now();
  const { session_id } = await post("/v1/sessions/session", {});
  const created = performance.now();
  const result = await post("/execute", { command: "print(1)", session_id });
  const done = performance.now();
  if (result.stdout !== "1\n") throw new Error(`unexpected ${JSON.stringify(result)}`);
  await host.manager.close(session_id);
  return { create: created - started, first: done - created };
}

try {
  const e2bRuns: Phases[] = [];
  const ownRuns: Phases[] = [];
  for (let run = 0; run < RUNS; run++) {
    await host.manager.warm();
    e2bRuns.push(await viaE2B());
    await host.manager.warm();
    ownRuns.push(await viaCodeRunner());
  }
  const of = (runs: Phases[], phase?: keyof Phases) => median(runs.map((run) => (phase ? run[phase] : run.create + run.first)));
  const [a, b] = [of(e2bRuns), of(ownRuns)];
  console.log(`load ${loadAverage()} · n = ${RUNS} each, alternating, warm pool before each`);
  console.log(`(a) E2B Sandbox.create + runCode:        median ${a.toFixed(1)} ms (create ${of(e2bRuns, "create").toFixed(1)}, runCode ${of(e2bRuns, "first").toFixed(1)})`);
  console.log(`(b) CodeRunner session + /execute:        median ${b.toFixed(1)} ms (create ${of(ownRuns, "create").toFixed(1)}, execute ${of(ownRuns, "first").toFixed(1)})`);
  console.log(`(a) − (b): ${(a - b).toFixed(1)} ms (target ≤ 10 ms)`);
  const context = (phase: keyof ContextPhases) => median(contextRuns.map((run) => run[phase]));
  console.log(
    `createCodeContext: median ${context("context").toFixed(1)} ms, then its first runCode ${context("inContext").toFixed(1)} ms; a second runCode in the default context ${context("again").toFixed(1)} ms`,
  );
  console.log(`of which the SDK's own client-side cost (stub server): ${(await sdkClientCost()).toFixed(2)} ms`);
} finally {
  await host.manager.removeAll();
  await host.stop();
  for (const container of await docker.listContainers({ all: true, filters: { label: [`${LABEL.instance}=${NAME}`] } })) await host.backend.remove(container.Id).catch(() => undefined);
  rmSync(stateHome, { recursive: true, force: true });
}
