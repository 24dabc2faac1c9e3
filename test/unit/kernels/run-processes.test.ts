import { describe, expect, test } from "bun:test";
import { parseStat, type ProcessFacts, type ProcessTable, procTable, RunProcesses } from "../../../src/kernels/run-processes";

const USER = 234567;

/**
 * A process table in memory. `forks` lets a running process fork while the sweep looks: each time
 * the table is listed, every process in `forks` that is not stopped makes one child.
 */
class FakeTable implements ProcessTable {
  procs = new Map<number, ProcessFacts>();
  signals: [number, string][] = [];
  clock = 1000;
  private nextPid = 500;
  forks = new Set<number>();

  add(facts: Partial<ProcessFacts> & { pid: number; ppid: number }): ProcessFacts {
    const full: ProcessFacts = { sid: facts.ppid, uid: USER, start: this.clock, state: "S", ...facts };
    this.procs.set(full.pid, full);
    return full;
  }

  pids(): number[] {
    for (const pid of [...this.forks]) {
      const parent = this.procs.get(pid);
      if (parent && parent.state !== "T") this.add({ pid: this.nextPid++, ppid: pid, sid: parent.sid, start: this.clock });
    }
    return [...this.procs.keys()];
  }

  read(pid: number): ProcessFacts | undefined {
    const facts = this.procs.get(pid);
    return facts && { ...facts };
  }

  now(): number {
    return this.clock;
  }

  signal(pid: number, signal: "SIGSTOP" | "SIGCONT" | "SIGKILL" | "SIGINT"): boolean {
    const facts = this.procs.get(pid);
    if (!facts || facts.state === "Z") return false;
    this.signals.push([pid, signal]);
    if (signal === "SIGSTOP") facts.state = "T";
    if (signal === "SIGCONT") facts.state = "S";
    if (signal === "SIGKILL") facts.state = "Z";
    return true;
  }

  signalled(signal: string): number[] {
    return this.signals.filter(([, name]) => name === signal).map(([pid]) => pid);
  }
}

/** A kernel (pid 100, its own session) with a job from an earlier run; the run starts at tick 2000. */
function sandbox() {
  const table = new FakeTable();
  table.add({ pid: 1, ppid: 0, sid: 1, uid: 990 }); // tini
  table.add({ pid: 10, ppid: 1, sid: 1, uid: 990 }); // the server
  table.add({ pid: 100, ppid: 10, sid: 100 }); // the kernel
  table.add({ pid: 101, ppid: 100, sid: 100 }); // an earlier run's background server
  table.add({ pid: 200, ppid: 10, sid: 200 }); // another session's shell
  table.clock = 2000;
  const run = new RunProcesses(USER, table);
  return { table, run, since: run.mark() };
}

