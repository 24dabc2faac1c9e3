import type { BashShell } from "./bash-shell";
import type { PythonKernel } from "./python-kernel";
import { SerialQueue } from "./serial-queue";
import { DEFAULT_ID, RegisteredSession } from "../sessions/registry";

/** The id of the session used by calls that name none; its state persists between them. */
export const DEFAULT_SESSION_ID = DEFAULT_ID;

export interface SessionOptions {
  env?: Record<string, string>;
  metadata?: Record<string, unknown>;
  /** Bounds the session's life, whatever its use. */
  lifetimeSeconds?: number;
  language?: string;
  /** Where its kernel and shell start (default: its own directory, `dir`). */
  workingDirectory?: string;
}

/** The two ways code runs in a session, each with its own state. */
export type SessionEngine = "python" | "shell";

/**
 * An execution session: one Python kernel (taken from the pool on first use), one persistent shell
 * (started on first use), and a working directory. Its runs execute one at a time, in order; a run
 * queued or under way keeps it busy, so it does not idle out. It changes its own state: its store
 * gives it a kernel and a shell, its executor counts its runs and leaves notices for the next one.
 */
export class Session extends RegisteredSession {
  readonly queue = new SerialQueue();
  #executions = 0;
  #closed = false;
  #kernel: PythonKernel | undefined;
  #shell: BashShell | undefined;
  /** Per engine, why its state was lost outside a run; reported with that engine's next result. */
  readonly #notices = new Map<SessionEngine, string>();

  constructor(
    id: string,
    readonly dir: string,
    readonly options: SessionOptions,
    now: number,
  ) {
    super(id, now);
  }

  /** Where its code starts: the working directory of its kernel and shell. */
  get cwd(): string {
    return this.options.workingDirectory ?? this.dir;
  }

  get env(): Record<string, string> {
    return this.options.env ?? {};
  }

  get metadata(): Record<string, unknown> {
    return this.options.metadata ?? {};
  }

  /** When the session's lifetime ends, if it has one. */
  override get endsAt(): Date | undefined {
    const seconds = this.options.lifetimeSeconds;
    return seconds === undefined ? undefined : new Date(this.createdAt.getTime() + seconds * 1000);
  }

  /** Runs queued or under way, as well as other work: an idle limit does not end the session meanwhile. */
  override get busy(): boolean {
    return super.busy || this.queue.length > 0;
  }

  /** Runs finished in this session. */
  get executions(): number {
    return this.#executions;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get kernel(): PythonKernel | undefined {
    return this.#kernel;
  }

  get shell(): BashShell | undefined {
    return this.#shell;
  }

  /** Why the Python state was lost outside a run, until the next Python result reports it. */
  get pendingNotice(): string | undefined {
    return this.#notices.get("python");
  }

  /** Counts a finished run. */
  countRun(): void {
    this.#executions += 1;
  }

  /** The session is closed: runs not started yet will not start. */
  markClosed(): void {
    this.#closed = true;
  }

  /** Gives the session its kernel. */
  useKernel(kernel: PythonKernel): void {
    this.#kernel = kernel;
  }

  /** Takes the kernel away (to be ended); `notice`, if given, is reported with the next Python result. */
  dropKernel(notice?: string): PythonKernel | undefined {
    const kernel = this.#kernel;
    this.#kernel = undefined;
    if (notice) this.leaveNotice("python", notice);
    return kernel;
  }

  /** The session's shell, started with `start` on first use. */
  shellOr(start: () => BashShell): BashShell {
    this.#shell ??= start();
    return this.#shell;
  }

  /** Keeps `notice` for the next result of `engine`. */
  leaveNotice(engine: SessionEngine, notice: string): void {
    this.#notices.set(engine, notice);
  }

  /** The notice kept for `engine`, once: the result that reports it clears it. */
  takeNotice(engine: SessionEngine): string | undefined {
    const notice = this.#notices.get(engine);
    this.#notices.delete(engine);
    return notice;
  }
}
