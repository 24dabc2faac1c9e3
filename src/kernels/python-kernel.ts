import { existsSync } from "node:fs";
import { KernelAPI, KernelConnection, type KernelMessage, type ServerConnection } from "@jupyterlab/services";
import type { RunProcesses } from "./run-processes";
import { AppError, messageOf } from "../errors";
import kernelGuard from "./kernel-guard.py" with { type: "text" };
import type { OutputCollector } from "./output";
import { cpuSeconds, findProcesses, isAlive } from "./proc-stats";
import { stopSignal, within } from "../timers";

/**
 * One Jupyter kernel and the only place that speaks the Jupyter messaging protocol: execute with iopub
 * collection, interrupt, restart, shutdown. It reports how each run ended; what to tell the user is the
 * executor's business.
 */

export type KernelRunStatus =
  /** The cell ran to the end (the user's code may still have raised: see `collector.error`). */
  | "completed"
  /** The deadline passed, the kernel was interrupted and answered; its state is intact. */
  | "interrupted"
  /** The deadline passed and the kernel ignored the interrupt: it must be replaced (state is lost). */
  | "unresponsive"
  /** The kernel process died during the run: it must be replaced (state is lost). */
  | "died";

export interface KernelRunOptions {
  timeoutMs: number;
  /** How long an interrupted kernel gets to answer before it is given up as unresponsive. */
  interruptGraceMs: number;
  collector: OutputCollector;
  /** Aborting interrupts the run as a timeout does (a streaming client that went away). */
  signal?: AbortSignal;
}

export interface KernelRunOutcome {
  status: KernelRunStatus;
  cpuTime: number | null;
}

/** Where a session's code runs: what a kernel from the pool enters before it runs the session's first code. */
export interface KernelSetup {
  cwd: string;
  env: Record<string, string>;
}

/** Starts kernels of one Jupyter Server; injected so the pool can be unit-tested. */
export interface KernelFactory {
  start(): Promise<PythonKernel>;
}

export interface PythonKernelOptions {
  /**
   * Output a run may send (CODERUNNER_OUTPUT_LIMIT_BYTES): the kernel stops sending past it, so a
   * print loop costs neither the kernel, Jupyter nor this server more than that (`kernel-guard.py`).
   */
  outputLimitBytes: number;
  /** Ends what a stopped run started (a confined sandbox); undefined: the interrupt alone, as Jupyter sends it. */
  runProcesses?: Pick<RunProcesses, "mark" | "halt" | "interrupt">;
  /** How long a new kernel may take to answer (default `START_TIMEOUT_MS`). */
  startTimeoutMs?: number;
}

/** A kernel that has not answered this long after its start will not: it is ended and the start fails. */
const START_TIMEOUT_MS = 60_000;
/** How long a new kernel's process may take to show its connection file in /proc before it counts as gone. */
const PROCESS_APPEARS_MS = 3000;


export class PythonKernel {
  private pidCache: number | undefined;
  /** Entered with the next request (`prepare`). */
  private setup: KernelSetup | undefined;
  private constructor(
    readonly connection: KernelConnection,
    private readonly settings: ServerConnection.ISettings,
    private readonly options: PythonKernelOptions,
  ) {}

  /**
   * Starts a new kernel on the server, waits until it answers `kernel_info`, and installs its output
   * cap and closed standard input (`kernel-guard.py`).
   */
  static async start(settings: ServerConnection.ISettings, name: string, options: PythonKernelOptions): Promise<PythonKernel> {
    let model: Awaited<ReturnType<typeof KernelAPI.startNew>>;
    try {
      model = await KernelAPI.startNew({ name }, settings);
    } catch (error) {
      throw new AppError("KERNEL_UNAVAILABLE", `Could not start a Python kernel: ${messageOf(error)}`, { cause: error });
    }
    const connection = new KernelConnection({ model, serverSettings: settings, handleComms: false });
    const kernel = new PythonKernel(connection, settings, options);
    try {
      await kernel.answered(`kernel-${model.id}.json`, options.startTimeoutMs ?? START_TIMEOUT_MS);
      await kernel.runSetup(guardSetup(options.outputLimitBytes));
      // IPython sets up its display formatters and compiler caches on the first cell; pay for that
      // now, while the kernel waits in the pool, rather than in a session's first run. A silent cell
      // would skip them, so this one is not silent: it prints nothing and leaves no history.
      await kernel.runSetup("print(end=\"\")\nNone", { timeoutMs: options.startTimeoutMs ?? START_TIMEOUT_MS, silent: false });
    } catch (error) {
      await kernel.shutdown({ kill: true });
      throw error;
    }
    return kernel;
  }

