/**
 * Sandbox starts, at most `limit` at a time, those a waiting session needs before those that only
 * refill the warm pool. Starting a sandbox is mostly CPU (its Python stack loading): on a small
 * machine, ten at once all finish late together, while a few at a time hand the first ones out
 * early; and a refill must never hold up a client that is waiting.
 */
export class BootQueue {
  private running = 0;
  private readonly waiting: { claim: (() => void)[]; pool: (() => void)[] } = { claim: [], pool: [] };

  constructor(private readonly limit: number) {}

  /** Starts waiting, by priority. */
  get queued(): number {
    return this.waiting.claim.length + this.waiting.pool.length;
  }

  async run<T>(priority: "claim" | "pool", work: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit) {
      await new Promise<void>((resolve) => this.waiting[priority].push(resolve));
    } else {
      this.running += 1;
    }
    try {
      return await work();
    } finally {
      const next = this.waiting.claim.shift() ?? this.waiting.pool.shift();
      if (next) next();
      else this.running -= 1;
    }
  }
}
