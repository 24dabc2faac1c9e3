import { readFileSync } from "node:fs";
import type { DockerClient } from "../src/docker/docker-client";

/** Median and p95 of a sample (nearest rank), and a fixed-width line for reports. */
export function summarize(samples: number[]): { median: number; p95: number; n: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
  return { median: at(0.5), p95: at(0.95), n: sorted.length };
}

export function line(label: string, samples: number[], unit = "ms"): string {
  const { median, p95, n } = summarize(samples);
  return `${label.padEnd(52)} median ${median.toFixed(2).padStart(8)} ${unit}   p95 ${p95.toFixed(2).padStart(8)} ${unit}   (n=${n})`;
}

/** The middle value (the mean of the two middle ones for an even count). */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** The 95th percentile (nearest rank). */
export function p95(values: number[]): number {
  return summarize(values).p95;
}

/** The load averages (1, 5, 15 minutes): the figures scale with how busy the machine is. */
export function loadAverage(): string {
  try {
    return readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
  } catch {
    return "n/a";
  }
}

/**
 * The floor of starting a container of `image` and a Python in it at all: create, start and wait
 * for `python3 -c 'print(1)'`, with the given limits. Milliseconds; the container is removed.
 */
export async function bareRun(docker: DockerClient, image: string, name: string, limits: { memoryMB: number; cpus: number }): Promise<number> {
  const started = performance.now();
  const { Id } = await docker.createContainer(name, {
    Image: image,
    Entrypoint: ["python3", "-c", "print(1)"],
    Cmd: [],
    HostConfig: { Memory: limits.memoryMB * 1024 * 1024, NanoCpus: Math.round(limits.cpus * 1e9), CapDrop: ["ALL"] },
  });
  try {
    await docker.startContainer(Id);
    const { StatusCode } = await docker.waitContainer(Id);
    if (StatusCode !== 0) throw new Error(`the bare container exited ${StatusCode}`);
    return performance.now() - started;
  } finally {
    await docker.removeContainer(Id, { force: true });
  }
}
