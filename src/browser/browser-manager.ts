import type { Browser, LaunchOptions } from "playwright-core";
import { AppError, messageOf } from "../errors";
import type { Logger } from "../log";
import { BrowserSession, type BrowserSessionOptions, type Viewport } from "./browser-session";
import { ContextPool, openContext } from "./context-pool";
import { chromiumProcesses } from "./process-tree";

/** The id of the browser session used by calls that name none. */
export const DEFAULT_BROWSER_SESSION_ID = "default";

/** Viewport of sessions that ask for none, as in the contract. */
export const DEFAULT_VIEWPORT: Viewport = { width: 1920, height: 1080 };

/** Switches for headless Chromium on a server: no sandbox (we run as root in a container), no GPU, no background traffic. */
export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
  "--disable-dev-shm-usage",
];

/** Starts a browser; the default uses playwright-core's Chromium. */
export type LaunchBrowser = (options: LaunchOptions) => Promise<Browser>;

export const launchChromium: LaunchBrowser = async (options) => {
  const { chromium } = await import("playwright-core");
  return chromium.launch(options);
};

export interface BrowserManagerOptions {
  launch?: LaunchBrowser;
  /** The Chromium executable, or how to find it; resolved at the first launch. */
  executablePath: string | (() => string);
  maxSessions: number;
  idleSeconds: number;
  log: Logger;
  clock?: () => number;
  /** How often idle sessions are looked for; defaults to a quarter of the idle limit, at most a minute. */
  sweepMs?: number;
  /** Milliseconds a Playwright call may take when the request gives no timeout. */
  defaultTimeoutMs?: number;
  /**
   * Fresh contexts (each with its page and renderer process) kept ready, so creating a session
   * does not wait for a renderer to start; they are refilled side by side, so a burst of sessions
   * is served as fast as renderers start in parallel. Default 3; 0 turns the pool off.
   */
  spares?: number;
  /** Where Chromium writes downloads (default: Playwright's private temporary folder). */
  downloadsPath?: string;
}

const GONE_REMEMBERED = 1000;
/** Ready contexts kept by default: each is a renderer of about 25 MiB (PSS). */
const DEFAULT_SPARES = 3;
const CRASHED = "Chromium exited unexpectedly.";

/**
 * Owns the one Chromium process and the browser sessions in it. Chromium is launched lazily by the
 * first session (concurrent first sessions share one launch), each session gets its own context and
 * page (taken from a small pool of ready ones when it can), idle sessions are closed, and at most
 * `maxSessions` exist (429 beyond). If Chromium exits
 * unexpectedly, every session in it is marked gone (410 from then on) and the next session launches
 * a new Chromium.
 */
export class BrowserManager {
  private readonly sessions = new Map<string, BrowserSession>();
  /** Ids of sessions lost to a crash, with the reason, so clients get 410 rather than a bare 404. */
  private readonly gone = new Map<string, string>();
  private readonly launch: LaunchBrowser;
  private readonly clock: () => number;
  private browser: Browser | undefined;
  private launching: Promise<Browser> | undefined;
  private creatingDefault: Promise<BrowserSession> | undefined;
  private pending = 0;
  private readonly spares: ContextPool;
  /** Per Chromium, a promise that rejects when it disconnects, to race calls that may never settle. */
  private readonly disconnects = new WeakMap<Browser, Promise<never>>();
  private sweeper: Timer | undefined;
  private stopped = false;
  private lastActivity: number;
  /** Unique switch on this manager's Chromium command line, to find its processes in /proc. */
  readonly marker = `--coderunner-browser=${crypto.randomUUID()}`;
  launches = 0;
  crashes = 0;

  constructor(private readonly options: BrowserManagerOptions) {
    this.launch = options.launch ?? launchChromium;
    this.clock = options.clock ?? Date.now;
    const timeout = options.defaultTimeoutMs ?? 30_000;
    this.spares = new ContextPool({
      size: options.spares ?? DEFAULT_SPARES,
      viewport: DEFAULT_VIEWPORT,
      open: (browser, viewport) => openContext(browser, { viewport }, timeout, this.disconnectOf(browser)),
      abort: (browser) => this.disconnectOf(browser),
      wanted: (browser) => !this.stopped && this.browser === browser,
      log: options.log,
    });
    this.lastActivity = this.clock();
  }

  get size(): number {
    return this.sessions.size;
  }

  get running(): boolean {
    return this.browser?.isConnected() ?? false;
  }

