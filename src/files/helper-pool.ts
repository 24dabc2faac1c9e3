import { type ChildProcess, spawn } from "node:child_process";
import { Writable } from "node:stream";

/**
 * Running file helpers (`FILE_HELPER`, as the sandbox user) and the byte protocol to talk to them.
 * Starting a process costs milliseconds (tens on a busy or virtualised machine) where a warm
 * helper answers in a fraction of one, so helpers are kept: a finished request hands its helper
 * back to the pool, and a new one is started only when none is idle (concurrent requests, or one
 * whose helper had to be ended). A helper whose answer was cut short, or that broke the protocol,
 * is ended, never reused.
 */

/** Longest header line accepted from a helper. */
const MAX_LINE = 64 * 1024;
/** Buffered output of a helper past which it is paused until the reader catches up. */
const HIGH_WATER = 1024 * 1024;

export class HelperGone extends Error {
  override name = "HelperGone";
}

export class Helper {
  private readonly child: ChildProcess;
  private buffered: Buffer[] = [];
  private size = 0;
  private ended = false;
  private wake: (() => void) | undefined;
  private timer: Timer | undefined;

  constructor(argv: string[], env: Record<string, string>) {
    const [command, ...args] = argv;
    this.child = spawn(command!, args, { cwd: "/", env, stdio: ["pipe", "pipe", "ignore"] });
    this.child.on("error", () => this.end());
    this.child.stdin!.on("error", () => undefined); // a helper that ended: noticed when its answer never comes
    const out = this.child.stdout!;
    out.on("data", (chunk: Buffer) => {
      this.buffered.push(chunk);
      this.size += chunk.length;
      if (this.size > HIGH_WATER) out.pause();
      this.notify();
    });
    out.on("end", () => this.end());
    out.on("close", () => this.end());
  }

  private end(): void {
    this.ended = true;
    this.notify();
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private async more(): Promise<void> {
    if (this.ended) throw new HelperGone("the file helper ended");
    this.child.stdout!.resume();
    await new Promise<void>((resolve) => (this.wake = resolve));
  }

  private take(n: number): Buffer {
    const all = this.buffered.length === 1 ? this.buffered[0]! : Buffer.concat(this.buffered);
    const taken = all.subarray(0, n);
    const rest = all.subarray(n);
    this.buffered = rest.length ? [rest] : [];
    this.size = rest.length;
    if (this.size < HIGH_WATER / 4) this.child.stdout!.resume();
    return taken;
  }

  get alive(): boolean {
    return !this.ended && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Sends one request: the operation and its arguments, hex-encoded on one line. */
  send(op: string, args: string[]): void {
    if (!this.alive) throw new HelperGone("the file helper ended");
    this.child.stdin!.write(`${[op, ...args].map((part) => Buffer.from(part).toString("hex")).join(" ")}\n`);
  }

  /** The next line of the answer; the helper is ended when none comes within `timeoutMs`. */
  async line(timeoutMs: number): Promise<string> {
    this.timer = setTimeout(() => this.kill(), timeoutMs);
    try {
      for (;;) {
        const all = this.buffered.length > 1 ? Buffer.concat(this.buffered) : (this.buffered[0] ?? Buffer.alloc(0));
        this.buffered = all.length ? [all] : [];
        const at = all.indexOf(10);
        if (at >= 0) return this.take(at + 1).subarray(0, at).toString("utf8");
        if (all.length > MAX_LINE) {
          this.kill();
          throw new HelperGone("the file helper sent an endless line");
        }
        await this.more();
      }
    } finally {
      clearTimeout(this.timer);
    }
  }

  /** Exactly `n` bytes of the answer, as they come. Throws if the helper ends first. */
  async *bytes(n: number): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (this.size === 0) await this.more();
      const piece = this.take(Math.min(left, this.size));
      left -= piece.length;
      if (piece.length) yield piece;
    }
  }

  /** Exactly `n` bytes, gathered. */
  async exactly(n: number): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const part of this.bytes(n)) parts.push(part);
    return Buffer.concat(parts);
  }

  /**
   * A sink for a staged upload's bytes, sent as frames (`<n>\n` and n bytes, `0\n` at the end), so
   * the helper knows where they end without closing its stdin.
   */
  frames(): Writable {
    const stdin = this.child.stdin!;
    return new Writable({
      write(chunk: Buffer, _encoding, callback) {
        stdin.write(`${chunk.length}\n`);
        stdin.write(chunk, (error) => callback(error ?? null));
      },
      final(callback) {
        stdin.write("0\n", (error) => callback(error ?? null));
      },
    });
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
    this.end();
  }
}

export interface HelperPoolOptions {
  argv: string[];
  env: Record<string, string>;
  /** Idle helpers kept at most. */
  maxIdle?: number;
}

export class HelperPool {
  private readonly idle: Helper[] = [];
  private readonly live = new Set<Helper>();
  private stopped = false;

  constructor(private readonly options: HelperPoolOptions) {}

  private spawn(): Helper {
    const helper = new Helper(this.options.argv, this.options.env);
    this.live.add(helper);
    return helper;
  }

  /** An idle helper, or a new one. `fresh` when it was not taken from the pool. */
  acquire(): { helper: Helper; fresh: boolean } {
    if (this.stopped) throw new HelperGone("the server is stopping");
    for (let helper = this.idle.pop(); helper; helper = this.idle.pop()) {
      if (helper.alive) return { helper, fresh: false };
      this.live.delete(helper);
    }
    return { helper: this.spawn(), fresh: true };
  }

  /** Gives back a helper that answered completely; ended when the pool is full or stopped. */
  release(helper: Helper): void {
    if (!this.stopped && helper.alive && this.idle.length < (this.options.maxIdle ?? 1)) this.idle.push(helper);
    else this.discard(helper);
  }

  /** Ends a helper whose state is unknown (an answer cut short, a protocol error). */
  discard(helper: Helper): void {
    helper.kill();
    this.live.delete(helper);
  }

  /** Starts one idle helper ahead of the first request. */
  warm(): void {
    if (!this.stopped && this.idle.length === 0) this.idle.push(this.spawn());
  }

  stop(): void {
    this.stopped = true;
    for (const helper of this.live) helper.kill();
    this.live.clear();
    this.idle.length = 0;
  }
}