  /**
   * Resolves once the new kernel answers `kernel_info`. Rejects when its process is gone first (with
   * the sandbox user's process budget full, as right after a fork bomb, its exec is refused with
   * EAGAIN, and Jupyter, which restarts nothing, would wait for it forever) or after `timeoutMs`.
   */
  private async answered(connectionFile: string, timeoutMs: number): Promise<void> {
    const procfs = existsSync("/proc/self/stat");
    const since = performance.now();
    let watch: Timer | undefined;
    const gone = new Promise<"gone">((resolve) => {
      const look = () => {
        this.pidCache ??= findProcesses(connectionFile)[0];
        const missing = this.pidCache === undefined ? performance.now() - since > PROCESS_APPEARS_MS : !isAlive(this.pidCache);
        if (procfs && missing) resolve("gone");
      };
      look();
      watch = setInterval(look, 100);
    });
    try {
      const outcome = await within(Promise.race([this.connection.info, gone]), timeoutMs, "late" as const);
      if (outcome === "gone") throw new AppError("KERNEL_UNAVAILABLE", "The Python kernel's process ended as it started (the sandbox's process budget may be full).");
      if (outcome === "late") throw new AppError("KERNEL_UNAVAILABLE", `The Python kernel did not answer within ${Math.round(timeoutMs / 1000)} s of its start.`);
    } finally {
      clearInterval(watch);
    }
  }

  get id(): string {
    return this.connection.id;
  }

  /** The kernel's OS process (found through its connection file's name when it started); undefined if not visible. */
  get pid(): number | undefined {
    return this.pidCache;
  }

  /**
   * False once the kernel cannot be trusted with a session's state: its connection is closed, Jupyter
   * gave up on it or is restarting it, or its process is gone (a restarted kernel has a fresh interpreter).
   */
  get usable(): boolean {
    if (this.connection.isDisposed) return false;
    const status = this.connection.status;
    if (status === "dead" || status === "restarting" || status === "autorestarting") return false;
    return this.pidCache === undefined || isAlive(this.pidCache);
  }

  /**
   * Has the kernel enter `setup` (a session's working directory and environment) just before it runs
   * the next code it is sent. It travels in that request's metadata (`kernel-guard.py`), so setting
   * up a session costs no request of its own.
   */
  prepare(setup: KernelSetup): void {
    this.setup = setup;
  }

  /** Sends an execute request, carrying the pending setup; a request the kernel aborted unrun gives it back. */
  private requestExecute(content: KernelMessage.IExecuteRequestMsg["content"]) {
    const setup = this.setup;
    this.setup = undefined;
    const future = this.connection.requestExecute(content, true, setup ? { coderunner_setup: { ...setup } } : undefined);
    if (setup) {
      void future.done.then(
        (reply) => {
          if (reply.content.status === "aborted") this.setup ??= setup;
        },
        () => undefined,
      );
    }
    return future;
  }

  /**
   * Runs the server's own code, never a session's: the kernel's guard, its warm-up, reaping. It leaves
   * no history and its output is kept nowhere; `silent` (the default) also has IPython skip its
   * display machinery and not count the cell. Rejects when the cell fails or outlasts `timeoutMs`.
   */
  async runSetup(code: string, { timeoutMs = 10_000, silent = true }: { timeoutMs?: number; silent?: boolean } = {}): Promise<void> {
    const future = this.requestExecute({ code, silent, store_history: false, stop_on_error: true });
    const reply = await withTimeout(future.done, timeoutMs, "Kernel setup did not answer in time.");
    if (reply.content.status !== "ok") {
      throw new AppError("KERNEL_UNAVAILABLE", `Kernel setup failed: ${JSON.stringify(reply.content)}`);
    }
  }