describe("ending what a stopped run started", () => {
  test("the run's processes are stopped before any is killed; the kernel is frozen until resumed", () => {
    const { table, run, since } = sandbox();
    table.add({ pid: 300, ppid: 100, sid: 100 });
    table.add({ pid: 301, ppid: 300, sid: 100 });
    const halted = run.halt(100, since);
    expect(halted.ended.sort()).toEqual([300, 301]);
    expect(halted.children).toEqual([300]);
    const order = table.signals.map(([pid, name]) => `${name}:${pid}`);
    expect(order[0]).toBe("SIGSTOP:100");
    expect(order.indexOf("SIGKILL:300")).toBeGreaterThan(order.indexOf("SIGSTOP:301"));
    expect(table.procs.get(100)!.state).toBe("T");
    halted.resume();
    halted.resume();
    expect(table.signalled("SIGCONT")).toEqual([100]);
  });

  test("a root killed with its session is killed while frozen, never let go first", () => {
    const { table, run } = sandbox();
    run.halt(100, 0).kill();
    expect(table.signals.map(([pid, name]) => `${name}:${pid}`)).toEqual(["SIGSTOP:100", "SIGSTOP:101", "SIGKILL:101", "SIGKILL:100"]);
  });

  test("the interrupt goes to the root alone, and only to the sandbox user's", () => {
    const { table, run } = sandbox();
    expect(run.interrupt(100)).toBe(true);
    expect(run.interrupt(10)).toBe(false);
    expect(table.signals).toEqual([[100, "SIGINT"]]);
  });

  test("spares the kernel, what earlier runs started, other sessions and other users", () => {
    const { table, run, since } = sandbox();
    table.add({ pid: 400, ppid: 200, sid: 200 }); // the shell's job, started during the run
    table.add({ pid: 401, ppid: 100, sid: 100, uid: 990 }); // not the sandbox user's
    const halted = run.halt(100, since);
    expect(halted.ended).toEqual([]);
    expect(table.signals.filter(([pid]) => pid !== 100)).toEqual([]);
  });

  test("a process that left the session is found through its parents; one started by an earlier run's job too", () => {
    const { table, run, since } = sandbox();
    table.add({ pid: 300, ppid: 100, sid: 300 }); // setsid
    table.add({ pid: 301, ppid: 300, sid: 301 }); // and again
    table.add({ pid: 302, ppid: 101, sid: 100 }); // forked by the earlier job during this run
    expect(run.halt(100, since).ended.sort()).toEqual([300, 301, 302]);
  });

  test("orphans still in the kernel's session are found, and a dead kernel's session is swept", () => {
    const { table, run } = sandbox();
    table.procs.delete(100);
    table.add({ pid: 300, ppid: 1, sid: 100 });
    const halted = run.halt(100, 0);
    expect(halted.ended.sort()).toEqual([101, 300]);
    expect(table.signalled("SIGSTOP")).not.toContain(100);
    halted.resume();
    expect(table.signalled("SIGCONT")).toEqual([]);
  });

  test("processes forked while the sweep runs are caught by the next round; the run's zombie children are reported", () => {
    const { table, run, since } = sandbox();
    table.add({ pid: 300, ppid: 100, sid: 100 });
    table.add({ pid: 301, ppid: 100, sid: 100, state: "Z" });
    table.forks.add(300);
    const halted = run.halt(100, since);
    expect(halted.ended.length).toBeGreaterThanOrEqual(2);
    for (const pid of halted.ended) expect(table.procs.get(pid)!.state).toBe("Z");
    expect(halted.children.sort()).toEqual([300, 301]);
  });
});

describe("reading /proc", () => {
  test("stat lines with spaces and parentheses in the name", () => {
    const line = "4242 (my (odd) name) S 4200 4242 4100 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 3 0 987654 123 456";
    expect(parseStat(4242, line, USER)).toEqual({ pid: 4242, ppid: 4200, sid: 4100, uid: USER, start: 987654, state: "S" });
  });

  test.skipIf(process.platform !== "linux")("this process: started before now, its own uid", () => {
    const self = procTable.read(process.pid)!;
    expect(self.uid).toBe(process.geteuid!());
    expect(self.ppid).toBe(process.ppid);
    expect(self.start).toBeLessThanOrEqual(procTable.now());
    expect(procTable.pids()).toContain(process.pid);
  });

  test.skipIf(process.platform !== "linux")("SIGINT reaches a child's main thread, whether it runs or is stopped", async () => {
    for (const stopped of [false, true]) {
      const child = Bun.spawn(["sleep", "30"]);
      if (stopped) expect(procTable.signal(child.pid, "SIGSTOP")).toBe(true);
      expect(procTable.signal(child.pid, "SIGINT")).toBe(true);
      if (stopped) procTable.signal(child.pid, "SIGCONT");
      await child.exited;
      expect(child.signalCode).toBe("SIGINT");
    }
    expect(procTable.signal(2 ** 22 + 7, "SIGINT")).toBe(false);
  });
});
