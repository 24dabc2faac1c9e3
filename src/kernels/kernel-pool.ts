import { messageOf } from "../errors";
import type { Logger } from "../log";
import { within } from "../timers";
import type { KernelFactory, PythonKernel } from "./python-kernel";

export interface KernelPoolOptions {
  factory: KernelFactory;
  /** Idle kernels kept warm. */
  size: number;
  log: Logger;
  /**
   * How long after handing out a kernel the pool starts its replacement. Starting a kernel takes a
   * CPU-second; waiting a moment keeps it from competing with the new session's first runs.
   */
  refillDelayMs?: number;
  /**
   * False: the pool warms `size` kernels once and does not replace those it hands out (a sandbox that
   * serves one session needs one warm kernel, not a spare beside it). Default true.
   */
  refill?: boolean;
  /** Pause before a failed start is tried again (default 1 s, then 2 s). */
  retryDelayMs?: number;
}

/** Starts tried for a caller waiting for a kernel before its error is passed on. */
const START_ATTEMPTS = 3;

/**
 * Pre-warmed idle kernels. `acquire()` hands one out at once when it can (starting one otherwise) and
 * refills in the background; each handed-out kernel belongs to one session until it is shut down.
 */
export class KernelPool {
  private readonly idle: PythonKernel[] = [];
  private starting = 0;
  private running = false;
  private failures = 0;
  private retryTimer: Timer | undefined;
  private readonly waiters = new Set<Promise<unknown>>();
  private refillTimer: Timer | undefined;
  /** Callers of `acquire` waiting for a kernel that is being started. */
  private claimed = 0;
  /** Kernels handed out; with `refill: false` they lower the number kept warm. */
  private handedOut = 0;

  constructor(private readonly options: KernelPoolOptions) {}

  /** Idle kernels ready now. */
  get available(): number {
    return this.idle.length;
  }

  /** How many idle kernels the pool keeps now. */
  private get target(): number {
    return this.options.refill === false ? Math.max(0, this.options.size - this.handedOut) : this.options.size;
  }

  start(): void {
    this.running = true;
    this.refill();
  }

  /** Resolves once the pool holds its full number of idle kernels (or stops trying). */
  async warm(): Promise<void> {
    while (this.running && this.idle.length < this.target && (this.starting > 0 || this.retryTimer || this.refillTimer)) {
      await within(Promise.race([...this.waiters]), 50, undefined);
    }
  }

  /**
   * A kernel for a new session: an idle one if any; else the next one the pool is already starting,
   * if no other caller has claimed it (a second start would only compete with it for the CPU);
   * else a fresh one.
   */
  async acquire(): Promise<PythonKernel> {
    for (;;) {
      const kernel = this.takeIdle();
      if (kernel) return kernel;
      if (!this.running || this.starting <= this.claimed) break;
      this.claimed += 1;
      try {
        await Promise.race([...this.waiters]);
      } finally {
        this.claimed -= 1;
      }
    }
    return this.startNow();
  }

  /**
   * A kernel started for a caller that cannot wait for the pool. A start that fails is tried again
   * (`START_ATTEMPTS` in all): right after a run that filled the sandbox's process budget (a fork
   * bomb), the processes it left take a moment to go, and a start in that moment is refused.
   */
  private async startNow(): Promise<PythonKernel> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.options.factory.start();
      } catch (error) {
        if (attempt >= START_ATTEMPTS || !this.running) throw error;
        this.options.log.warn(`Could not start a kernel (${messageOf(error)}); trying again`);
        await Bun.sleep(this.options.retryDelayMs ?? 1000 * attempt);
      }
    }
  }

  private takeIdle(): PythonKernel | undefined {
    while (this.idle.length > 0) {
      const kernel = this.idle.shift()!;
      if (kernel.usable) {
        this.handedOut += 1;
        this.refillSoon();
        return kernel;
      }
      void kernel.shutdown({ kill: true });
    }
    return undefined;
  }

  private refillSoon(): void {
    const delay = this.options.refillDelayMs ?? 250;
    if (delay <= 0) return this.refill();
    this.refillTimer ??= setTimeout(() => {
      this.refillTimer = undefined;
      this.refill();
    }, delay);
  }

  /** Starts the next missing kernel. One at a time: on a small machine parallel starts only slow each other down. */
  private refill(): void {
    if (!this.running || this.retryTimer || this.starting > 0) return;
    if (this.idle.length < this.target) {
      this.starting += 1;
      const attempt = this.options.factory.start().then(
        (kernel) => {
          this.failures = 0;
          if (this.running) this.idle.push(kernel);
          else void kernel.shutdown({ kill: true });
        },
        (error) => {
          this.failures += 1;
          const delay = Math.min(500 * 2 ** (this.failures - 1), 30_000);
          this.options.log.warn(`Could not pre-warm a kernel (${messageOf(error)}); retrying in ${delay} ms`);
          if (this.running && !this.retryTimer) {
            this.retryTimer = setTimeout(() => {
              this.retryTimer = undefined;
              this.refill();
            }, delay);
          }
        },
      );
      const settled = attempt.finally(() => {
        this.starting -= 1;
        this.waiters.delete(settled);
        this.refill();
      });
      this.waiters.add(settled);
    }
  }

  /** Forgets idle kernels (their server went away) and starts new ones. */
  reset(): void {
    for (const kernel of this.idle.splice(0)) void kernel.shutdown();
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.failures = 0;
    this.refill();
  }

  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.refillTimer);
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    await Promise.allSettled([...this.waiters]);
    // Idle kernels hold no one's state: end them at once.
    await Promise.allSettled(this.idle.splice(0).map((kernel) => kernel.shutdown({ kill: true })));
  }
}
