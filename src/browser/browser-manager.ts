import { availableParallelism } from "node:os";
import type { Browser, LaunchOptions } from "playwright-core";
import { AppError, messageOf } from "../errors";
import type { Logger } from "../log";
import { BrowserSession, type BrowserSessionOptions, type Viewport } from "./browser-session";
import { ContextPool, openContext } from "./context-pool";
import { chromiumProcesses } from "./process-tree";
import { DEFAULT_ID, SessionRegistry } from "../sessions/registry";

/** The id of the browser session used by calls that name none. */
export const DEFAULT_BROWSER_SESSION_ID = DEFAULT_ID;

/** Viewport of sessions that ask for none, as in the contract. */
export const DEFAULT_VIEWPORT: Viewport = { width: 1920, height: 1080 };

/**
 * The features playwright-core turns off with its own `--disable-features` (as of 1.65). Chromium
 * keeps only the last `--disable-features` switch, so ours must repeat them; a unit test checks this
 * list against what the installed playwright-core passes.
 */
export const PLAYWRIGHT_DISABLED_FEATURES = [
  "AvoidUnnecessaryBeforeUnloadCheckSync",
  "DestroyProfileOnBrowserClose",
  "HttpsUpgrades",
  "HttpsFirstBalancedModeAutoEnable",
  "LensOverlay",
  "MediaRouter",
  "PaintHolding",
  "ThirdPartyStoragePartitioning",
  "AvoidCorsURLLoaderRestartOnRedirect",
  "TcpPortRandomizationWin",
  "OptimizationHints",
  "NetworkTimeServiceQuerying",
  "AimEnabled",
  "PreconnectToSearch",
  "msForceBrowserSignIn",
  "msEdgeUpdateLaunchServicesPreferredVersion",
];

/**
 * Browser UI that headless Chromium builds and never shows: every context's window loads the
 * omnibox popup as a WebUI page (chrome://omnibox-popup.top-chrome) in a renderer of its own. That
 * is a second renderer per session: about 25 MiB (PSS) each, and half the CPU of opening a context,
 * which is what a burst of new sessions waits for.
 */
export const UNUSED_UI_FEATURES = ["WebUIOmniboxPopup", "WebUIOmniboxAimPopup", "WebUIOmniboxFullPopup"];

/** Switches for headless Chromium on a server: no sandbox (we run as root in a container), no GPU, no background traffic, no hidden UI. */
export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
  "--disable-dev-shm-usage",
  `--disable-features=${[...PLAYWRIGHT_DISABLED_FEATURES, ...UNUSED_UI_FEATURES].join(",")}`,
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
  /** How often idle sessions are looked for; defaults to a quarter of the idle limit, at most a minute (`sweepInterval`). */
  sweepMs?: number;
  /** Milliseconds a Playwright call may take when the request gives no timeout. */
  defaultTimeoutMs?: number;
  /**
   * Fresh contexts (each with its page and renderer process) kept ready, so creating a session
   * does not wait for a renderer to start; they are refilled side by side, so a burst of sessions
   * is served as fast as renderers start in parallel, and a burst up to this many back to back
   * waits for none. Never more than the sessions that may still be opened (`maxSessions`).
   * Default 10; 0 turns the pool off.
   */
  spares?: number;
  /**
   * Ready contexts opened at once. Starting a renderer is CPU work: on 2 cores, 10 at once took as
   * long in all as 2 at a time, but the first was ready after 4 s instead of 0.8 s (and a session
   * waiting for one waits for the first). Default: the machine's CPU count.
   */
  concurrency?: number;
  /** Where Chromium writes downloads (default: Playwright's private temporary folder). */
  downloadsPath?: string;
}

const GONE_REMEMBERED = 1000;
/**
 * Ready contexts kept by default: a burst of 10 sessions back to back takes one each (opening one
 * takes a renderer start: hundreds of ms on a busy 2-core machine). Each is a renderer of about
 * 20 MiB (PSS), kept only while Chromium runs.
 */
const DEFAULT_SPARES = 10;
const CRASHED = "Chromium exited unexpectedly.";

