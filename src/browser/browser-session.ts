import type { BrowserContext, Page } from "playwright-core";
import { AppError } from "../errors";
import { RegisteredSession } from "../sessions/registry";
import type { StoredSnapshot } from "./page-snapshot";

export interface Viewport {
  width: number;
  height: number;
}

export interface BrowserSessionOptions {
  viewport: Viewport;
  /** Chromium's own user agent when absent. */
  userAgent?: string;
}

/**
 * One browser session: its own context (cookies, storage, cache isolated from every other session)
 * and one page, in the shared Chromium process. An action under way keeps it busy, so it does not
 * idle out mid-action.
 */
export class BrowserSession extends RegisteredSession {
  #actions = 0;
  /** The next snapshot ref's number: refs are never reused in a session, so an old one is recognised as stale. */
  #nextRef = 1;
  #snapshot: StoredSnapshot | undefined;
  #goneReason: string | undefined;
  private readonly lost = Promise.withResolvers<never>();
  /**
   * Rejects with `SESSION_GONE` once the session is lost (Chromium or its page died, or it was
   * closed). Playwright calls are raced against it: some never settle when Chromium dies under them.
   */
  readonly whenLost: Promise<never> = this.lost.promise;

  constructor(
    id: string,
    readonly context: BrowserContext,
    readonly page: Page,
    readonly options: BrowserSessionOptions,
    now: number,
  ) {
    super(id, now);
    this.lost.promise.catch(() => undefined);
  }

  /** Interactions run so far. */
  get actions(): number {
    return this.#actions;
  }

  /** The number the next snapshot's first new ref gets. */
  get nextRef(): number {
    return this.#nextRef;
  }

  /** The last snapshot taken, read on with its cursor. */
  get snapshot(): StoredSnapshot | undefined {
    return this.#snapshot;
  }

  /** Set once the session can no longer be used, with the reason clients are told. */
  get goneReason(): string | undefined {
    return this.#goneReason;
  }

  /** An interaction on the page began at `now`: counted, and the session is busy until `endWork`. */
  override startWork(now: number): void {
    this.#actions++;
    super.startWork(now);
  }

  /** Keeps `lines` as the session's snapshot (read on with its cursor); its refs run below `nextRef`. */
  keepSnapshot(lines: string[], nextRef: number): StoredSnapshot {
    this.#nextRef = Math.max(this.#nextRef, nextRef);
    this.#snapshot = { id: crypto.randomUUID().slice(0, 8), lines };
    return this.#snapshot;
  }

  /** Marks the session unusable; calls racing `whenLost` fail with `reason`. */
  markLost(reason: string): void {
    if (this.#goneReason !== undefined) return;
    this.#goneReason = reason;
    this.lost.reject(new AppError("SESSION_GONE", `Browser session ${this.id} is gone: ${reason} Create a new session.`));
  }

  get viewport(): Viewport {
    return this.options.viewport;
  }

  get userAgent(): string | null {
    return this.options.userAgent ?? null;
  }
}
