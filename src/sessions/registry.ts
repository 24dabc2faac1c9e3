import { AppError, messageOf } from "../errors";
import type { Logger } from "../log";

/**
 * What every session has, whatever runs in it: an id, when it was made and when it was last used.
 * Only the session changes its own state; its registry tells it when it is used.
 *
 * **What counts as use.** Work done in a session keeps it alive: a run (counted from when it is
 * queued until it ends, so a session is never idle while work is under way or waiting), a browser
 * action, a file moved in or out, and naming the session for any of these (`SessionRegistry.resolve`).
 * Looking at a session does not: its status, its usage figures and listings leave `lastUsedAt` as it
 * was, so a dashboard polling its sessions neither keeps them open forever nor makes `last_used_at`
 * report the poll instead of the work.
 */
export class RegisteredSession {
  readonly createdAt: Date;
  #lastUsedAt: number;
  #working = 0;

  constructor(
    readonly id: string,
    now: number,
  ) {
    this.createdAt = new Date(now);
    this.#lastUsedAt = now;
  }

  /** The last use, in milliseconds of the registry's clock. */
  get lastUsedAt(): number {
    return this.#lastUsedAt;
  }

  /** Work under way in this session (see `startWork`): a busy session does not idle out. */
  get busy(): boolean {
    return this.#working > 0;
  }

  /** When the session's lifetime ends whatever its use; none unless a kind of session sets one. */
  get endsAt(): Date | undefined {
    return undefined;
  }

  /** Records a use at `now`; a clock that steps back never makes the session look older. */
  touch(now: number): void {
    this.#lastUsedAt = Math.max(this.#lastUsedAt, now);
  }

  /** Work in the session began at `now`: it counts as use and keeps the session busy until `endWork`. */
  startWork(now: number): void {
    this.#working++;
    this.touch(now);
  }

  /** The work begun by `startWork` ended at `now`, which counts as use too. */
  endWork(now: number): void {
    this.#working = Math.max(0, this.#working - 1);
    this.touch(now);
  }
}

/** How often a sweep runs for a limit of `limitMs`: a quarter of it, at most a minute, at least 10 ms. */
export function sweepInterval(limitMs: number): number {
  return Math.max(10, Math.min(60_000, limitMs / 4));
}

/**
 * Calls `sweep` every `everyMs` between `start` and `stop`, one sweep at a time (a slow sweep is not
 * overlapped by the next); the timer never keeps the process alive. The one timer behind session
 * expiry, browser sessions and finished async tasks.
 */
export class SweepLoop {
  private timer: Timer | undefined;
  private running: Promise<unknown> | undefined;

  constructor(private readonly sweep: () => unknown) {}

  /** Sweeps every `everyMs` from now on (at least every 10 ms: a zero never spins the loop). */
  start(everyMs: number): void {
    void this.stop();
    this.timer = setInterval(() => {
      this.running ??= Promise.resolve()
        .then(this.sweep)
        .catch(() => undefined)
        .finally(() => (this.running = undefined));
    }, Math.max(10, everyMs));
    this.timer.unref?.();
  }

  /** Stops the timer and resolves once a sweep under way has ended. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }
}

export interface SessionRegistryOptions<S extends RegisteredSession> {
  /** What the sessions are called in messages ("session", "browser session"). */
  noun: string;
  /** Seconds without use after which a session that is not busy expires. */
  idleSeconds: number;
  /** Sessions open at once; one more is a 429. */
  maxSessions: number;
  log: Logger;
  clock?: () => number;
  /** How often expiry is checked; defaults to `sweepInterval` of the idle limit. */
  sweepMs?: number;
  /** The error for an id with no live session. */
  missing: (id: string) => AppError;
  /** Creates the session for calls that name none; called once however many callers wait for it. */
  createDefault: () => Promise<S>;
  /** Ends an expired session (the owner's close, which calls `remove`). */
  expire: (session: S) => Promise<unknown>;
  /** Runs after each sweep (the browser closes an unused Chromium there). */
  afterSweep?: () => Promise<unknown> | unknown;
}

/** The id of the session used by calls that name none. */
export const DEFAULT_ID = "default";

/**
 * The sessions of one kind, by id: lookup (`get` 404s for an unknown, closed or expired one), the
 * default session (created once on first use), use (`resolve`, `touch`, `startWork`), the limit on
 * open sessions, and expiry: a session past its lifetime, or idle (not busy and unused) for
 * `idleSeconds`, is ended by the periodic sweep and is refused at once, before the sweep comes.
 * The clock is injected, so tests step time instead of waiting for it. See `RegisteredSession` for
 * what counts as use.
 *
 * @example
 * const registry = new SessionRegistry<Session>({ noun: "session", idleSeconds: 600, maxSessions: 50, log,
 *   missing: (id) => new AppError("SESSION_NOT_FOUND", `No session ${id}`),
 *   createDefault: () => store.create({}, DEFAULT_ID), expire: (s) => store.close(s.id) });
 * const session = await registry.resolve(request.session_id); // the named one, or the default; a use
 */