/**
 * Owns the one Chromium process and the browser sessions in it. Chromium is launched lazily by the
 * first session (concurrent first sessions share one launch), each session gets its own context and
 * page (taken from a small pool of ready ones when it can), idle sessions are closed, and at most
 * `maxSessions` exist (429 beyond). If Chromium exits
 * unexpectedly, every session in it is marked gone (410 from then on) and the next session launches
 * a new Chromium. Lookup, the default session, use and expiry are its `SessionRegistry`'s: reading a
 * session (`get`, `find`, `list`) is not a use; `resolve`, an action and `touch` are.
 */
export class BrowserManager {
  private readonly sessions: SessionRegistry<BrowserSession>;
  /** Ids of sessions lost to a crash, with the reason, so clients get 410 rather than a bare 404. */
  private readonly gone = new Map<string, string>();
  private readonly launch: LaunchBrowser;
  private browser: Browser | undefined;
  private launching: Promise<Browser> | undefined;
  private pending = 0;
  private readonly spares: ContextPool;
  /** Per Chromium, a promise that rejects when it disconnects, to race calls that may never settle. */
  private readonly disconnects = new WeakMap<Browser, Promise<never>>();
  private stopped = false;
  private lastActivity: number;
  /** Unique switch on this manager's Chromium command line, to find its processes in /proc. */
  readonly marker = `--coderunner-browser=${crypto.randomUUID()}`;
  launches = 0;
  crashes = 0;

  constructor(private readonly options: BrowserManagerOptions) {
    this.launch = options.launch ?? launchChromium;
    this.sessions = new SessionRegistry<BrowserSession>({
      noun: "browser session",
      idleSeconds: options.idleSeconds,
      maxSessions: options.maxSessions,
      log: options.log,
      clock: options.clock,
      sweepMs: options.sweepMs,
      missing: (id) => {
        const reason = this.gone.get(id);
        if (reason) return new AppError("SESSION_GONE", `Browser session ${id} is gone: ${reason} Create a new session.`);
        return new AppError("BROWSER_SESSION_NOT_FOUND", `No browser session with id ${JSON.stringify(id)} (it may have expired or been closed).`);
      },
      createDefault: () => this.create({ viewport: DEFAULT_VIEWPORT }, DEFAULT_BROWSER_SESSION_ID),
      expire: (session) => this.close(session.id),
      afterSweep: () => this.closeIdleBrowser(),
    });
    const timeout = options.defaultTimeoutMs ?? 30_000;
    this.spares = new ContextPool({
      size: options.spares ?? DEFAULT_SPARES,
      concurrency: options.concurrency ?? availableParallelism(),
      viewport: DEFAULT_VIEWPORT,
      open: (browser, viewport) => openContext(browser, { viewport }, timeout, this.disconnectOf(browser)),
      abort: (browser) => this.disconnectOf(browser),
      wanted: (browser) => !this.stopped && this.browser === browser,
      room: () => options.maxSessions - this.sessions.size - this.pending,
      log: options.log,
    });
    this.lastActivity = this.sessions.now();
  }

  get size(): number {
    return this.sessions.size;
  }

  get running(): boolean {
    return this.browser?.isConnected() ?? false;
  }

  start(): void {
    this.sessions.start();
  }

