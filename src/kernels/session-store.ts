import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { AppError, messageOf } from "../errors";
import type { Logger } from "../log";
import { BashShell, type BashShellOptions } from "./bash-shell";
import { userEnvironment } from "./environment";
import type { KernelPool } from "./kernel-pool";
import type { PythonKernel } from "./python-kernel";
import type { ProcessFacts, RunProcesses } from "../confinement/run-processes";
import { SerialQueue } from "./serial-queue";

/** The id of the session used by calls that name none; its state persists between them. */
export const DEFAULT_SESSION_ID = "default";

export interface SessionOptions {
  env?: Record<string, string>;
  metadata?: Record<string, unknown>;
  /** Bounds the session's life, whatever its use. */
  lifetimeSeconds?: number;
  language?: string;
}

/**
 * An execution session: one Python kernel (taken from the pool on first use), one persistent shell
 * (started on first use), and a working directory. Its runs execute one at a time, in order.
 */
export class Session {
  readonly createdAt: Date;
  lastUsedAt: number;
  executions = 0;
  closed = false;
  kernel: PythonKernel | undefined;
  shell: BashShell | undefined;
  readonly queue = new SerialQueue();
  /** Set when Python state was lost outside a run; reported with the next Python result. */
  pendingNotice: string | undefined;
  /** Set when the shell's state was lost after its run was answered; reported with the next shell result. */
  pendingShellNotice: string | undefined;

  constructor(
    readonly id: string,
    readonly dir: string,
    readonly options: SessionOptions,
    now: number,
  ) {
    this.createdAt = new Date(now);
    this.lastUsedAt = now;
  }

  get env(): Record<string, string> {
    return this.options.env ?? {};
  }

  get metadata(): Record<string, unknown> {
    return this.options.metadata ?? {};
  }

  /** When the session's lifetime ends, if it has one. */
  get endsAt(): Date | undefined {
    const seconds = this.options.lifetimeSeconds;
    return seconds === undefined ? undefined : new Date(this.createdAt.getTime() + seconds * 1000);
  }
}

export interface SessionStoreOptions {
  pool: KernelPool;
  /** The sandbox's file area; sessions work in `<workspace>/sessions/<id>`. */
  workspace: string;
  /**
   * A server whose one session is its sandbox's: the session works in the workspace itself, where
   * the kernels start, so opening it makes no directory and runs no setup cell unless it has an
   * environment of its own (closing it keeps the files: the sandbox goes with them).
   */
  oneSession?: boolean;
  idleSeconds: number;
  maxSessions: number;
  log: Logger;
  /** Environment every kernel and shell starts from. */
  baseEnv?: Record<string, string>;
  /** How shells start and where their scripts go (a confined sandbox starts them as the sandbox user). */
  shell?: Pick<BashShellOptions, "launch" | "scriptDir" | "runProcesses">;
  /**
   * Finds what a session's runs left running (below or in the session of its kernel and its shell):
   * listed in its usage, ended when it closes. Undefined where /proc cannot tell (not Linux).
   */
  leftovers?: Pick<RunProcesses, "list" | "halt">;
  /** Creates and removes session directories (default: this process, with node:fs). */
  directories?: SessionDirectories;
  clock?: () => number;
  /** How often expiry is checked; defaults to a quarter of the idle limit, at most a minute. */
  sweepMs?: number;
}

/** Who creates and removes session directories: the server itself, or the sandbox user for it. */
export interface SessionDirectories {
  create(path: string): Promise<void> | void;
  remove(path: string): Promise<void> | void;
}

const localDirectories: SessionDirectories = {
  create: (path) => void mkdirSync(path, { recursive: true }),
  remove: (path) => rmSync(path, { recursive: true, force: true }),
};

/** Python that puts a fresh kernel into its session: working directory and environment. */
function sessionSetupCode(session: Session): string {
  return [
    "import os as __cr_os",
    `__cr_os.chdir(${JSON.stringify(session.dir)})`,
    `__cr_os.environ.update(${JSON.stringify(session.env)})`,
    "del __cr_os",
  ].join("\n");
}

export class SessionStore {
  private readonly sessions = new Map<string, Session>();
  private creatingDefault: Promise<Session> | undefined;
  private sweeper: Timer | undefined;
  private readonly clock: () => number;
  private readonly directories: SessionDirectories;

  constructor(private readonly options: SessionStoreOptions) {
    this.clock = options.clock ?? Date.now;
    this.directories = options.directories ?? localDirectories;
  }

  get size(): number {
    return this.sessions.size;
  }

  get workspace(): string {
    return this.options.workspace;
  }

  start(): void {
    const every = this.options.sweepMs ?? Math.min(60_000, (this.options.idleSeconds * 1000) / 4);
    this.sweeper = setInterval(() => void this.sweep(), Math.max(every, 10));
    this.sweeper.unref?.();
  }

  /** Creates a session with its own directory and a kernel from the pool. */
  async create(options: SessionOptions = {}, id: string = crypto.randomUUID()): Promise<Session> {
    if (this.sessions.size >= this.options.maxSessions) {
      throw new AppError("TOO_MANY_SESSIONS", `At most ${this.options.maxSessions} sessions may be open; close one first.`);
    }
    const dir = this.options.oneSession ? this.options.workspace : join(this.options.workspace, "sessions", id);
    const session = new Session(id, dir, options, this.clock());
    // Counted at once, so concurrent creations cannot pass the limit while a directory is being made.
    this.sessions.set(id, session);
    try {
      const made = this.options.oneSession ? undefined : this.directories.create(dir);
      if (made) await made;
      if ((options.language ?? "python") === "python") await this.kernelFor(session);
    } catch (error) {
      this.sessions.delete(id);
      throw error;
    }
    return session;
  }

