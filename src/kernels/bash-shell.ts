import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RunProcesses } from "./run-processes";
import type { KernelRunOutcome } from "./python-kernel";
import { delay, stopSignal, within } from "../timers";
import type { OutputCollector } from "./output";
import { cpuSeconds, isAlive } from "./proc-stats";

/**
 * A persistent bash process: each run is sourced into the same shell, so `cd` and `export` carry
 * over. The end of a run is a marker carrying a per-run nonce and the exit status, written to both
 * streams after the script returns; output before the marker is the run's.
 *
 * Interrupting sends SIGINT to the shell's process group: the foreground command dies, and the
 * shell's INT trap returns from the sourced script, so the shell (and its state) survives. A shell
 * that does not come back within the grace period is killed; the next run starts a fresh one.
 * With `runProcesses` (a confined sandbox), what the run started is ended before the interrupt
 * (background jobs ignore SIGINT), and killing the shell ends everything in its session.
 */

export interface BashShellOptions {
  cwd: string;
  env: Record<string, string>;
  /** Shell executable. */
  bash?: string;
  /**
   * How the shell process is started: the argv and directory to spawn (default: as given). A
   * confined sandbox starts it as the sandbox user, which enters `cwd` itself.
   */
  launch?: (argv: string[], cwd: string) => { argv: string[]; cwd: string };
  /**
   * A directory the shell's user can read but not change, for the scripts of its runs (default: a
   * private temporary directory of this process).
   */
  scriptDir?: string;
  /** Ends what a stopped run started (a confined sandbox); undefined: SIGINT to the group alone. */
  runProcesses?: Pick<RunProcesses, "mark" | "halt">;
}

const MARK = "\x1eCODERUNNER-END:";
/** The marker's first byte: a chunk without it, with no marker begun before it, holds none. */
const MARK_BYTE = MARK.charCodeAt(0);

type Reader = ReadableStreamDefaultReader<Uint8Array>;

class StreamTail {
  private buffer = "";
  private readonly decoder = new TextDecoder();
  private waiter: (() => void) | undefined;
  ended = false;
  /**
   * Set once the run's output filled the cap: chunks that hold no marker are dropped as they arrive,
   * undecoded, and this is called, so a flood is read (its writer never blocks) for little more
   * than the read itself.
   */
  dropping: (() => void) | undefined;

  constructor(private readonly reader: Reader) {
    void this.pump();
  }

  private async pump(): Promise<void> {
    try {
      for (;;) {
        const { done, value } = await this.reader.read();
        if (done) break;
        if (this.dropping && !this.buffer && !value.includes(MARK_BYTE)) {
          this.dropping();
          continue;
        }
        this.buffer += this.decoder.decode(value, { stream: true });
        this.wake();
      }
    } catch {
      // The process went away; `ended` tells.
    }
    this.ended = true;
    this.wake();
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.();
  }

  /** Text received and not yet taken. */
  take(upTo = this.buffer.length): string {
    const text = this.buffer.slice(0, upTo);
    this.buffer = this.buffer.slice(upTo);
    return text;
  }

  peek(): string {
    return this.buffer;
  }

  /**
   * Resolves when more text arrives or the stream ends. Text already buffered does not count: what
   * a reader left there (the start of a marker, a marker without its newline yet) waits for more,
   * and resolving at once would spin the reader in microtasks, starving the event loop for good.
   */
  next(): Promise<void> {
    return new Promise((resolve) => {
      this.waiter = resolve;
      if (this.ended) this.wake();
    });
  }
}

export class BashShell {
  private process: ReturnType<typeof Bun.spawn> | undefined;
  private stdout: StreamTail | undefined;
  private stderr: StreamTail | undefined;
  private readonly scriptDir: string;
  private readonly ownScriptDir: boolean;
  private runs = 0;

  constructor(private readonly options: BashShellOptions) {
    this.ownScriptDir = options.scriptDir === undefined;
    this.scriptDir = options.scriptDir ?? mkdtempSync(join(tmpdir(), "coderunner-sh-"));
  }