export class SessionRegistry<S extends RegisteredSession> {
  private readonly sessions = new Map<string, S>();
  private creatingDefault: Promise<S> | undefined;
  private readonly loop = new SweepLoop(() => this.sweep());
  /** Reads the registry's clock (milliseconds). */
  readonly now: () => number;

  constructor(private readonly options: SessionRegistryOptions<S>) {
    this.now = options.clock ?? Date.now;
  }

  /** Sessions held, expired ones not yet swept included. */
  get size(): number {
    return this.sessions.size;
  }

  /** Starts the periodic sweep. */
  start(): void {
    this.loop.start(this.options.sweepMs ?? sweepInterval(this.options.idleSeconds * 1000));
  }

  /** Stops the periodic sweep (the sessions stay: their owner closes them). */
  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** Throws 429 if no session may be added now, counting `pending` ones being created elsewhere. */
  checkRoom(pending = 0): void {
    const { maxSessions, noun } = this.options;
    if (this.sessions.size + pending >= maxSessions) {
      throw new AppError("TOO_MANY_SESSIONS", `At most ${maxSessions} ${noun}s may be open; close one first.`);
    }
  }

  /** Holds `session` (replacing any under its id). */
  add(session: S): void {
    this.sessions.set(session.id, session);
  }

  /** Lets go of `session`; false if it was not held (closed or replaced already). */
  remove(session: S): boolean {
    if (this.sessions.get(session.id) !== session) return false;
    this.sessions.delete(session.id);
    return true;
  }

  /** Whether `session` is the one held under its id. */
  holds(session: S): boolean {
    return this.sessions.get(session.id) === session;
  }

  /** The session held under `id`, live or expired: for its owner's close. */
  held(id: string): S | undefined {
    return this.sessions.get(id);
  }

  /** The live session, or undefined; an expired one is ended on the way. Not a use. */
  find(id: string): S | undefined {
    const session = this.sessions.get(id);
    if (session && this.expired(session)) {
      void this.end(session);
      return undefined;
    }
    return session;
  }

  /** The live session, or the owner's error (404). Not a use: reading a session leaves it as it was. */
  get(id: string): S {
    const session = this.find(id);
    if (!session) throw this.options.missing(id);
    return session;
  }

  /** The session for calls that name none, created on first use (once, for concurrent callers). A use. */
  async defaultSession(): Promise<S> {
    const existing = this.find(DEFAULT_ID);
    if (existing) {
      this.touch(existing);
      return existing;
    }
    this.creatingDefault ??= this.options.createDefault().finally(() => {
      this.creatingDefault = undefined;
    });
    return this.creatingDefault;
  }

  /** The session work is about to use: the named one (or the error of `get`), or the default one. A use. */
  async resolve(id: string | null | undefined): Promise<S> {
    if (!id) return this.defaultSession();
    const session = this.get(id);
    this.touch(session);
    return session;
  }

  /** The live sessions, in creation order. Not a use. */
  list(): S[] {
    return [...this.sessions.values()].filter((session) => !this.expired(session));
  }

  /** Every session held, expired ones included: for closing them all. */
  all(): S[] {
    return [...this.sessions.values()];
  }

  /** Records a use of `session` now. */
  touch(session: S): void {
    session.touch(this.now());
  }

  /** Work in `session` begins now; it cannot idle out until `endWork`. */
  startWork(session: S): void {
    session.startWork(this.now());
  }

  endWork(session: S): void {
    session.endWork(this.now());
  }

  /** Past its lifetime, or not busy and unused for the idle limit. */
  expired(session: S): boolean {
    const now = this.now();
    const ends = session.endsAt;
    if (ends && now >= ends.getTime()) return true;
    return !session.busy && now - session.lastUsedAt >= this.options.idleSeconds * 1000;
  }

  /** Ends every expired session, then runs `afterSweep`. */
  async sweep(): Promise<void> {
    for (const session of this.all()) {
      if (this.expired(session) && this.holds(session)) {
        this.options.log.info(`Closing ${this.options.noun} ${session.id}: unused for ${this.options.idleSeconds} s or past its lifetime.`);
        await this.end(session);
      }
    }
    await this.options.afterSweep?.();
  }

  /**
   * Ends an expired session. The owner's close starts at once, not in a later tick: it lets go of
   * the id before anyone can put a new session under it (a new default session), which a deferred
   * close by id would end instead.
   */
  private async end(session: S): Promise<void> {
    try {
      await this.options.expire(session);
    } catch (error) {
      this.options.log.warn(`Closing ${this.options.noun} ${session.id}: ${messageOf(error)}`);
    }
  }
}
