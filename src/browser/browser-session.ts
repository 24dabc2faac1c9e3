import type { BrowserContext, Page } from "playwright-core";

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
  /** Set once the session can no longer be used, with the reason clients are told. */
  goneReason: string | undefined;

  constructor(
    readonly id: string,
    readonly context: BrowserContext,
    readonly page: Page,
    readonly options: BrowserSessionOptions,
    now: number,
  ) {
    this.createdAt = new Date(now);
    this.lastUsedAt = now;
  }

  get viewport(): Viewport {
    return this.options.viewport;
  }

  get userAgent(): string | null {
    return this.options.userAgent ?? null;
  }
}
