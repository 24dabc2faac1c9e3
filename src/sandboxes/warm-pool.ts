import { messageOf } from "../errors";
import type { Logger } from "../log";
import type { SandboxHandle } from "./backend";

export interface WarmPoolOptions {
  /** Ready sandboxes to keep (0: none). */
  size: number;
  /** Starts one sandbox and resolves once it is ready to be claimed (its kernel warm). */
  launch: () => Promise<SandboxHandle>;
  /** Removes a sandbox the pool no longer wants. */
  discard: (sandbox: SandboxHandle) => Promise<void>;
  log: Logger;
}

/**
 * Sandboxes started ahead of demand, so claiming one costs no container start. `take()` hands one
 * out at once (or undefined when none is ready) and refills in the background: every missing
 * sandbox starts at once, side by side, never one after another behind a lock.
 */
export class WarmPool {
  private readonly ready: SandboxHandle[] = [];
  private starting = 0;
  private running = false;
  private failures = 0;
  private retryTimer: Timer | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  /** Callers waiting for a sandbox the pool is starting, served in order as each one is ready. */
  private readonly waiters: ((sandbox: SandboxHandle | undefined) => void)[] = [];

  constructor(private readonly options: WarmPoolOptions) {}

  get size(): number {
    return this.options.size;
  }

  /** Figures for /health. */
  stats(): { size: number; ready: number; starting: number } {
    return { size: this.options.size, ready: this.ready.length, starting: this.starting };
  }

  start(): void {
    this.running = true;
    this.refill();
  }

  /** Adds a ready sandbox found at start (a restarted host's warm sandbox); false when the pool is full. */
  adopt(sandbox: SandboxHandle): boolean {
    if (this.ready.length + this.starting >= this.options.size) return false;
    this.ready.push(sandbox);
    return true;
  }

  /** A ready sandbox, now, or undefined; the pool starts its replacement at once. */
  take(): SandboxHandle | undefined {
    const sandbox = this.ready.shift();
    if (sandbox) this.refill();
    return sandbox;
  }

  /**
   * A sandbox the pool is starting and no other caller waits for yet, once it is ready; undefined
   * at once when there is none (or later, when its start fails), so the caller starts its own. A
   * burst of sessions thus takes the pool's refills instead of queueing behind them.
   */
  next(): Promise<SandboxHandle | undefined> {
    if (!this.running || this.starting <= this.waiters.length) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Resolves once every missing sandbox has been started (or failed to). */
  async settled(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private refill(): void {
    if (!this.running || this.retryTimer) return;
    const missing = this.options.size - this.ready.length - this.starting;
    for (let i = 0; i < missing; i++) {
      this.starting += 1;
      const started = this.options.launch().then(
        (sandbox) => {
          this.failures = 0;
          const waiter = this.waiters.shift();
          if (waiter) waiter(sandbox);
          else if (this.running) this.ready.push(sandbox);
          else void this.options.discard(sandbox).catch(() => undefined);
        },
        (error) => {
          this.failures += 1;
          this.waiters.shift()?.(undefined);
          const delay = Math.min(1000 * 2 ** (this.failures - 1), 60_000);
          this.options.log.warn(`Could not start a warm sandbox (${messageOf(error)}); retrying in ${delay} ms`);
          if (this.running && !this.retryTimer) {
            this.retryTimer = setTimeout(() => {
              this.retryTimer = undefined;
              this.refill();
            }, delay);
          }
        },
      );
      const tracked: Promise<void> = started.finally(() => {
        this.starting -= 1;
        this.inFlight.delete(tracked);
        // A sandbox handed to a waiter leaves a place to fill (a failed start waits for its retry).
        this.refill();
      });
      this.inFlight.add(tracked);
    }
  }

  /** Stops refilling and removes every sandbox it holds, those still starting included. */
  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    for (const waiter of this.waiters.splice(0)) waiter(undefined);
    await this.settled();
    await Promise.allSettled(this.ready.splice(0).map((sandbox) => this.options.discard(sandbox)));
  }
}