  /** The session, or a 404. Counts as use. */
  get(id: string): Session {
    const session = this.find(id);
    if (!session) throw new AppError("SESSION_NOT_FOUND", `No session with id ${JSON.stringify(id)} (it may have expired or been closed).`);
    return session;
  }

  find(id: string): Session | undefined {
    const session = this.sessions.get(id);
    if (session && this.expired(session)) {
      void this.close(id);
      return undefined;
    }
    return session;
  }

  /** The session for calls that name none, created on first use. */
  async defaultSession(): Promise<Session> {
    const existing = this.find(DEFAULT_SESSION_ID);
    if (existing) return existing;
    this.creatingDefault ??= this.create({}, DEFAULT_SESSION_ID).finally(() => {
      this.creatingDefault = undefined;
    });
    return this.creatingDefault;
  }

  /** The named session, or the default one when `id` is absent. */
  async resolve(id: string | undefined | null): Promise<Session> {
    return id ? this.get(id) : this.defaultSession();
  }

  list(): Session[] {
    return [...this.sessions.values()].filter((session) => !this.expired(session));
  }

  touch(session: Session): void {
    session.lastUsedAt = this.clock();
  }

  /**
   * The session's kernel, taken from the pool (and set up) on first use. A kernel that died since the
   * last run is replaced, and the next result says the state was lost.
   */
  async kernelFor(session: Session): Promise<PythonKernel> {
    if (session.kernel?.usable) return session.kernel;
    if (session.kernel) {
      this.discardKernel(session, "The session's Python kernel had died; it was replaced and the session's Python state was lost.");
    }
    const kernel = await this.options.pool.acquire();
    try {
      // A kernel starts in the workspace: a session working there with no environment of its own needs no setup.
      if (!(this.options.oneSession && Object.keys(session.env).length === 0)) await kernel.runSilently(sessionSetupCode(session));
    } catch (error) {
      void kernel.shutdown({ kill: true });
      throw error;
    }
    if (session.closed) {
      void kernel.shutdown();
      throw new AppError("SESSION_NOT_FOUND", `Session ${session.id} was closed.`);
    }
    session.kernel = kernel;
    return kernel;
  }

  /** The session's persistent shell, started on first use. */
  shellFor(session: Session): BashShell {
    session.shell ??= new BashShell({
      cwd: session.dir,
      env: { ...(this.options.baseEnv ?? userEnvironment()), ...session.env },
      ...this.options.shell,
    });
    return session.shell;
  }

  /**
   * Ends a session's kernel (dead or wedged) in the background; the session gets a warm one from the
   * pool on its next run. `notice`, if given, is reported with that run.
   */
  discardKernel(session: Session, notice?: string): void {
    const kernel = session.kernel;
    session.kernel = undefined;
    if (notice) session.pendingNotice = notice;
    void kernel?.shutdown({ kill: true });
  }

  /** Forgets every session's kernel (their server is gone); each gets a new one, and `notice`, on next use. */
  dropKernels(notice: string): void {
    for (const session of this.sessions.values()) if (session.kernel) this.discardKernel(session, notice);
  }

  /** The processes `session`'s runs left running, and those of the run under way: neither its kernel nor its shell. */
  leftovers(session: Session): ProcessFacts[] {
    const finder = this.options.leftovers;
    if (!finder) return [];
    return [session.kernel?.pid, session.shell?.pid].flatMap((root) => (root ? finder.list(root) : []));
  }

  /**
   * Closes a session: cancels its queued runs, ends what its runs left running (a server in the
   * background, a `nohup` job, a process in a session of its own), then its kernel and shell, and
   * removes its directory (unless `keepFiles`).
   */
  async close(id: string, options: { keepFiles?: boolean } = {}): Promise<boolean> {
    const session = this.sessions.get(id);
    if (!session) return false;
    this.sessions.delete(id);
    session.closed = true;
    session.queue.cancelPending(new AppError("SESSION_GONE", `Session ${id} was closed before this run started.`));
    for (const root of [session.kernel?.pid, session.shell?.pid]) {
      // Frozen while the rest is killed, so it starts nothing new meanwhile; then it ends its own way.
      if (root && this.options.leftovers) this.options.leftovers.halt(root, 0).resume();
    }
    session.shell?.close();
    await session.kernel?.shutdown();
    if (!options.keepFiles && !this.options.oneSession) await this.directories.remove(session.dir);
    return true;
  }

  private expired(session: Session): boolean {
    const now = this.clock();
    const ends = session.endsAt;
    if (ends && now >= ends.getTime()) return true;
    return session.queue.length === 0 && now - session.lastUsedAt >= this.options.idleSeconds * 1000;
  }

  /** Closes sessions past their idle limit or lifetime. */
  async sweep(): Promise<void> {
    for (const session of [...this.sessions.values()]) {
      if (this.expired(session)) {
        this.options.log.info(`Closing session ${session.id}: idle or past its lifetime`);
        await this.close(session.id).catch((error) => this.options.log.warn(`Closing ${session.id}: ${messageOf(error)}`));
      }
    }
  }

  /**
   * Ends every session's kernel and shell but keeps their files: a server stopped (a container
   * stopped, then resumed) finds the default session's files where it left them.
   */
  async stop(): Promise<void> {
    clearInterval(this.sweeper);
    await Promise.allSettled([...this.sessions.keys()].map((id) => this.close(id, { keepFiles: true })));
  }
}
