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
  /** Contexts made at once while topping up (renderers start in parallel). Default: `size`. */
  concurrency?: number;
  /** Viewport of ready contexts until a session asks for one. */
  viewport: Viewport;
  open: (browser: Browser, viewport: Viewport) => Promise<OpenedContext>;
  /** Rejects when `browser` disconnects. */
  abort: (browser: Browser) => Promise<never>;
  /** Whether contexts are still wanted for `browser` (it is the manager's current one, not stopped). */
  wanted: (browser: Browser) => boolean;
  /** How many more sessions may be opened: no more contexts than that are kept ready. Default: no cap. */
  room?: () => number;
  log: Logger;
}

interface Opening {
  browser: Browser;
  done: Promise<void>;
}

interface Waiter {
  browser: Browser;
  resolve: (opened: OpenedContext | undefined) => void;
}

/**
 * Fresh contexts made ahead of time. Starting a page's renderer is most of what creating a session
 * costs, so a session that takes a ready context is created in a few milliseconds. The pool refills
 * in the background, several contexts at once; a session that finds it empty waits for the next
 * context being made instead of starting one more beside it, so a burst of sessions is served at
 * the rate renderers start in parallel. A ready context never held a session's state, so isolation
 * holds.
 */
export class ContextPool {
  private ready: OpenedContext[] = [];
  /** Ready contexts are made at the viewport sessions last asked for, so most need no resize. */
  private viewport: Viewport | undefined;
  private readonly opening = new Set<Opening>();
  /** Sessions waiting for the next context made, oldest first. */
  private waiters: Waiter[] = [];

  constructor(private readonly options: ContextPoolOptions) {}

  get size(): number {
    return this.ready.length;
  }

  /**
   * A ready context of `browser` resized to `viewport`: one from the pool, else the next one being
   * made; undefined when the pool is off or cannot make one. Sessions with their own user agent
   * cannot use one: a context's user agent is fixed when it is made.
   */
  async take(browser: Browser, viewport: Viewport): Promise<OpenedContext | undefined> {
    this.viewport = viewport;
    for (let spare = this.ready.shift(); spare; spare = this.ready.shift()) {
      const fitted = await this.fit(spare, browser, viewport);
      if (fitted) return fitted;
    }
    if (this.options.size === 0 || !this.options.wanted(browser) || !browser.isConnected()) return undefined;
    const next = Promise.withResolvers<OpenedContext | undefined>();
    this.waiters.push({ browser, resolve: next.resolve });
    void this.fill(browser);
    const opened = await Promise.race([next.promise, this.options.abort(browser)]);
    return opened && (await this.fit(opened, browser, viewport));
  }

  /**
   * Tops the pool up for `browser` (and serves waiting sessions), up to `concurrency` contexts at
   * once, at `viewport` (else the last one asked for); resolves when the top-up is over.
   */
  fill(browser: Browser, viewport?: Viewport): Promise<void> {
    if (viewport) this.viewport = viewport;
    const concurrency = this.options.concurrency ?? this.options.size;
    const waiting = this.waiters.filter((waiter) => waiter.browser === browser).length;
    const wanted = Math.min(this.options.size, Math.max(0, this.options.room?.() ?? Infinity)) + waiting;
    while (
      this.options.wanted(browser) &&
      browser.isConnected() &&
      this.ready.length + this.openingFor(browser) < wanted &&
      this.openingFor(browser) < Math.max(1, concurrency)
    ) {
      this.startOpening(browser);
    }
    return this.whenReady(browser);
  }

  /** Resolves once no context is being made for `browser`. */
  async whenReady(browser: Browser | undefined): Promise<void> {
    for (;;) {
      const pending = [...this.opening].filter((opening) => opening.browser === browser);
      if (pending.length === 0) return;
      await Promise.all(pending.map((opening) => opening.done));
    }
  }

  /** Forgets every ready context, closing them (a crashed browser's are already gone); waiting sessions make their own. */
  async drop(): Promise<void> {
    const ready = this.ready;
    this.ready = [];
    for (const waiter of this.waiters.splice(0)) waiter.resolve(undefined);
    await Promise.all(ready.map((spare) => spare.context.close().catch(() => undefined)));
  }

  private openingFor(browser: Browser): number {
    let count = 0;
    for (const opening of this.opening) if (opening.browser === browser) count++;
    return count;
  }

  private startOpening(browser: Browser): void {
    const opening: Opening = { browser, done: Promise.resolve() };
    opening.done = this.options.open(browser, this.viewport ?? this.options.viewport).then(
      (opened) => {
        this.opening.delete(opening);
        if (!this.options.wanted(browser)) {
          void opened.context.close().catch(() => undefined);
          this.serveWaiters(browser, undefined);
          return;
        }
        const index = this.waiters.findIndex((waiter) => waiter.browser === browser);
        if (index >= 0) this.waiters.splice(index, 1)[0]!.resolve(opened);
        else this.ready.push(opened);
        void this.fill(browser);
      },
      (error) => {
        this.opening.delete(opening);
        this.options.log.debug(`Could not prepare a spare browser context: ${messageOf(error)}`);
        // Sessions waiting for one open their own, and get the real error if that fails too.
        if (this.openingFor(browser) === 0) this.serveWaiters(browser, undefined);
      },
    );
    this.opening.add(opening);
  }

  /** Tells `browser`'s waiting sessions that no context is coming, so they open their own. */
  private serveWaiters(browser: Browser, opened: undefined): void {
    const served = this.waiters.filter((waiter) => waiter.browser === browser);
    this.waiters = this.waiters.filter((waiter) => waiter.browser !== browser);
    for (const waiter of served) waiter.resolve(opened);
  }

  /** `spare` at `viewport`, or undefined (closed) when it is unusable. */
  private async fit(spare: OpenedContext, browser: Browser, viewport: Viewport): Promise<OpenedContext | undefined> {
    if (spare.browser === browser && browser.isConnected() && !spare.page.isClosed()) {
      try {
        if (spare.viewport.width !== viewport.width || spare.viewport.height !== viewport.height) {
          await Promise.race([spare.page.setViewportSize(viewport), this.options.abort(browser)]);
          spare.viewport = viewport;
        }
        return spare;
      } catch {
        // Unusable: closed below.
      }
    }
    void spare.context.close().catch(() => undefined);
    return undefined;
  }
}