  /**
   * Runs one cell, collecting its output, honouring the deadline and the abort signal. A run
   * stopped by either is interrupted: through Jupyter (SIGINT to the kernel's process group), or,
   * with `runProcesses`, by `stopRun`.
   */
  async execute(code: string, options: KernelRunOptions, attempt = 1): Promise<KernelRunOutcome> {
    const { collector } = options;
    const pid = this.pid;
    const runProcesses = pid === undefined ? undefined : this.options.runProcesses;
    const since = runProcesses?.mark();
    const cpuBefore = cpuSeconds(pid);
    const cpuSpent = () => {
      const after = cpuSeconds(pid);
      return cpuBefore === null || after === null ? null : Math.max(0, after - cpuBefore);
    };
    let interrupting = false;
    // Runs of a session are queued by CodeRunner, one at a time. With stop_on_error the kernel would also
    // abort a request arriving just after an error (such as the KeyboardInterrupt of a timeout).
    const future = this.requestExecute({ code, stop_on_error: false, allow_stdin: false, store_history: true });
    // ipykernel ignores SIGINT between cells: an interrupt sent before the kernel took up this one
    // (a short timeout on a loaded machine) is lost, and is sent again once the cell begins.
    let begun = false;
    const { promise: whenBegun, resolve: markBegun } = Promise.withResolvers<void>();
    future.onIOPub = (message) => {
      if (message.header.msg_type === "execute_input") {
        begun = true;
        markBegun();
      }
      if (interrupting && message.header.msg_type === "error") return; // The KeyboardInterrupt we caused.
      collectIOPub(message, collector);
    };
    // Jupyter notices a dead kernel only at its next heartbeat; watching the process answers at once.
    let watch: Timer | undefined;
    const died = new Promise<"died">((resolve) => {
      watch = setInterval(() => {
        if (!this.usable) resolve("died");
      }, 100);
    });
    const finished = future.done.then(
      // An aborted request never ran; it is sent again once.
      (reply) => (reply.content.status === "aborted" ? ("aborted" as const) : ("completed" as const)),
      () => "died" as const, // Jupyter restarted the kernel, which cancels pending futures.
    );
    const ended = Promise.race([finished, died]);
    try {
      const stop = stopSignal(options.timeoutMs, options.signal);
      const first = await Promise.race([ended, stop.promise]);
      stop.cancel();
      if (first === "aborted" && attempt === 1) return this.execute(code, options, attempt + 1);
      if (first === "aborted") return { status: "completed", cpuTime: cpuSpent() };
      if (first !== "stop") return { status: first, cpuTime: first === "died" ? null : cpuSpent() };

      interrupting = true;
      if (!begun) {
        let over = false;
        void ended.then(() => (over = true));
        void whenBegun.then(() => {
          if (over) return;
          if (runProcesses) runProcesses.interrupt(pid!);
          else void this.connection.interrupt().catch(() => undefined);
        });
      }
      let afterInterrupt: Awaited<typeof ended> | "stuck";
      if (runProcesses) {
        afterInterrupt = await this.stopRun(runProcesses, pid!, since!, ended, options.interruptGraceMs);
      } else {
        await this.connection.interrupt().catch(() => undefined);
        afterInterrupt = await within(ended, options.interruptGraceMs, "stuck" as const);
      }
      if (afterInterrupt === "completed" || afterInterrupt === "aborted") return { status: "interrupted", cpuTime: cpuSpent() };
      if (afterInterrupt === "died") return { status: "died", cpuTime: null };
      return { status: "unresponsive", cpuTime: cpuSpent() };
    } finally {
      clearInterval(watch);
      future.dispose();
    }
  }

