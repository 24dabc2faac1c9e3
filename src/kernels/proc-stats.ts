import { readdirSync, readFileSync } from "node:fs";

/**
 * Figures about processes read from Linux's /proc: CPU seconds (own plus waited-for children) and
 * resident memory. Elsewhere (or for a vanished process) they are `null`, never a guess.
 */

const CLOCK_TICKS = 100; // USER_HZ, fixed at 100 on every Linux architecture we run on.

/** CPU seconds `pid` used, including children it has waited for; null if unknowable. */
export function cpuSeconds(pid: number | undefined): number | null {
  if (!pid) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    // The command name (field 2) may contain spaces and parentheses; fields resume after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // Fields 14-17 of stat(5) (utime, stime, cutime, cstime) are at 11-14 after the name.
    const ticks = Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
    return Number.isFinite(ticks) ? ticks / CLOCK_TICKS : null;
  } catch {
    return null;
  }
}

/** Resident memory of `pid` in bytes; null if unknowable. */
export function rssBytes(pid: number | undefined): number | null {
  if (!pid) return null;
  try {
    const status = readFileSync(`/proc/${pid}/status`, "latin1");
    const match = /^VmRSS:\s+(\d+) kB/m.exec(status);
    return match ? Number(match[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** The command line of `pid`, its arguments joined by spaces (cut to `max` characters); null if gone. */
export function commandLine(pid: number, max = 200): string | null {
  try {
    const text = readFileSync(`/proc/${pid}/cmdline`, "latin1").replace(/\0+$/, "").replaceAll("\0", " ");
    return text.length > max ? `${text.slice(0, max - 1)}…` : text;
  } catch {
    return null;
  }
}

/** PIDs of processes whose command line contains `needle` (for example a kernel's connection file). */
export function findProcesses(needle: string): number[] {
  const found: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return found;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "latin1");
      if (cmdline.includes(needle)) found.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return found;
}

/** Whether `pid` is a live process (not a zombie). */
export function isAlive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}
