import { dlopen, FFIType } from "bun:ffi";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { constants } from "node:os";

/**
 * Ends what a stopped run left running, in a confined sandbox. A run that hits its timeout (or is
 * cancelled) may have forked without end: a fork bomb holds the sandbox user's whole process
 * budget, and its children, when the kernel's interrupt reaches them too, turn into copies of the
 * kernel that hold it for good. So before the interrupt, the server (holding CAP_KILL) freezes the
 * kernel or shell that ran the code, stops every process of the sandbox user that the run started
 * under it, round after round until no new one appears, and kills them all; the interrupt then
 * waits for the kernel or shell (its main thread) as it goes on, the run's processes never see it,
 * and it keeps its state.
 *
 * "Started by the run": a process of the sandbox uid, started since the run began, in the session
 * of the kernel or shell (both lead a session of their own) or descended from it. What earlier runs
 * started on purpose (a server in the background, a shell's jobs) is left alone, and so is whatever
 * another session runs. A process that left the session and lost its parent (setsid, then a double
 * fork) escapes; it is still bound by the budget, and ends with the sandbox.
 */

/** What is read of one process (`/proc/<pid>/stat` and the owner of `/proc/<pid>`). */
export interface ProcessFacts {
  pid: number;
  ppid: number;
  /** Session id: the PID of the session's leader. */
  sid: number;
  /** Effective uid. */
  uid: number;
  /** When it started, in clock ticks since boot (field 22 of stat(5)). */
  start: number;
  /** One letter: R, S, D, Z, T, ... */
  state: string;
}

/** The processes of the machine (of the container, seen from inside), injected so tests can fake them. */
export interface ProcessTable {
  pids(): number[];
  /** Undefined when the process is gone. */
  read(pid: number): ProcessFacts | undefined;
  /** Clock ticks since boot now: the unit of `ProcessFacts.start`. */
  now(): number;
  /**
   * Sends `signal`; false when the process is gone (or not ours to signal). SIGINT goes to the
   * main thread: sent to a stopped process as a whole, it would go to whichever thread wakes first,
   * and Python's KeyboardInterrupt would wait for the main thread's blocking call (a sleep) to end.
   */
  signal(pid: number, signal: "SIGSTOP" | "SIGCONT" | "SIGKILL" | "SIGINT"): boolean;
}

const CLOCK_TICKS = 100; // USER_HZ, fixed at 100 on every Linux architecture.

let libc: { tgkill: (tgid: number, tid: number, signal: number) => number } | undefined;

/** `tgkill(2)`: a signal for one thread; Node and Bun only signal whole processes. */
function signalThread(pid: number, tid: number, signal: number): boolean {
  libc ??= dlopen("libc.so.6", { tgkill: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 } }).symbols;
  return libc.tgkill(pid, tid, signal) === 0;
}

/** Parses `/proc/<pid>/stat` (the command name may hold spaces and parentheses). */
export function parseStat(pid: number, text: string, uid: number): ProcessFacts | undefined {
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  // After the name: state (3), ppid (4), pgrp (5), session (6), ... starttime (22).
  const [state, ppid, , sid] = fields;
  const start = Number(fields[19]);
  if (!state || !Number.isFinite(start)) return undefined;
  return { pid, ppid: Number(ppid), sid: Number(sid), uid, start, state };
}

/** This machine's /proc. */
export const procTable: ProcessTable = {
  pids: () => readdirSync("/proc").filter((entry) => /^\d+$/.test(entry)).map(Number),
  read(pid) {
    try {
      const uid = statSync(`/proc/${pid}`).uid;
      return parseStat(pid, readFileSync(`/proc/${pid}/stat`, "latin1"), uid);
    } catch {
      return undefined;
    }
  },
  now: () => Math.floor(Number(readFileSync("/proc/uptime", "latin1").split(" ")[0]) * CLOCK_TICKS),
  signal(pid, signal) {
    if (signal === "SIGINT") return signalThread(pid, pid, constants.signals.SIGINT);
    try {
      process.kill(pid, signal);
      return true;
    } catch {
      return false;
    }
  },
};

