import type { Browser, LaunchOptions } from "playwright-core";

type Handler = (...args: unknown[]) => void;

function emitter() {
  const handlers = new Map<string, Handler[]>();
  return {
    on(event: string, handler: Handler) {
      handlers.set(event, [...(handlers.get(event) ?? []), handler]);
      return this;
    },
    emit(event: string, ...args: unknown[]) {
      for (const handler of handlers.get(event) ?? []) handler(...args);
    },
  };
}

export interface FakePage {
  viewports: unknown[];
  on(event: string, handler: Handler): FakePage;
  emit(event: string): void;
  url(): string;
  isClosed(): boolean;
  setViewportSize(viewport: unknown): Promise<void>;
  /** Messages the next screenshots fail with, one each, before they succeed (a PNG of 1×1). */
  screenshotFailures: string[];
  screenshots: number;
  screenshot(options: unknown): Promise<Buffer>;
}

/** The smallest PNG: 1×1, one transparent pixel. */
const PIXEL_PNG = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=", "base64");

export interface FakeContext {
  options: Record<string, unknown>;
  closed: boolean;
  page: FakePage;
  setDefaultTimeout(ms: number): void;
  newPage(): Promise<FakePage>;
  close(): Promise<void>;
}

export interface FakeBrowser {
  contexts: FakeContext[];
  /** newPage never settles, as Playwright's does when Chromium dies under it. */
  hangNewPage: boolean;
  /** When set, newPage waits for it: to watch pages being opened side by side. */
  pageGate: Promise<void> | undefined;
  /** Pages being opened now, and the most ever at once. */
  pagesOpening: number;
  mostPagesOpening: number;
  closed: boolean;
  isConnected(): boolean;
  on(event: string, handler: Handler): FakeBrowser;
  newContext(options: Record<string, unknown>): Promise<FakeContext>;
  close(): Promise<void>;
  /** Simulates Chromium dying: the connection drops and `disconnected` fires. */
  crash(): void;
}

function fakeBrowser(): FakeBrowser {
  const events = emitter();
  let connected = true;
  const browser: FakeBrowser = {
    contexts: [],
    hangNewPage: false,
    pageGate: undefined,
    pagesOpening: 0,
    mostPagesOpening: 0,
    closed: false,
    isConnected: () => connected,
    on(event, handler) {
      events.on(event, handler);
      return browser;
    },
    async newContext(options) {
      if (!connected) throw new Error("browser.newContext: Target page, context or browser has been closed");
      const pageEvents = emitter();
      const page: FakePage = {
        viewports: [],
        screenshotFailures: [],
        screenshots: 0,
        async screenshot() {
          page.screenshots++;
          const failure = page.screenshotFailures.shift();
          if (failure) throw new Error(failure);
          return PIXEL_PNG;
        },
        isClosed: () => context.closed,
        async setViewportSize(viewport) {
          page.viewports.push(viewport);
        },
        on(event, handler) {
          pageEvents.on(event, handler);
          return page;
        },
        emit: (event) => pageEvents.emit(event),
        url: () => "about:blank",
      };
      const context: FakeContext = {
        options,
        closed: false,
        page,
        setDefaultTimeout() {},
        async newPage() {
          if (browser.hangNewPage) {
            browser.pagesOpening++;
            return new Promise<FakePage>(() => {});
          }
          browser.mostPagesOpening = Math.max(browser.mostPagesOpening, ++browser.pagesOpening);
          await browser.pageGate;
          browser.pagesOpening--;
          return page;
        },
        async close() {
          context.closed = true;
        },
      };
      browser.contexts.push(context);
      return context;
    },
    async close() {
      browser.closed = true;
      if (!connected) return;
      connected = false;
      events.emit("disconnected");
    },
    crash() {
      connected = false;
      events.emit("disconnected");
    },
  };
  return browser;
}

/**
 * A `launch` that hands out fake browsers and records each call. `gate` (when set) holds launches
 * until it resolves, to observe concurrent sessions sharing one launch.
 */
export function fakeLauncher() {
  const launcher = {
    calls: [] as LaunchOptions[],
    browsers: [] as FakeBrowser[],
    fail: undefined as Error | undefined,
    gate: undefined as Promise<void> | undefined,
    launch: async (options: LaunchOptions): Promise<Browser> => {
      launcher.calls.push(options);
      await launcher.gate;
      if (launcher.fail) throw launcher.fail;
      const browser = fakeBrowser();
      launcher.browsers.push(browser);
      return browser as unknown as Browser;
    },
  };
  return launcher;
}

/** A clock tests move by hand. */
export function manualClock(start = 1_000_000) {
  const clock = { now: start, read: () => clock.now, advance: (ms: number) => (clock.now += ms) };
  return clock;
}
