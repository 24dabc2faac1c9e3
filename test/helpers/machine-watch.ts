import { readdirSync, readFileSync } from "node:fs";
import { cpuSeconds } from "../../src/kernels/proc-stats";

/**
 * What the whole machine did while a long test ran, sampled every few seconds from Linux's /proc:
 * load, available memory, and which processes (anywhere on the machine, not only the test's) used the
 * CPU. A slow or stuck run then says whether its server was busy, starved by something else, or short
 * of memory, instead of only timing out.
 */

interface Sample {
  at: number;
  load: string;
  availableMiB: number;
  /** What the test counted so far (requests sent, say). */
  progress: string;
  /** CPU seconds used since the previous sample, by "name pid", busiest first. */
  busiest: [string, number][];
}

/** CPU seconds used so far by every process, by pid, with its command name (which a kernel worker changes as it goes). */
function cpuByProcess(): Map<number, { name: string; seconds: number }> {
  const used = new Map<number, { name: string; seconds: number }>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "latin1");
      const seconds = cpuSeconds(Number(entry));
      if (seconds !== null) used.set(Number(entry), { name: stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")), seconds });
    } catch {
      // The process ended while we looked.
    }
  }
  return used;
}

function availableMiB(): number {
  const match = /^MemAvailable:\s+(\d+) kB/m.exec(readFileSync("/proc/meminfo", "latin1"));
  return match ? Math.round(Number(match[1]) / 1024) : -1;
}

export class MachineWatch {
  private readonly samples: Sample[] = [];
  private readonly started = performance.now();
  private last = cpuByProcess();
  private readonly timer: ReturnType<typeof setInterval>;

  constructor(
    private readonly progress: () => string,
    everyMs = 5000,
  ) {
    this.timer = setInterval(() => this.sample(), everyMs);
    this.timer.unref?.();
  }

  private sample(): void {
    const now = cpuByProcess();
    const busiest = [...now]
      .map(([pid, { name, seconds }]): [string, number] => [`${name} ${pid}`, seconds - (this.last.get(pid)?.seconds ?? 0)])
      .filter(([, used]) => used >= 0.2)
      .sort(([, a], [, b]) => b - a)
      .slice(0, 5);
    this.last = now;
    this.samples.push({
      at: performance.now() - this.started,
      load: readFileSync("/proc/loadavg", "latin1").split(" ").slice(0, 3).join(" "),
      availableMiB: availableMiB(),
      progress: this.progress(),
      busiest,
    });
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** One line per sample: seconds in, progress, load, free memory, the busiest processes. */
  report(): string {
    return this.samples
      .map(({ at, load, availableMiB, progress, busiest }) => {
        const cpu = busiest.map(([name, used]) => `${name} ${used.toFixed(1)}`).join(", ") || "idle";
        return `  ${(at / 1000).toFixed(0).padStart(4)} s  ${progress}  load ${load}  ${availableMiB} MiB free  cpu: ${cpu}`;
      })
      .join("\n");
  }
}