  /**
   * Stops a run in a confined sandbox: freezes the kernel, ends every process the run started
   * (`RunProcesses.halt`), sends SIGINT to the kernel alone (the run's processes are gone, and so
   * cannot turn into copies of the kernel; it forks nothing before it sees it) and lets it go on,
   * for `graceMs` to answer. Once it
   * answered, what it forked meanwhile is ended too, and it reaps its own children among the ended.
   *
   * A kernel that forks in a loop rarely answers: the signal arrives inside fork(), and Python
   * raises the KeyboardInterrupt in the first at-fork callback (logging registers some), which
   * prints it as ignored. It is then replaced, and `shutdown` ends what is left.
   */
  private async stopRun<T>(runProcesses: NonNullable<PythonKernelOptions["runProcesses"]>, pid: number, since: number, ended: Promise<T>, graceMs: number): Promise<T | "stuck"> {
    const halted = runProcesses.halt(pid, since);
    runProcesses.interrupt(pid);
    halted.resume();
    // The grace counts from the interrupt, not from the sweep before it.
    const outcome = await within(ended, graceMs, "stuck" as const);
    if (outcome !== "stuck") {
      const late = runProcesses.halt(pid, since);
      late.resume();
      await this.reap([...halted.children, ...late.children]);
    }
    return outcome;
  }

  /**
   * Has the kernel wait for `pids`, its children the server killed: Python never waits for what
   * `os.fork()` made, and an unreaped child keeps counting against the sandbox user's budget. Those
   * not gone within 2 s are left to a thread of the kernel that waits for them.
   */
  private async reap(pids: number[]): Promise<void> {
    if (!pids.length) return;
    const code = [
      "def __cr_reap(left):",
      "    import os, time",
      "    until = time.monotonic() + 2",
      "    while left and time.monotonic() < until:",
      "        for pid in list(left):",
      "            try:",
      "                if os.waitpid(pid, os.WNOHANG)[0]: left.discard(pid)",
      "            except ChildProcessError:",
      "                left.discard(pid)",
      "        if left: time.sleep(0.01)",
      // What has not ended by then (a busy machine) is waited for in the background: a killed process does end.
      "    def wait(pids):",
      "        for pid in pids:",
      "            try: os.waitpid(pid, 0)",
      "            except ChildProcessError: pass",
      "    if left:",
      "        import threading",
      "        threading.Thread(target=wait, args=(sorted(left),), name='coderunner-reap', daemon=True).start()",
      `__cr_reap(set(${JSON.stringify(pids)}))`,
      "del __cr_reap",
    ].join("\n");
    await this.runSetup(code, { timeoutMs: 5000 }).catch(() => undefined);
  }

  /**
   * Ends the kernel on the server and closes the connection. With `kill`, first kills its process at
   * once (a wedged kernel would not answer a shutdown request), and, with `runProcesses`, everything
   * in its session or below it. Never throws.
   */
  async shutdown(options: { kill?: boolean } = {}): Promise<void> {
    const id = this.id;
    if (options.kill && this.pidCache && this.options.runProcesses) {
      // Frozen, then killed with its session: it forks nothing between the sweep and its end.
      this.options.runProcesses.halt(this.pidCache, 0).kill();
    }
    if (options.kill && this.pidCache && isAlive(this.pidCache)) {
      try {
        process.kill(this.pidCache, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
    this.connection.dispose();
    await KernelAPI.shutdownKernel(id, this.settings).catch(() => undefined);
  }
}

function collectIOPub(message: KernelMessage.IIOPubMessage, collector: OutputCollector): void {
  const content = message.content as Record<string, any>;
  switch (message.header.msg_type) {
    case "stream":
      if (content.name === "stderr") collector.stderr(content.text);
      else collector.stdout(content.text);
      break;
    case "execute_result":
    case "display_data":
      // The kernel's own cap says it swallowed output (kernel-guard.py).
      if (content.transient?.coderunner === "truncated") collector.truncated = true;
      else collector.result(content.data);
      break;
    case "error": {
      const error = { ename: content.ename, evalue: content.evalue, traceback: content.traceback ?? [] };
      collector.stderr(`${error.traceback.join("\n")}\n`);
      collector.fail(error);
      break;
    }
  }
}

/** Python that installs `kernel-guard.py` without leaving a name in the user's namespace. */
function guardSetup(limitBytes: number): string {
  return `exec(compile(${JSON.stringify(`${kernelGuard}\ninstall(${limitBytes})\n`)}, "<coderunner>", "exec"), {"__name__": "coderunner"})`;
}

async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  const result = await within(promise, ms, TIMED_OUT);
  if (result === TIMED_OUT) throw new AppError("KERNEL_UNAVAILABLE", message);
  return result as T;
}

const TIMED_OUT = Symbol("timed out");