/** A run's processes, ended; its kernel or shell frozen until `resume`. */
export interface Halted {
  /** PIDs killed. */
  ended: number[];
  /** Of those (and of zombies the run left), the ones whose parent is the root: only it can reap them. */
  children: number[];
  /** Lets the root run again (idempotent). */
  resume(): void;
  /** Kills the root too (it goes with its session). */
  kill(): void;
}

/** Rounds of stopping before the kill: a process forked while one round stops is found by the next. */
const MAX_ROUNDS = 64;

export class RunProcesses {
  private readonly table: ProcessTable;

  /** `uid`: the sandbox user's; processes of any other uid are never touched. */
  constructor(
    private readonly uid: number,
    table: ProcessTable = procTable,
  ) {
    this.table = table;
  }

  /** Taken as a run starts: what starts from now on is the run's. */
  mark(): number {
    return this.table.now();
  }

  /**
   * Freezes `root` (a kernel or shell, leader of its own session; it may be gone already), then
   * stops and kills every process of the sandbox user started at or after `since` in root's
   * session or below root. Root itself is spared, and stays frozen until `resume`.
   */
  halt(root: number, since: number): Halted {
    const frozen = this.owned(root) && this.table.signal(root, "SIGSTOP");
    const stopped = new Map<number, ProcessFacts>();
    const zombies: number[] = [];
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const fresh = this.runOf(root, since).filter((facts) => !stopped.has(facts.pid));
      let more = false;
      for (const facts of fresh) {
        if (facts.state === "Z") {
          if (facts.ppid === root && !zombies.includes(facts.pid)) zombies.push(facts.pid);
          continue;
        }
        if (this.table.signal(facts.pid, "SIGSTOP")) {
          stopped.set(facts.pid, facts);
          more = true;
        }
      }
      if (!more) break;
    }
    for (const pid of stopped.keys()) this.table.signal(pid, "SIGKILL");
    let resumed = !frozen;
    return {
      ended: [...stopped.keys()],
      children: [...[...stopped.values()].filter((facts) => facts.ppid === root).map((facts) => facts.pid), ...zombies],
      resume: () => {
        if (!resumed) this.table.signal(root, "SIGCONT");
        resumed = true;
      },
      kill: () => {
        // Killed while frozen: it forks nothing between the sweep and its end.
        if (frozen) this.table.signal(root, "SIGKILL");
        resumed = true;
      },
    };
  }

  /** The sandbox user's processes in root's session or below root, root excluded: what its runs left running, and the run under way. */
  list(root: number): ProcessFacts[] {
    return this.runOf(root, 0);
  }

  /** SIGINT to `root` alone, its main thread (a frozen one gets it as it resumes); false when it is gone or not the sandbox user's. */
  interrupt(root: number): boolean {
    return this.owned(root) && this.table.signal(root, "SIGINT");
  }

  /** Whether `pid` is a live process of the sandbox user. */
  private owned(pid: number): boolean {
    return this.table.read(pid)?.uid === this.uid;
  }

  /** The sandbox user's processes started since `since` in root's session or below root (root excluded). */
  private runOf(root: number, since: number): ProcessFacts[] {
    const mine = new Map<number, ProcessFacts>();
    for (const pid of this.table.pids()) {
      const facts = this.table.read(pid);
      if (facts && facts.uid === this.uid) mine.set(pid, facts);
    }
    const below = new Map<number, boolean>();
    const descends = (pid: number): boolean => {
      const seen: number[] = [];
      let at = mine.get(pid);
      let verdict = false;
      while (at && seen.length <= mine.size) {
        const known = below.get(at.pid);
        if (known !== undefined) {
          verdict = known;
          break;
        }
        seen.push(at.pid);
        if (at.ppid === root) {
          verdict = true;
          break;
        }
        at = mine.get(at.ppid);
      }
      for (const step of seen) below.set(step, verdict);
      return verdict;
    };
    return [...mine.values()].filter((facts) => facts.pid !== root && facts.start >= since && (facts.sid === root || descends(facts.pid)));
  }
}
