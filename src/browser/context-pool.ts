import type { Browser, BrowserContext, Page } from "playwright-core";
import { AppError, messageOf } from "../errors";
import type { Logger } from "../log";
import type { BrowserSessionOptions, Viewport } from "./browser-session";

/** A context with its page, in the browser that made it. */
export interface OpenedContext {
  browser: Browser;
  context: BrowserContext;
  page: Page;
  viewport: Viewport;
}

/**
 * A new context (cookies and storage of its own) and page in `browser`; 503 if Chromium refuses or
 * `abort` rejects first (Playwright's `newPage` can wait forever when Chromium dies under it).
 */
export async function openContext(browser: Browser, options: BrowserSessionOptions, defaultTimeoutMs: number, abort: Promise<never>): Promise<OpenedContext> {
  let context: BrowserContext;
  try {
    context = await Promise.race([browser.newContext({ viewport: options.viewport, userAgent: options.userAgent }), abort]);
  } catch (error) {
    throw new AppError("BROWSER_UNAVAILABLE", `Could not open a browser context: ${messageOf(error).split("\n")[0]}`, { cause: error });
  }
  context.setDefaultTimeout(defaultTimeoutMs);
  try {
    return { browser, context, page: await Promise.race([context.newPage(), abort]), viewport: options.viewport };
  } catch (error) {
    await context.close().catch(() => undefined);
    throw new AppError("BROWSER_UNAVAILABLE", `Could not open a browser page: ${messageOf(error).split("\n")[0]}`, { cause: error });
  }
}

export interface ContextPoolOptions {
  /** Contexts kept ready; 0 turns the pool off. */
  size: number;
  /** Viewport of ready contexts until a session asks for one. */
  viewport: Viewport;
  open: (browser: Browser, viewport: Viewport) => Promise<OpenedContext>;
  /** Rejects when `browser` disconnects. */
  abort: (browser: Browser) => Promise<never>;
  /** Whether contexts are still wanted for `browser` (it is the manager's current one, not stopped). */
  wanted: (browser: Browser) => boolean;
  log: Logger;
}

/**
 * Fresh contexts made ahead of time. Starting a page's renderer is most of what creating a session
 * costs, so a session that takes a ready context is created in a few milliseconds; the pool then
 * refills in the background. A ready context never held a session's state, so isolation holds.
 */
export class ContextPool {
  private ready: OpenedContext[] = [];
  /** Ready contexts are made at the viewport sessions last asked for, so most need no resize. */
  private viewport: Viewport | undefined;
  /** The top-up in progress and the browser it is for (one for a dead browser is left to fail). */
  private filling: { browser: Browser; done: Promise<void> } | undefined;

  constructor(private readonly options: ContextPoolOptions) {}

  get size(): number {
    return this.ready.length;
  }

  /**
   * A ready context of `browser` resized to `viewport`, or undefined when none is ready. Sessions
   * with their own user agent cannot use one: a context's user agent is fixed when it is made.
   */
  async take(browser: Browser, viewport: Viewport): Promise<OpenedContext | undefined> {
    this.viewport = viewport;
    for (let spare = this.ready.shift(); spare; spare = this.ready.shift()) {
      if (spare.browser === browser && browser.isConnected() && !spare.page.isClosed()) {
        try {
          if (spare.viewport.width !== viewport.width || spare.viewport.height !== viewport.height) {
            await Promise.race([spare.page.setViewportSize(viewport), this.options.abort(browser)]);
            spare.viewport = viewport;
          }
          return spare;
        } catch {
          // Try the next one.
        }
      }
      void spare.context.close().catch(() => undefined);
    }
    return undefined;
  }

  /**
   * Tops the pool up for `browser`, one context at a time, at `viewport` (else the last one asked
   * for); resolves when full or failed.
   */
  fill(browser: Browser, viewport?: Viewport): Promise<void> {
    if (viewport) this.viewport = viewport;
    if (this.ready.length >= this.options.size) return Promise.resolve();
    if (this.filling?.browser === browser) return this.filling.done;
    const filling = { browser, done: Promise.resolve() };
    filling.done = (async () => {
      try {
        while (this.options.wanted(browser) && browser.isConnected() && this.ready.length < this.options.size) {
          const opened = await this.options.open(browser, this.viewport ?? this.options.viewport);
          if (!this.options.wanted(browser)) {
            await opened.context.close().catch(() => undefined);
            break;
          }
          this.ready.push(opened);
        }
      } catch (error) {
        this.options.log.debug(`Could not prepare a spare browser context: ${messageOf(error)}`);
      } finally {
        if (this.filling === filling) this.filling = undefined;
      }
    })();
    this.filling = filling;
    return filling.done;
  }

  /** Resolves once a top-up for `browser` (if any) is over. */
  whenReady(browser: Browser | undefined): Promise<void> {
    return this.filling && this.filling.browser === browser ? this.filling.done : Promise.resolve();
  }

  /** Forgets every ready context, closing them (a crashed browser's are already gone). */
  async drop(): Promise<void> {
    const ready = this.ready;
    this.ready = [];
    await Promise.all(ready.map((spare) => spare.context.close().catch(() => undefined)));
  }
}
