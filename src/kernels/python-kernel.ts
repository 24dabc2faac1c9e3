import { KernelAPI, KernelConnection, type KernelMessage, type ServerConnection } from "@jupyterlab/services";
import { AppError, messageOf } from "../errors";
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

/** Starts kernels of one Jupyter Server; injected so the pool can be unit-tested. */
export interface KernelFactory {
  start(): Promise<PythonKernel>;
}

export class PythonKernel {
  private pidCache: number | undefined;
  private constructor(
    readonly connection: KernelConnection,
    private readonly settings: ServerConnection.ISettings,
  ) {}

  /** Starts a new kernel on the server and waits until it answers `kernel_info`. */
  static async start(settings: ServerConnection.ISettings, name = "python3"): Promise<PythonKernel> {
    let model: Awaited<ReturnType<typeof KernelAPI.startNew>>;
    try {
      model = await KernelAPI.startNew({ name }, settings);
    } catch (error) {
      throw new AppError("KERNEL_UNAVAILABLE", `Could not start a Python kernel: ${messageOf(error)}`, { cause: error });
    }
    const connection = new KernelConnection({ model, serverSettings: settings, handleComms: false });
    const kernel = new PythonKernel(connection, settings);
    await connection.info;
    kernel.pidCache = findProcesses(`kernel-${model.id}.json`)[0];
    // IPython sets up its display formatters and compiler caches on the first cell; pay for that
    // now, while the kernel waits in the pool, rather than in a session's first run.
    await kernel.connection.requestExecute({ code: "print(end=\"\")\nNone", silent: false, store_history: false }).done;
    return kernel;
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

  /** Runs code silently (no history, no output kept), for session setup. */
  async runSilently(code: string, timeoutMs = 10_000): Promise<void> {
    const future = this.connection.requestExecute({ code, silent: true, store_history: false, stop_on_error: true });
    const reply = await withTimeout(future.done, timeoutMs, "Kernel setup did not answer in time.");
    if (reply.content.status !== "ok") {
      throw new AppError("KERNEL_UNAVAILABLE", `Kernel setup failed: ${JSON.stringify(reply.content)}`);
    }
  }

  /** Runs one cell, collecting its output, honouring the deadline and the abort signal. */
  async execute(code: string, options: KernelRunOptions, attempt = 1): Promise<KernelRunOutcome> {
    const { collector } = options;
    const pid = this.pid;
    const cpuBefore = cpuSeconds(pid);
    const cpuSpent = () => {
      const after = cpuSeconds(pid);
      return cpuBefore === null || after === null ? null : Math.max(0, after - cpuBefore);
    };
    let interrupting = false;
    // Runs of a session are queued by CodeRunner, one at a time. With stop_on_error the kernel would also
    // abort a request arriving just after an error (such as the KeyboardInterrupt of a timeout).
    const future = this.connection.requestExecute({ code, stop_on_error: false, allow_stdin: false, store_history: true });
    future.onIOPub = (message) => {
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
      await this.connection.interrupt().catch(() => undefined);
      const afterInterrupt = await within(ended, options.interruptGraceMs, "stuck" as const);
      if (afterInterrupt === "completed" || afterInterrupt === "aborted") return { status: "interrupted", cpuTime: cpuSpent() };
      if (afterInterrupt === "died") return { status: "died", cpuTime: null };
      return { status: "unresponsive", cpuTime: cpuSpent() };
    } finally {
      clearInterval(watch);
      future.dispose();
    }
  }

  /**
   * Ends the kernel on the server and closes the connection. With `kill`, first kills its process at
   * once (a wedged kernel would not answer a shutdown request). Never throws.
   */
  async shutdown(options: { kill?: boolean } = {}): Promise<void> {
    const id = this.id;
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
      collector.result(content.data);
      break;
    case "error": {
      const error = { ename: content.ename, evalue: content.evalue, traceback: content.traceback ?? [] };
      collector.stderr(`${error.traceback.join("\n")}\n`);
      collector.fail(error);
      break;
    }
  }
}

async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  const result = await within(promise, ms, TIMED_OUT);
  if (result === TIMED_OUT) throw new AppError("KERNEL_UNAVAILABLE", message);
  return result as T;
}

const TIMED_OUT = Symbol("timed out");
