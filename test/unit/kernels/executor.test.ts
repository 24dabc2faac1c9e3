import { describe, expect, test } from "bun:test";
import { ANSWER_MARGIN_MS, Executor, route, stopReserveMs } from "../../../src/kernels/executor";
import { Session } from "../../../src/kernels/session-store";

describe("route", () => {
  test("python by default; bash, shell and sh go to the shell", () => {
    expect(route("print(1)")).toEqual({ engine: "python", code: "print(1)" });
    for (const language of ["bash", "shell", "sh"] as const) expect(route("ls", language)).toEqual({ engine: "shell", code: "ls" });
  });

  test("a %%bash cell goes to the shell without its magic line", () => {
    expect(route("%%bash\necho hi\npwd")).toEqual({ engine: "shell", code: "echo hi\npwd" });
    expect(route("\n  %%bash --out x\necho hi")).toEqual({ engine: "shell", code: "echo hi" });
    expect(route("x = '%%bash'")).toEqual({ engine: "python", code: "x = '%%bash'" });
    expect(route("!ls")).toEqual({ engine: "python", code: "!ls" });
  });
});

describe("Executor.timeoutSeconds", () => {
  const executor = new Executor({ sessions: {} as never, defaultTimeoutSeconds: 30, maxTimeoutSeconds: 100, outputLimitBytes: 1024 });
  test("default, explicit, and bounds", () => {
    expect(executor.timeoutSeconds(undefined)).toBe(30);
    expect(executor.timeoutSeconds(0.5)).toBe(0.5);
    expect(() => executor.timeoutSeconds(0)).toThrow("positive");
    expect(() => executor.timeoutSeconds(-3)).toThrow("positive");
    expect(() => executor.timeoutSeconds(Number.NaN)).toThrow("positive");
    expect(() => executor.timeoutSeconds(101)).toThrow("at most 100");
  });
});

/**
 * A kernel that runs until its run's budget, then stops 5 ms after the interrupt, except its first
 * `stuckRuns` runs, which never stop (given up as unresponsive after the grace). It records the
 * budgets it was given.
 */
class FakeKernel {
  budgets: number[] = [];
  running = false;
  constructor(private stuckRuns = 0) {}
  async execute(_code: string, options: { timeoutMs: number; interruptGraceMs: number }) {
    this.budgets.push(options.timeoutMs);
    this.running = true;
    const stuck = this.stuckRuns-- > 0;
    await Bun.sleep(options.timeoutMs + (stuck ? options.interruptGraceMs : 5));
    this.running = false;
    return { status: stuck ? ("unresponsive" as const) : ("interrupted" as const), cpuTime: 0 };
  }
}

function executorWith(kernel: FakeKernel, graceMs = 400) {
  const session = new Session("s1", "/nonexistent", {}, Date.now());
  const sessions = {
    resolve: async () => session,
    touch() {},
    kernelFor: async () => kernel,
    discardKernel() {},
  };
  const executor = new Executor({ sessions: sessions as never, defaultTimeoutSeconds: 30, maxTimeoutSeconds: 100, outputLimitBytes: 1024, interruptGraceMs: graceMs });
  return { executor, session };
}

describe("a waiting client's deadline (its read timeout is the run's timeout)", () => {
  test("the run is stopped early enough to answer within its timeout, from the request's arrival", async () => {
    const kernel = new FakeKernel();
    const { executor } = executorWith(kernel);
    const result = await executor.execute({ command: "loop()", timeout: 1 }, {}, true);
    expect(result.status).toBe("timeout");
    expect(result.state_lost).toBe(false);
    expect(result.stderr).toContain("Execution timed out after 1 s and was interrupted; the session and its state are intact.");
    // 1000 ms less the answer's margin (50) and the stop's reserve (250 at least), less the time to get here.
    expect(kernel.budgets[0]!).toBeLessThanOrEqual(1000 - ANSWER_MARGIN_MS - stopReserveMs(1000));
    expect(kernel.budgets[0]!).toBeGreaterThan(650);
  });

  test("without a waiting client (async tasks, streams) the run gets its whole timeout", async () => {
    const kernel = new FakeKernel();
    const { executor } = executorWith(kernel);
    await executor.execute({ command: "loop()", timeout: 0.3 });
    expect(kernel.budgets).toEqual([300]);
  });

  test("a kernel still stopping at the deadline: answered then with the output so far; the next run says the state was lost", async () => {
    const kernel = new FakeKernel(1);
    const { executor } = executorWith(kernel, 1000);
    const first = executor.execute({ command: "stuck()", timeout: 0.5 }, {}, true);
    const next = executor.execute({ command: "print(1)", timeout: 0.1 });
    const answer = await first;
    expect(kernel.running).toBe(true); // answered while the kernel was still being stopped
    expect(answer.status).toBe("timeout");
    expect(answer.state_lost).toBe(false);
    expect(answer.stderr).toContain("this answer could not wait for the Python kernel to stop: if it does not, the next run says the session's Python variables were lost.");
    const after = await next;
    expect(after.state_lost).toBe(true);
    expect(after.stderr).toContain("The previous run did not stop after its timeout, so its Python kernel was replaced: the session's Python variables were lost.");
  });

  test("a run still queued at its deadline is answered then, and never run", async () => {
    const kernel = new FakeKernel();
    const { executor, session } = executorWith(kernel);
    const earlier = executor.execute({ command: "slow()", timeout: 0.6 });
    const late = await executor.execute({ command: "print(2)", timeout: 0.2 }, {}, true);
    expect(kernel.running).toBe(true); // answered at its deadline, while the earlier run still ran
    expect(late.status).toBe("timeout");
    expect(late.stderr).toBe("Execution timed out after 0.2 s before it could start: it waited behind the session's earlier runs and was not run.\n");
    await earlier;
    expect(kernel.budgets).toEqual([600]);
    expect(session.executions).toBe(1);
  });
});
