/**
 * `npm run bench:sandboxes`: how fast a session gets its own sandbox, and what an idle one costs.
 *
 * (a) time to interactive: `POST /v1/sessions/session`, then the first `print(1)` result, one after
 *     another (the warm pool full before each), n = BENCH_TTI_RUNS (default 20): median and p95;
 * (b) a burst of 10 concurrent creates + first results with the default pool (2): median and slowest;
 * (c) baseline: the same image started bare with the Engine (create, start, wait) running
 *     `python3 -c 'print(1)'`: the floor of starting this container and a Python in it at all;
 * (d) memory of an idle sandbox, from its container's cgroup (usage less reclaimable page cache,
 *     as `docker stats` shows it): warm ones and a claimed session after its first run; how many fit
 *     in this machine's memory.
 *
 * Everything through a host started in this process on a port of its own, with its own instance
 * name, and an image built from this checkout (CODERUNNER_IMAGE, default `coderunner-bench:latest`).
 * Targets (issue 10): (a) median ≤ 50 ms; (b) median ≤ 1.5 s; (d) ≤ 150 MiB.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../src/config";
import { LABEL } from "../src/docker/container-spec";
import { DockerClient } from "../src/docker/docker-client";
import { ImageBuilder } from "../src/docker/image-builder";
import { startHostMode } from "../src/host/host-mode";
import { silentLogger } from "../src/log";
import { bareRun, loadAverage, median, p95 } from "./stats";

const RUNS = Number.parseInt(process.env.BENCH_TTI_RUNS ?? "20", 10);
const BURST = 10;
const MiB = 1024 * 1024;
const NAME = `crbench-${process.pid}`;
const IMAGE = process.env.CODERUNNER_IMAGE ?? "coderunner-bench:latest";
const stateHome = mkdtempSync(join(tmpdir(), "coderunner-bench-"));
const docker = new DockerClient();

const ms = (value: number) => `${value.toFixed(1)} ms`;
const load = loadAverage;

console.log(`Building ${IMAGE} from this checkout (cached layers: seconds) ...`);
await new ImageBuilder({ docker, image: IMAGE }).buildImage(() => {});
const config = loadConfig(process.env, { port: 0, host: "127.0.0.1", image: IMAGE, containerName: NAME, containerPort: 0, apiKey: undefined });
const host = await startHostMode(config, { log: silentLogger, diskDir: join(stateHome, "disks"), settings: { labels: { "org.coderunner.bench": "1" } } });
const base = host.url;

async function post(path: string, body: unknown): Promise<any> {
  const response = await fetch(`${base}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const parsed = await response.json();
  if (!response.ok) throw new Error(`${path}: ${response.status} ${JSON.stringify(parsed)}`);
  return parsed;
}

/** Create a session and run `print(1)` in it: milliseconds to the result. */
async function createAndRun(): Promise<{ ms: number; id: string }> {
  const started = performance.now();
  const { session_id } = await post("/v1/sessions/session", {});
  const result = await post("/execute", { command: "print(1)", session_id });
  if (result.stdout !== "1\n") throw new Error(`unexpected result ${JSON.stringify(result)}`);
  return { ms: performance.now() - started, id: session_id };
}

const close = (id: string) => fetch(`${base}/sessions/${id}`, { method: "DELETE" }).then((response) => response.body?.cancel());

async function poolFull(): Promise<void> {
  await host.manager.warm();
  for (;;) {
    const { ready, size, starting } = host.manager.stats().pool;
    if (ready >= size && starting === 0) return;
    await Bun.sleep(50);
  }
}

const baseline = () => bareRun(docker, IMAGE, `${NAME}-baseline`, { memoryMB: config.memoryMB, cpus: Math.min(config.cpus, 2) });

async function memoryOf(id: string): Promise<number> {
  return (await host.backend.usage(id)).memoryBytes ?? Number.NaN;
}

try {
  console.log(`Pool ${config.poolSize}; sandbox limits ${config.memoryMB} MiB, ${config.cpus} CPUs, disk ${config.diskMB} MiB (${host.backend.diskCap.mechanism}); load average ${load()}.`);
  const info = await docker.info();

  // (c) first, on a quiet pool.
  await poolFull();
  const bases: number[] = [];
  for (let i = 0; i < 5; i++) bases.push(await baseline());
  const b = median(bases);

  // (d) idle memory: the warm ones, then a claimed session after its first run (measured a few seconds later).
  await poolFull();
  await Bun.sleep(3000);
  const warm = (await host.backend.list()).filter((sandbox) => sandbox.role === "session");
  const warmMemory = await Promise.all(warm.map((sandbox) => memoryOf(sandbox.id)));
  const claimed = await createAndRun();
  await Bun.sleep(3000);
  const claimedMemory = await memoryOf(host.manager.find(claimed.id)!.sandbox.id);
  await close(claimed.id);

  // (a) one after another, the pool full before each.
  const tti: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    await poolFull();
    const run = await createAndRun();
    tti.push(run.ms);
    await close(run.id);
  }

  // (b) a burst of ten at once with the default pool.
  await poolFull();
  const burst = await Promise.all(Array.from({ length: BURST }, () => createAndRun()));
  const burstMs = burst.map((run) => run.ms);
  await Promise.all(burst.map((run) => close(run.id)));

  const idle = median([...warmMemory, claimedMemory].filter(Number.isFinite));
  const fits = Math.floor(info.MemTotal / idle);
  console.log("");
  console.log("| measure | median | other | target |");
  console.log("|---|---|---|---|");
  console.log(`| (a) create + first result, warm pool, n=${RUNS} | ${ms(median(tti))} | p95 ${ms(p95(tti))}; ${(median(tti) / b).toFixed(3)}× baseline | ≤ 50 ms: ${median(tti) <= 50 ? "met" : "NOT met"} |`);
  console.log(`| (b) burst of ${BURST}, create + first result | ${ms(median(burstMs))} | slowest ${ms(Math.max(...burstMs))}; fastest ${ms(Math.min(...burstMs))} | ≤ 1.5 s: ${median(burstMs) <= 1500 ? "met" : "NOT met"} |`);
  console.log(`| (c) baseline: bare docker run of python3 -c 'print(1)' | ${ms(b)} | runs ${bases.map((v) => v.toFixed(0)).join(", ")} ms | |`);
  console.log(
    `| (d) memory per idle sandbox | ${(idle / MiB).toFixed(0)} MiB | warm ${warmMemory.map((v) => (v / MiB).toFixed(0)).join(", ")} MiB, claimed after a run ${(claimedMemory / MiB).toFixed(0)} MiB; ${fits} fit in ${(info.MemTotal / 1024 ** 3).toFixed(1)} GiB | ≤ 150 MiB: ${idle <= 150 * MiB ? "met" : "NOT met"} |`,
  );
  console.log(`\nLoad average at the end: ${load()}.`);
} finally {
  await host.stop();
  for (const container of await docker.listContainers({ all: true, filters: { label: [`${LABEL.instance}=${NAME}`] } })) await host.backend.remove(container.Id).catch(() => undefined);
  await docker.removeContainer(`${NAME}-baseline`, { force: true }).catch(() => undefined);
  rmSync(stateHome, { recursive: true, force: true });
}