  /** The shell's PID while it lives. Checked in /proc too: Bun learns of a child's death only later. */
  get pid(): number | undefined {
    const proc = this.process;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return undefined;
    return isAlive(proc.pid) ? proc.pid : undefined;
  }

  get alive(): boolean {
    return this.pid !== undefined;
  }

  private get stdin(): import("bun").FileSink {
    return this.process!.stdin as import("bun").FileSink;
  }

  private ensureStarted(): void {
    if (this.alive) return;
    const shell = [this.options.bash ?? "/bin/bash", "--noprofile", "--norc"];
    const { argv, cwd } = this.options.launch?.(shell, this.options.cwd) ?? { argv: shell, cwd: this.options.cwd };
    const proc = Bun.spawn(argv, {
      cwd,
      env: { ...this.options.env, PS1: "", TERM: "dumb" },
      stdin: "pipe",
      stdout: "pipe",
      stderr: "pipe",
      // Own process group, so an interrupt reaches the shell and its foreground command only.
      detached: true,
    });
    this.process = proc;
    this.stdout = new StreamTail((proc.stdout as ReadableStream<Uint8Array>).getReader());
    this.stderr = new StreamTail((proc.stderr as ReadableStream<Uint8Array>).getReader());
  }

  /**
   * Signals the shell's whole process group, its background jobs included, even when the shell
   * itself has already exited.
   */
  private signal(name: "SIGINT" | "SIGKILL"): void {
    const proc = this.process;
    if (!proc) return;
    const runProcesses = this.options.runProcesses;
    if (name === "SIGKILL" && runProcesses) {
      // Everything the shell started, its session left or not, then the shell, frozen till then.
      runProcesses.halt(proc.pid, 0).kill();
    }
    try {
      process.kill(-proc.pid, name);
    } catch {
      // Nothing is left in the group.
    }
  }

