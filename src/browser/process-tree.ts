import { readdirSync, readFileSync } from "node:fs";
import { findProcesses, rssBytes } from "../kernels/proc-stats";

/**
 * The processes of one Chromium instance, found through a marker switch on its command line (the
 * browser process) and then by parentage (zygotes, renderers, GPU and utility processes), read from
 * Linux's /proc. Elsewhere the lists are empty and the figures null.
 */

function parentOf(pid: string): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return undefined;
  }
}

/** `roots` and every process descended from them. */
export function withDescendants(roots: number[]): number[] {
  let entries: string[];
  try {
    entries = readdirSync("/proc").filter((entry) => /^\d+$/.test(entry));
  } catch {
    return roots;
  }
  const children = new Map<number, number[]>();
  for (const entry of entries) {
    const parent = parentOf(entry);
    if (parent === undefined) continue;
    const list = children.get(parent) ?? [];
    list.push(Number(entry));
    children.set(parent, list);
  }
  const result: number[] = [];
  const queue = [...roots];
  const seen = new Set<number>();
  while (queue.length) {
    const pid = queue.shift()!;
    if (seen.has(pid)) continue;
    seen.add(pid);
    result.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return result;
}

/** PIDs of the browser whose command line carries `marker`, with all its helper processes. */
export function chromiumProcesses(marker: string): number[] {
  const roots = findProcesses(marker).filter((pid) => {
    try {
      return !readFileSync(`/proc/${pid}/cmdline`, "latin1").includes("--type=");
    } catch {
      return false;
    }
  });
  return withDescendants(roots);
}

/** Proportional set size of `pid` in bytes (shared pages split among their users); null if unknowable. */
export function pssBytes(pid: number): number | null {
  try {
    const match = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "latin1"));
    return match ? Number(match[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** Summed resident and proportional memory of `pids`. */
export function memoryOf(pids: number[]): { rss_bytes: number; pss_bytes: number; processes: number } {
  let rss = 0;
  let pss = 0;
  for (const pid of pids) {
    rss += rssBytes(pid) ?? 0;
    pss += pssBytes(pid) ?? 0;
  }
  return { rss_bytes: rss, pss_bytes: pss, processes: pids.length };
}
