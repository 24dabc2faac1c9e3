import { KernelAPI, KernelConnection, type KernelMessage, type ServerConnection } from "@jupyterlab/services";
import { AppError, messageOf } from "../errors";
import type { OutputCollector } from "./output";
import { cpuSeconds, findProcesses, isAlive } from "./proc-stats";

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
  /** The deadline passed and the kernel ignored the interrupt, so it was restarted: state is lost. */
  | "restarted"
  /** The kernel process died during the run (Jupyter restarts it): state is lost. */
  | "died";

export interface KernelRunOptions {
  timeoutMs: number;
  /** How long an interrupted kernel gets to answer before it is restarted. */
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
  /** Set when the kernel lost its state outside a run (it died while idle); cleared by `takeRestartNotice`. */
  private restartedWhileIdle = false;
  private running = false;
  /** Called after the kernel came back with a fresh interpreter (died, or restarted by us). */
  onFreshState: (() => Promise<void>) | undefined;

  private constructor(
    readonly connection: KernelConnection,
    private readonly settings: ServerConnection.ISettings,
  ) {
    connection.statusChanged.connect((_sender, status) => {
      if (status === "autorestarting" && !this.running) this.restartedWhileIdle = true;
    });
  }

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
    return kernel;
  }

  get id(): string {
    return this.connection.id;
  }

  /** The kernel's OS process, found through its connection file's name; undefined if not visible. */
  get pid(): number | undefined {
    if (this.pidCache && isAlive(this.pidCache)) return this.pidCache;
    this.pidCache = findProcesses(`kernel-${this.id}.json`)[0];
    return this.pidCache;
  }

  /** False once the kernel is dead for good or its connection was closed. */
  get usable(): boolean {
    return !this.connection.isDisposed && this.connection.status !== "dead";
  }

  /** True (once) if the kernel lost its state while no run was in progress. */
  takeRestartNotice(): boolean {
    const notice = this.restartedWhileIdle;
    this.restartedWhileIdle = false;
    return notice;
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
  async execute(code: string, options: KernelRunOptions): Promise<KernelRunOutcome> {
    const { collector } = options;
    const pid = this.pid;
    const cpuBefore = cpuSeconds(pid);
    const cpuSpent = () => {
      const after = cpuSeconds(pid);
      return cpuBefore === null || after === null ? null : Math.max(0, after - cpuBefore);
    };
    this.running = true;
    let interrupting = false;
    const future = this.connection.requestExecute({ code, stop_on_error: true, allow_stdin: false, store_history: true });
    future.onIOPub = (message) => {
      if (interrupting && message.header.msg_type === "error") return; // The KeyboardInterrupt we caused.
      collectIOPub(message, collector);
    };
    const finished = future.done.then(
      () => "completed" as const,
      () => "died" as const, // Jupyter restarted the kernel, which cancels pending futures.
    );
    try {
      const stop = stopSignal(options.timeoutMs, options.signal);
      const first = await Promise.race([finished, stop.promise]);
      stop.cancel();
      if (first !== "stop") return { status: first, cpuTime: cpuSpent() };

      interrupting = true;
      await this.connection.interrupt().catch(() => undefined);
      const afterInterrupt = await Promise.race([finished, Bun.sleep(options.interruptGraceMs).then(() => "stuck" as const)]);
      if (afterInterrupt === "completed") return { status: "interrupted", cpuTime: cpuSpent() };
      if (afterInterrupt === "died") return { status: "died", cpuTime: null };
      const cpuTime = cpuSpent();
      await this.restart();
      return { status: "restarted", cpuTime };
    } finally {
      this.running = false;
      future.dispose();
    }
  }

  /** Restarts the kernel process (fresh interpreter), then reapplies session setup. */
  async restart(): Promise<void> {
    this.running = true;
    try {
      await this.connection.restart();
      this.pidCache = undefined;
      await this.onFreshState?.();
    } finally {
      this.running = false;
    }
  }

  /** Reapplies session setup after Jupyter restarted the kernel by itself. */
  async recover(): Promise<void> {
    this.pidCache = undefined;
    await this.onFreshState?.();
  }

  /** Shuts the kernel down on the server and closes the connection; never throws. */
  async shutdown(): Promise<void> {
    const id = this.id;
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

/** A promise that resolves to "stop" at the deadline or when `signal` aborts, and a way to cancel it. */
export function stopSignal(timeoutMs: number, signal?: AbortSignal): { promise: Promise<"stop">; cancel: () => void } {
  let timer: Timer | undefined;
  let onAbort: (() => void) | undefined;
  const promise = new Promise<"stop">((resolve) => {
    timer = setTimeout(() => resolve("stop"), timeoutMs);
    if (signal) {
      onAbort = () => resolve("stop");
      if (signal.aborted) onAbort();
      else signal.addEventListener("abort", onAbort, { once: true });
    }
  });
  return {
    promise,
    cancel: () => {
      clearTimeout(timer);
      if (signal && onAbort) signal.removeEventListener("abort", onAbort);
    },
  };
}

async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  const stop = stopSignal(ms);
  try {
    const result = await Promise.race([promise, stop.promise]);
    if (result === "stop") throw new AppError("KERNEL_UNAVAILABLE", message);
    return result as T;
  } finally {
    stop.cancel();
  }
}
