/**
 * `npm run bench:up`: how fast CodeRunner's container gives a first result.
 *
 * - stopped → first result: the image present and the container stopped; `up` (start + /health)
 *   then the first `POST /execute` of `print(1)`.
 * - removed → first result: the image present, no container; `up` creates it, then the first execute.
 * - baseline: the same image and limits running `python3 -c 'print(1)'` once (create, start, wait):
 *   the floor of starting this container and a Python in it at all.
 *
 * Medians of BENCH_RUNS runs (default 5), measured in-process through the same code `coderunner up`
 * runs. Uses its own container name and a port chosen by Docker; the image is CODERUNNER_IMAGE
 * (built first if absent). Target: stopped → first result ≤ 3 s.
 */
import { loadConfig } from "../src/config";
import { containerSettings } from "../src/docker/container-spec";
import { DockerClient } from "../src/docker/docker-client";
import { ContainerManager } from "../src/docker/lifecycle";
import { bareRun, loadAverage, median } from "./stats";

const RUNS = Number.parseInt(process.env.BENCH_RUNS ?? "5", 10);
const NAME = `coderunner-bench-${process.pid}`;
const config = loadConfig();
const docker = new DockerClient({ host: config.dockerHost });
const settings = { ...containerSettings(config), name: NAME, hostPort: 0, labels: { "org.coderunner.bench": "1" } };
const manager = new ContainerManager({ docker, settings });

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const load = loadAverage;

async function firstResult(): Promise<{ up: number; total: number }> {
  const started = performance.now();
  const endpoint = await manager.up();
  const up = performance.now() - started;
  const response = await fetch(`${endpoint.baseURL}/execute`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-api-key": endpoint.apiKey },
    body: JSON.stringify({ command: "print(1)" }),
  });
  const body = (await response.json()) as { stdout?: string };
  if (body.stdout !== "1\n") throw new Error(`unexpected result: ${JSON.stringify(body)}`);
  return { up, total: performance.now() - started };
}

const baseline = () => bareRun(docker, settings.image, `${NAME}-baseline`, settings);

try {
  console.log(`Image ${settings.image}; ${RUNS} runs each; limits ${settings.memoryMB} MiB, ${settings.cpus} CPUs; load average ${load()}.`);
  await manager.ensureImage((line) => !line.startsWith("  ") && console.log(line));

  const base: number[] = [];
  for (let i = 0; i < RUNS; i++) base.push(await baseline());

  const removed: { up: number; total: number }[] = [];
  for (let i = 0; i < RUNS; i++) {
    await manager.down({ remove: true });
    removed.push(await firstResult());
  }

  const stopped: { up: number; total: number }[] = [];
  for (let i = 0; i < RUNS; i++) {
    await manager.down();
    stopped.push(await firstResult());
  }

  const b = median(base);
  const row = (label: string, runs: { up: number; total: number }[]) => {
    const total = median(runs.map((r) => r.total));
    console.log(
      `${label.padEnd(28)} ${seconds(total).padStart(8)}  (up until /health ${seconds(median(runs.map((r) => r.up)))}; ${(total / b).toFixed(1)}× baseline)`,
    );
    return total;
  };
  console.log(`${"baseline (python3 -c, once)".padEnd(28)} ${seconds(b).padStart(8)}`);
  const stoppedTotal = row("stopped → first result", stopped);
  row("removed → first result", removed);
  console.log(`target stopped → first result ≤ 3 s: ${stoppedTotal <= 3000 ? "met" : "NOT met"} (load average now ${load()})`);
} finally {
  await manager.down({ remove: true }).catch(() => undefined);
  await docker.removeContainer(`${NAME}-baseline`, { force: true }).catch(() => undefined);
}