  /** Runs `script` in the shell. Output goes to `collector`; the outcome says how it ended. */
  async execute(
    script: string,
    options: { timeoutMs: number; interruptGraceMs: number; collector: OutputCollector; signal?: AbortSignal },
  ): Promise<KernelRunOutcome & { exitCode: number | null; freshShell: boolean }> {
    // The shell ended between runs by itself (not by our hand after a reported failure).
    const freshShell = this.process !== undefined && !this.alive;
    this.ensureStarted();
    const pid = this.pid;
    const cpuBefore = cpuSeconds(pid);
    const runProcesses = pid === undefined ? undefined : this.options.runProcesses;
    const since = runProcesses?.mark();
    const nonce = `${crypto.randomUUID()}`;
    const path = join(this.scriptDir, this.ownScriptDir ? `run-${++this.runs}.sh` : `${crypto.randomUUID()}.sh`);
    // Readable by the shell's user when that is another one (the directory lets it read, not list).
    writeFileSync(path, script.endsWith("\n") ? script : `${script}\n`, { mode: 0o644 });
    const marker = `${MARK}${nonce}:`;
    // The INT trap is set anew for every run (bash can lose track of it after a child died of SIGINT);
    // its `return` leaves the sourced script while the shell itself keeps running.
    try {
      this.stdin.write(
        `trap 'return 130 2>/dev/null' INT; source ${path} </dev/null; __cr_status=$?; printf '${marker}%d\\n' "$__cr_status"; printf '${marker}\\n' >&2\n`,
      );
      this.stdin.flush();
    } catch {
      // The shell died just now (EPIPE): the run never started.
      rmSync(path, { force: true });
      this.kill();
      return { status: "died", cpuTime: null, exitCode: null, freshShell };
    }

    const { collector } = options;
    const tails = [this.stdout!, this.stderr!];
    const dropped = () => {
      collector.truncated = true;
    };
    const collect = (stream: "stdout" | "stderr", text: string) => {
      collector[stream](text);
      if (collector.full) for (const tail of tails) tail.dropping = dropped;
    };
    const stop = stopSignal(options.timeoutMs, options.signal);
    let stopped = false;
    void stop.promise.then(() => {
      stopped = true;
      const halted = runProcesses?.halt(pid!, since!);
      try {
        this.signal("SIGINT");
      } finally {
        halted?.resume();
      }
    });
    const grace = delay(options.timeoutMs + options.interruptGraceMs, "stuck" as const);
    let abortTimer: Timer | undefined;
    const onAbort = () => {
      abortTimer = setTimeout(() => resolveAbort("stuck"), options.interruptGraceMs);
    };
    const { promise: abortGrace, resolve: resolveAbort } = Promise.withResolvers<"stuck">();
    options.signal?.addEventListener("abort", onAbort, { once: true });
    try {
      const [exitCode, errDone] = await Promise.race([
        Promise.all([this.drain(this.stdout!, marker, (t) => collect("stdout", t)), this.drain(this.stderr!, marker, (t) => collect("stderr", t))]),
        grace.promise.then(() => ["stuck", false] as const),
        abortGrace.then(() => ["stuck", false] as const),
      ]);
      if (exitCode === "ended" && !stopped) {
        // The script ended the shell itself (`exit 3`, `exec`, a fatal signal): report the shell's status.
        const cpuTime = cpuSpent(pid, cpuBefore);
        const status = await within(this.process!.exited, 500, null);
        this.kill();
        return { status: "died", cpuTime, exitCode: status, freshShell };
      }
      if (exitCode === "stuck" || exitCode === "ended" || !errDone) {
        const cpuTime = cpuSpent(pid, cpuBefore);
        this.kill();
        return { status: "unresponsive", cpuTime, exitCode: null, freshShell };
      }
      const cpuTime = cpuSpent(pid, cpuBefore);
      // Started between the sweep and the interrupt.
      if (stopped) runProcesses?.halt(pid!, since!).resume();
      return { status: stopped ? "interrupted" : "completed", cpuTime, exitCode, freshShell };
    } finally {
      for (const tail of tails) tail.dropping = undefined;
      stop.cancel();
      grace.cancel();
      clearTimeout(abortTimer);
      options.signal?.removeEventListener("abort", onAbort);
      rmSync(path, { force: true });
    }
  }

  /** Forwards stream text until the marker; resolves to the exit status (stdout) or true (stderr). */
  private async drain(tail: StreamTail, marker: string, emit: (text: string) => void): Promise<any> {
    for (;;) {
      const text = tail.peek();
      const at = text.indexOf(marker);
      if (at >= 0) {
        const end = text.indexOf("\n", at);
        if (end >= 0) {
          emit(tail.take(at));
          const status = tail.take(end + 1 - at).slice(marker.length).trim();
          return status === "" ? true : Number(status);
        }
      } else {
        // Forward all but a possible partial marker at the end.
        const keep = partialSuffix(text, marker);
        if (text.length > keep) emit(tail.take(text.length - keep));
      }
      if (tail.ended) return "ended";
      await tail.next();
    }
  }

  /** Ends the shell and everything in its process group. */
  kill(): void {
    this.signal("SIGKILL");
    this.process = undefined;
  }

  close(): void {
    this.kill();
    if (this.ownScriptDir) rmSync(this.scriptDir, { recursive: true, force: true });
  }
}

function cpuSpent(pid: number | undefined, before: number | null): number | null {
  const after = cpuSeconds(pid);
  return before === null || after === null ? null : Math.max(0, after - before);
}

/** Length of the longest suffix of `text` that is a prefix of `marker`. */
function partialSuffix(text: string, marker: string): number {
  const start = text.lastIndexOf(marker[0]!);
  if (start < 0) return 0;
  const suffix = text.slice(start);
  return marker.startsWith(suffix) || suffix.startsWith(marker) ? text.length - start : 0;
}
