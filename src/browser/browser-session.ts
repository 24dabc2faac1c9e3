import type { BrowserContext, Page } from "playwright-core";
import { AppError } from "../errors";
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
 * and one page, in the shared Chromium process.
 */
export class BrowserSession {
  readonly createdAt: Date;
  lastUsedAt: number;
  /** Interactions run so far. */
  actions = 0;
  /** The next snapshot ref's number: refs are never reused in a session, so an old one is recognised as stale. */
  nextRef = 1;
  /** The last snapshot taken, read on with its cursor. */
  snapshot: StoredSnapshot | undefined;
  /** Set once the session can no longer be used, with the reason clients are told. */
  goneReason: string | undefined;
  private readonly lost = Promise.withResolvers<never>();
  /**
   * Rejects with `SESSION_GONE` once the session is lost (Chromium or its page died, or it was
   * closed). Playwright calls are raced against it: some never settle when Chromium dies under them.
   */
  readonly whenLost: Promise<never> = this.lost.promise;

  constructor(
    readonly id: string,
    readonly context: BrowserContext,
    readonly page: Page,
    readonly options: BrowserSessionOptions,
    now: number,
  ) {
    this.createdAt = new Date(now);
    this.lastUsedAt = now;
    this.lost.promise.catch(() => undefined);
  }

  /** Marks the session unusable; calls racing `whenLost` fail with `reason`. */
  markLost(reason: string): void {
    if (this.goneReason !== undefined) return;
    this.goneReason = reason;
    this.lost.reject(new AppError("SESSION_GONE", `Browser session ${this.id} is gone: ${reason} Create a new session.`));
  }

  get viewport(): Viewport {
    return this.options.viewport;
  }

  get userAgent(): string | null {
    return this.options.userAgent ?? null;
  }
}