  start(): void {
    const every = this.options.sweepMs ?? Math.min(60_000, (this.options.idleSeconds * 1000) / 4);
    this.sweeper = setInterval(() => void this.sweep(), Math.max(every, 10));
    this.sweeper.unref?.();
  }

  /**
   * A new session with its own context and page. Launches Chromium if none runs; 429 when
   * `maxSessions` are open, 503 when Chromium cannot be started.
   */
  async create(options: BrowserSessionOptions, id: string = crypto.randomUUID()): Promise<BrowserSession> {
    if (this.stopped) throw new AppError("BROWSER_UNAVAILABLE", "The browser is shutting down.");
    if (this.sessions.size + this.pending >= this.options.maxSessions) {
      throw new AppError("TOO_MANY_SESSIONS", `At most ${this.options.maxSessions} browser sessions may be open; close one first.`);
    }
    this.pending++;
    try {
      const browser = await this.ensureBrowser();
      const spare = options.userAgent ? undefined : await this.spares.take(browser, options.viewport);
      const opened = spare ?? (await openContext(browser, options, this.options.defaultTimeoutMs ?? 30_000, this.disconnectOf(browser)));
      const { context, page } = opened;
      const session = new BrowserSession(id, context, page, options, this.clock());
      page.on("crash", () => this.markGone(session, "Its page crashed (out of memory, or a renderer failure)."));
      page.on("close", () => {
        if (this.sessions.get(id) !== session) return; // closed by us
        // When Chromium dies, pages report their close just before the browser reports its
        // disconnect; wait a moment so the session is marked with the real cause.
        setTimeout(() => {
          if (this.sessions.get(id) === session) this.markGone(session, browser.isConnected() ? "Its page was closed (by the page itself or a renderer failure)." : CRASHED);
        }, 100).unref?.();
      });
      if (this.stopped) {
        await context.close().catch(() => undefined);
        throw new AppError("BROWSER_UNAVAILABLE", "The browser is shutting down.");
      }
      this.gone.delete(id);
      this.sessions.set(id, session);
      this.lastActivity = this.clock();
      void this.spares.fill(browser, options.viewport);
      return session;
    } finally {
      this.pending--;
    }
  }

  /** Resolves once the pool of ready contexts is full (or cannot be filled). */
  whenSparesReady(): Promise<void> {
    return this.spares.whenReady(this.browser);
  }

  /** The live session, or 404 (unknown, closed or expired) or 410 (lost to a crash). Counts as use. */
  get(id: string): BrowserSession {
    const session = this.find(id);
    if (session) {
      this.touch(session);
      return session;
    }
    const reason = this.gone.get(id);
    if (reason) throw new AppError("SESSION_GONE", `Browser session ${id} is gone: ${reason} Create a new session.`);
    throw new AppError("BROWSER_SESSION_NOT_FOUND", `No browser session with id ${JSON.stringify(id)} (it may have expired or been closed).`);
  }

  /** The live session or undefined; an expired one is closed on the way. */
  find(id: string): BrowserSession | undefined {
    const session = this.sessions.get(id);
    if (session && this.expired(session)) {
      void this.close(id);
      return undefined;
    }
    return session;
  }

  /** The session for calls that name none: created on first use, and again after a crash. */
  async defaultSession(): Promise<BrowserSession> {
    const existing = this.find(DEFAULT_BROWSER_SESSION_ID);
    if (existing) {
      this.touch(existing);
      return existing;
    }
    this.creatingDefault ??= this.create({ viewport: DEFAULT_VIEWPORT }, DEFAULT_BROWSER_SESSION_ID).finally(() => {
      this.creatingDefault = undefined;
    });
    return this.creatingDefault;
  }

  /** The named session, or the default one when `id` is absent. */
  resolve(id: string | null | undefined): Promise<BrowserSession> | BrowserSession {
    return id ? this.get(id) : this.defaultSession();
  }

  list(): BrowserSession[] {
    return [...this.sessions.values()].filter((session) => !this.expired(session));
  }

  touch(session: BrowserSession): void {
    session.lastUsedAt = this.clock();
    this.lastActivity = session.lastUsedAt;
  }

  /** Closes the session's context; false if no such session is open. */
  async close(id: string): Promise<boolean> {
    const session = this.sessions.get(id);
    if (!session) return false;
    this.sessions.delete(id);
    this.lastActivity = this.clock();
    session.markLost("It was closed.");
    await session.context.close().catch(() => undefined);
    return true;
  }