  /**
   * A new session with its own context and page. Launches Chromium if none runs; 429 when
   * `maxSessions` are open, 503 when Chromium cannot be started.
   */
  async create(options: BrowserSessionOptions, id: string = crypto.randomUUID()): Promise<BrowserSession> {
    if (this.stopped) throw new AppError("BROWSER_UNAVAILABLE", "The browser is shutting down.");
    this.sessions.checkRoom(this.pending);
    this.pending++;
    let refill: Browser | undefined;
    try {
      const browser = await this.ensureBrowser();
      refill = browser;
      const spare = options.userAgent ? undefined : await this.spares.take(browser, options.viewport);
      const opened = spare ?? (await openContext(browser, options, this.options.defaultTimeoutMs ?? 30_000, this.disconnectOf(browser)));
      const { context, page } = opened;
      const session = new BrowserSession(id, context, page, options, this.sessions.now());
      page.on("crash", () => this.markGone(session, "Its page crashed (out of memory, or a renderer failure)."));
      page.on("close", () => {
        if (!this.sessions.holds(session)) return; // closed by us
        // When Chromium dies, pages report their close just before the browser reports its
        // disconnect; wait a moment so the session is marked with the real cause.
        setTimeout(() => {
          if (this.sessions.holds(session)) this.markGone(session, browser.isConnected() ? "Its page was closed (by the page itself or a renderer failure)." : CRASHED);
        }, 100).unref?.();
      });
      if (this.stopped) {
        await context.close().catch(() => undefined);
        throw new AppError("BROWSER_UNAVAILABLE", "The browser is shutting down.");
      }
      this.gone.delete(id);
      this.sessions.add(session);
      this.lastActivity = this.sessions.now();
      return session;
    } finally {
      this.pending--;
      // Topped up once this session counts as open rather than pending (the pool's room counts both).
      if (refill) void this.spares.fill(refill, options.viewport);
    }
  }

  /** Resolves once the pool of ready contexts is full (or cannot be filled). */
  whenSparesReady(): Promise<void> {
    return this.spares.whenReady(this.browser);
  }

  /** The live session, or 404 (unknown, closed or expired) or 410 (lost to a crash). Not a use. */
  get(id: string): BrowserSession {
    return this.sessions.get(id);
  }

  /** The live session or undefined; an expired one is closed on the way. Not a use. */
  find(id: string): BrowserSession | undefined {
    return this.sessions.find(id);
  }

  /** The session for calls that name none: created on first use, and again after a crash. A use. */
  defaultSession(): Promise<BrowserSession> {
    return this.sessions.defaultSession();
  }

  /** The session an action is about to use: the named one (or `get`'s error), or the default one when `id` is absent. A use. */
  resolve(id: string | null | undefined): Promise<BrowserSession> {
    return this.sessions.resolve(id);
  }

  /** The live sessions. Not a use. */
  list(): BrowserSession[] {
    return this.sessions.list();
  }

  /** Records a use of `session` now. */
  touch(session: BrowserSession): void {
    this.sessions.touch(session);
  }

  /** An action on `session` begins: a use, and the session cannot idle out until `endWork`. */
  startWork(session: BrowserSession): void {
    this.sessions.startWork(session);
  }

  endWork(session: BrowserSession): void {
    this.sessions.endWork(session);
  }

  /** Closes the session's context; false if no such session is open. */
  async close(id: string): Promise<boolean> {
    const session = this.sessions.held(id);
    if (!session || !this.sessions.remove(session)) return false;
    this.lastActivity = this.sessions.now();
    session.markLost("It was closed.");
    await session.context.close().catch(() => undefined);
    // A freed slot may be one more ready context (the pool keeps no more than sessions could take).
    if (this.browser && !this.stopped) void this.spares.fill(this.browser);
    return true;
  }

  /** Closes every session and Chromium itself; later calls to `create` answer 503. Idempotent. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.sessions.stop();
    await Promise.all(this.sessions.all().map((session) => this.close(session.id)));
    await this.spares.drop();
    const browser = this.browser ?? (await this.launching?.catch(() => undefined));
    this.browser = undefined;
    await browser?.close().catch(() => undefined);
  }

  /** Closes expired sessions, and Chromium when no session has used it for the idle limit. */
  sweep(): Promise<void> {
    return this.sessions.sweep();
  }

  private async closeIdleBrowser(): Promise<void> {
    const idleFor = this.sessions.now() - this.lastActivity;
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
    for (const session of this.sessions.all()) this.markGone(session, CRASHED);
  }

  private markGone(session: BrowserSession, reason: string): void {
    session.markLost(reason);
    if (!this.sessions.remove(session)) return;
    this.gone.set(session.id, reason);
    if (this.gone.size > GONE_REMEMBERED) this.gone.delete(this.gone.keys().next().value!);
    void session.context.close().catch(() => undefined);
  }
}
