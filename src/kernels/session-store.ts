import { mkdirSync, rmSync, statSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { AppError } from "../errors";
import type { Logger } from "../log";
import { BashShell, type BashShellOptions } from "./bash-shell";
import { userEnvironment } from "./environment";
import type { KernelPool } from "./kernel-pool";
import type { PythonKernel } from "./python-kernel";
import type { ProcessFacts, RunProcesses } from "./run-processes";
import { DEFAULT_SESSION_ID, Session, type SessionOptions } from "./session";
import { SessionRegistry } from "../sessions/registry";

export { DEFAULT_SESSION_ID, Session, type SessionEngine, type SessionOptions } from "./session";

export interface SessionStoreOptions {
  pool: KernelPool;
  /** The sandbox's file area; sessions work in `<workspace>/sessions/<id>`. */
  workspace: string;
  /**
   * A server whose one session is its sandbox's: the session works in the workspace itself, where
   * the kernels start, so opening it makes no directory and hands its kernel no setup unless it has
   * an environment or working directory of its own (closing it keeps the files: the sandbox goes with them).
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
  /** How often expiry is checked; defaults to a quarter of the idle limit, at most a minute (`sweepInterval`). */
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

/** Refuses a working directory that is not an existing absolute directory (a kernel set up there would fail). */
function checkWorkingDirectory(path: string): void {
  let directory = false;
  try {
    directory = isAbsolute(path) && statSync(path).isDirectory();
  } catch {
    // Missing or not reachable: refused below.
  }
  if (!directory) throw new AppError("VALIDATION_ERROR", `Invalid body field 'working_directory': ${JSON.stringify(path)} is not an existing absolute directory.`);
}

/**
 * The execution sessions of a server: creates them (directory, kernel), hands out their kernels and
 * shells, and closes them. Lookup, the default session, use and expiry are its `SessionRegistry`'s:
 * reading a session (`get`, `find`, `list`) is not a use; `resolve`, a run and `touch` are.
 */
export class SessionStore {
  private readonly registry: SessionRegistry<Session>;
  private readonly directories: SessionDirectories;

  constructor(private readonly options: SessionStoreOptions) {
    this.directories = options.directories ?? localDirectories;
    this.registry = new SessionRegistry<Session>({
      noun: "session",
      idleSeconds: options.idleSeconds,
      maxSessions: options.maxSessions,
      log: options.log,
      clock: options.clock,
      sweepMs: options.sweepMs,
      missing: (id) => new AppError("SESSION_NOT_FOUND", `No session with id ${JSON.stringify(id)} (it may have expired or been closed).`),
      createDefault: () => this.create({}, DEFAULT_SESSION_ID),
      expire: (session) => this.close(session.id),
    });
  }

  get size(): number {
    return this.registry.size;
  }

  get workspace(): string {
    return this.options.workspace;
  }

  start(): void {
    this.registry.start();
  }

  /** Creates a session with its own directory and a kernel from the pool. */
  async create(options: SessionOptions = {}, id: string = crypto.randomUUID()): Promise<Session> {
    if (options.workingDirectory !== undefined) checkWorkingDirectory(options.workingDirectory);
    this.registry.checkRoom();
    const dir = this.options.oneSession ? this.options.workspace : join(this.options.workspace, "sessions", id);
    const session = new Session(id, dir, options, this.registry.now());
    // Counted at once, so concurrent creations cannot pass the limit while a directory is being made.
    this.registry.add(session);
    try {
      const made = this.options.oneSession ? undefined : this.directories.create(dir);
      if (made) await made;
      if ((options.language ?? "python") === "python") await this.kernelFor(session);
    } catch (error) {
      this.registry.remove(session);
      throw error;
    }
    return session;
  }

  /** The session, or a 404. Reading it is not a use: it does not keep the session alive. */
  get(id: string): Session {
    return this.registry.get(id);
  }

  /** The live session or undefined (an expired one is closed on the way). Not a use. */
  find(id: string): Session | undefined {
    return this.registry.find(id);
  }

  /** The session for calls that name none, created on first use. A use. */
  defaultSession(): Promise<Session> {
    return this.registry.defaultSession();
  }

  /** The session work is about to use: the named one (or a 404), or the default one when `id` is absent. A use. */
  resolve(id: string | undefined | null): Promise<Session> {
    return this.registry.resolve(id);
  }

  /** The live sessions. Not a use. */
  list(): Session[] {
    return this.registry.list();
  }

  /** Records a use of `session` now. */
  touch(session: Session): void {
    this.registry.touch(session);
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
    if (session.closed) {
      void kernel.shutdown();
      throw new AppError("SESSION_NOT_FOUND", `Session ${session.id} was closed.`);
    }
    // A kernel starts in the workspace: a session working there with no environment of its own needs no
    // setup. Otherwise the kernel enters the session's directory and environment with the session's first
    // request, at no cost of its own (its directory was checked when the session was made).
    if (!(this.options.oneSession && session.cwd === this.options.workspace && Object.keys(session.env).length === 0)) {
      kernel.prepare({ cwd: session.cwd, env: session.env });
    }
    session.useKernel(kernel);
    return kernel;
  }

  /** The session's persistent shell, started on first use. */
  shellFor(session: Session): BashShell {
    return session.shellOr(
      () =>
        new BashShell({
          cwd: session.cwd,
          env: { ...(this.options.baseEnv ?? userEnvironment()), ...session.env },
          ...this.options.shell,
        }),
    );
  }

  /**
   * Ends a session's kernel (dead or wedged) in the background; the session gets a warm one from the
   * pool on its next run. `notice`, if given, is reported with that run.
   */
  discardKernel(session: Session, notice?: string): void {
    void session.dropKernel(notice)?.shutdown({ kill: true });
  }

  /** Forgets every session's kernel (their server is gone); each gets a new one, and `notice`, on next use. */
  dropKernels(notice: string): void {
    for (const session of this.registry.all()) if (session.kernel) this.discardKernel(session, notice);
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
    const session = this.registry.held(id);
    if (!session || !this.registry.remove(session)) return false;
    session.markClosed();
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

  /** Closes sessions past their idle limit or lifetime. */
  sweep(): Promise<void> {
    return this.registry.sweep();
  }

  /**
   * Ends every session's kernel and shell but keeps their files: a server stopped (a container
   * stopped, then resumed) finds the default session's files where it left them.
   */
  async stop(): Promise<void> {
    await this.registry.stop();
    await Promise.allSettled(this.registry.all().map((session) => this.close(session.id, { keepFiles: true })));
  }
}