  /** Closes every session and Chromium itself; later calls to `create` answer 503. Idempotent. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.sweeper);
    this.sweeper = undefined;
    const ids = [...this.sessions.keys()];
    await Promise.all(ids.map((id) => this.close(id)));
    await this.spares.drop();
    const browser = this.browser ?? (await this.launching?.catch(() => undefined));
    this.browser = undefined;
    await browser?.close().catch(() => undefined);
  }

  /** Closes expired sessions, and Chromium when no session has used it for the idle limit. */
  async sweep(): Promise<void> {
    for (const session of [...this.sessions.values()]) {
      if (this.expired(session)) {
        this.options.log.info(`Browser session ${session.id} was idle for ${this.options.idleSeconds} s; closing it.`);
        await this.close(session.id);
      }
    }
    const idleFor = this.clock() - this.lastActivity;
    if (this.browser && this.sessions.size === 0 && this.pending === 0 && idleFor > this.options.idleSeconds * 1000) {
      const browser = this.browser;
      this.browser = undefined;
      void this.spares.drop();
      this.options.log.info("No browser session for a while; closing Chromium until the next one.");
      await browser.close().catch(() => undefined);
    }
  }

  /** For `GET /health`. */
  health(): Record<string, unknown> {
    return {
      status: this.stopped ? "stopped" : this.running ? "running" : this.launching ? "starting" : "idle",
      sessions: this.sessions.size,
      max_sessions: this.options.maxSessions,
      spare_contexts: this.spares.size,
      launches: this.launches,
      crashes: this.crashes,
    };
  }

  /** PIDs of this manager's Chromium processes (empty when none runs). */
  processes(): number[] {
    return this.running ? chromiumProcesses(this.marker) : [];
  }

  private expired(session: BrowserSession): boolean {
    return this.clock() - session.lastUsedAt > this.options.idleSeconds * 1000;
  }

  private ensureBrowser(): Promise<Browser> {
    if (this.browser?.isConnected()) return Promise.resolve(this.browser);
    this.launching ??= this.startBrowser().finally(() => {
      this.launching = undefined;
    });
    return this.launching;
  }

  private async startBrowser(): Promise<Browser> {
    const { executablePath } = this.options;
    const path = typeof executablePath === "function" ? executablePath() : executablePath;
    const started = performance.now();
    let browser: Browser;
    try {
      browser = await this.launch({ executablePath: path, headless: true, args: [...CHROMIUM_ARGS, this.marker], handleSIGINT: false, handleSIGTERM: false, handleSIGHUP: false, downloadsPath: this.options.downloadsPath });
    } catch (error) {
      throw new AppError("BROWSER_UNAVAILABLE", `Could not start Chromium (${path}): ${messageOf(error).split("\n")[0]}`, { cause: error });
    }
    this.launches++;
    this.options.log.info(`Chromium started in ${Math.round(performance.now() - started)} ms (${path}).`);
    const disconnected = new Promise<never>((_, reject) =>
      browser.on("disconnected", () => reject(new AppError("BROWSER_UNAVAILABLE", "Chromium exited while the session was being opened; try again."))),
    );
    disconnected.catch(() => undefined);
    this.disconnects.set(browser, disconnected);
    browser.on("disconnected", () => this.onDisconnected(browser));
    if (this.stopped) {
      await browser.close().catch(() => undefined);
      throw new AppError("BROWSER_UNAVAILABLE", "The browser is shutting down.");
    }
    this.browser = browser;
    return browser;
  }

  private disconnectOf(browser: Browser): Promise<never> {
    return this.disconnects.get(browser) ?? new Promise<never>(() => {});
  }

  private onDisconnected(browser: Browser): void {
    if (this.browser !== browser) return; // closed on purpose
    this.browser = undefined;
    void this.spares.drop();
    this.crashes++;
    this.options.log.warn(`Chromium exited unexpectedly; ${this.sessions.size} browser session(s) lost. The next session starts a new Chromium.`);
    for (const session of [...this.sessions.values()]) this.markGone(session, CRASHED);
  }

  private markGone(session: BrowserSession, reason: string): void {
    session.markLost(reason);
    if (this.sessions.get(session.id) !== session) return;
    this.sessions.delete(session.id);
    this.gone.set(session.id, reason);
    if (this.gone.size > GONE_REMEMBERED) this.gone.delete(this.gone.keys().next().value!);
    void session.context.close().catch(() => undefined);
  }
}
