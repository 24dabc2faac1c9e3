import type { ElementHandle, Locator, Page } from "playwright-core";
import {
  type ClickBody,
  type ContentBody,
  type ContentResult,
  type ExtractBody,
  type FillBody,
  type NavigateBody,
  type ScreenshotBody,
  type ScrollBody,
  type SnapshotBody,
  type UploadBody,
  type TypeBody,
  type WaitBody,
  type WaitCondition,
  WAIT_CONDITIONS,
} from "../contract/browser";
import { AppError, messageOf } from "../errors";
import type { BrowserManager } from "./browser-manager";
import type { BrowserSession } from "./browser-session";
import { type BrowserFiles, isDownloadNavigation } from "./downloads";
import { imageSize } from "./image-size";
import { contentScript } from "./content-script";
import { extractElements, type ExtractedElement } from "./page-scripts";
import { cursorLine, estimateTokens, makeCursor, refOf, sliceLines } from "./page-snapshot";
import { resolveRef, snapshotScript, type SnapshotTree } from "./snapshot-script";
import { translatePlaywrightError, type FailureContext } from "./playwright-errors";
import { READABILITY_SOURCE } from "./readability-source";
import { checkURL } from "./url-policy";

/**
 * Chromium's answers when it had no frame to capture at that moment (its compositor between frames,
 * or the page's renderer being swapped under a full-page capture), which a second try gets past.
 */
const NO_FRAME = /Unable to capture screenshot|Not attached to an active page/;
/** Tries of a screenshot that Chromium could not capture, within the request's timeout. */
const SCREENSHOT_ATTEMPTS = 3;

/** Defaults of the contract, in milliseconds. */
export const DEFAULT_TIMEOUT_MS = 30_000;
export const DEFAULT_TYPE_DELAY_MS = 100;
/** Time allowed per key typed beyond the requested delay (a busy machine takes tens of ms a key). */
const PER_KEY_ALLOWANCE_MS = 250;
/**
 * The most a `type` may ask for: its keys' delays add up to at most 30 s, and at most 1000 keys.
 * Key-by-key typing is for what a page must see typed (autocomplete, key handlers); longer text
 * is what `fill` is for, and a call that would hold its session for minutes is refused up front.
 */
const MAX_TYPING_MS = 30_000;
const MAX_TYPED_KEYS = 1000;
/**
 * The least timeout Playwright is given. Playwright retries a failed attempt after pauses of 20 to
 * 500 ms, but drops every pause longer than a fifth of the timeout: under 100 ms none is left, and
 * it retries at once. An attempt that fails without waiting on Chromium then retries in a loop of
 * promise callbacks that never lets the event loop turn, so the timer that would end it never fires:
 * the whole server spun at 100% CPU, allocating, until it was killed (the fuzz test, a scroll sent
 * with `timeout: 1`, one run in three to eight). From 100 ms on, every retry after the first waits
 * at least 20 ms. A request that asks for less waits up to 100 ms.
 */
const PLAYWRIGHT_MIN_TIMEOUT_MS = 100;

/** A request's timeout as Playwright is given it: whole milliseconds, at least `PLAYWRIGHT_MIN_TIMEOUT_MS`. */
export function forPlaywright(timeoutMs: number): number {
  return Math.max(PLAYWRIGHT_MIN_TIMEOUT_MS, Math.round(timeoutMs));
}

/** Past a call's own timeout, how long before it is abandoned as hung. */
const DEADLINE_GRACE_MS = 2_000;
const DEFAULT_EXTRACT_SELECTOR = "body *";
const DEFAULT_EXTRACT_ATTRIBUTES = ["href", "src", "class", "id"];
/** Snapshot defaults: the token cap of one answer, characters of text per line, lines made at most. */
export const DEFAULT_SNAPSHOT_TOKENS = 3000;
export const DEFAULT_SNAPSHOT_TEXT = 200;
const SNAPSHOT_MAX_LINES = 50_000;

/** An element that is, or is inside, a link that downloads (`closest("a[download], area[download]")`). */
const DOWNLOAD_LINK = "a[download], area[download], a[download] *";

/**
 * Whether `element` is (in) a link that downloads, once it is on the page. Asked with selectors,
 * which Playwright answers in its own isolated world as a click does; an `evaluate` on the element
 * would first install Playwright's script in the page's world, 100-250 ms after every navigation.
 */
function isDownloadLink(element: Locator, page: Page, timeout: number): Promise<boolean> {
  return element
    .waitFor({ state: "attached", timeout: forPlaywright(timeout) })
    .then(() => element.and(page.locator(DOWNLOAD_LINK)).count())
    .then(
      (count) => count > 0,
      () => false,
    );
}

/**
 * What each browser route does, on a session's page, with Playwright failures translated into
 * `AppError`s (timeouts 408, missing elements 404, closed pages 410). Knows nothing of HTTP.
 */
export class BrowserActions {
  private content?: ReturnType<typeof contentScript>;

  /** `files`: where downloads go and file inputs are filled from; without it, neither is offered. */
  constructor(
    private readonly manager: BrowserManager,
    private readonly files?: BrowserFiles,
  ) {}

  async navigate(request: NavigateBody) {
    const url = checkURL(request.url);
    const session = await this.manager.resolve(request.session_id);
    const timeout = request.wait_timeout ?? DEFAULT_TIMEOUT_MS;
    return this.run(session, { action: `navigate to ${url}`, timeout }, async (page) => {
      const mark = this.files?.mark(session);
      let response;
      try {
        response = await page.goto(url, { timeout: forPlaywright(timeout), waitUntil: "load" });
      } catch (error) {
        // The URL is a file to download, not a page: the page stays where it was and the download is the answer.
        if (!this.files || !mark || !isDownloadNavigation(error) || !(await this.files.waitForDownload(session, mark))) throw error;
        return { success: true, url: page.url(), title: await page.title(), status: "downloaded", http_status: null, session_id: session.id };
      }
      return {
        success: true,
        url: page.url(),
        title: await page.title(),
        status: "completed",
        http_status: response?.status() ?? null,
        session_id: session.id,
      };
    });
  }

  async click(request: ClickBody) {
    const session = await this.manager.resolve(request.session_id);
    const timeout = request.timeout ?? DEFAULT_TIMEOUT_MS;
    return this.onElement(session, "click", request.selector, timeout, async (element, page) => {
      // A link with `download` starts its download without a request the page sees, so the answer
      // waits for the download to begin. The question goes to the page before the click (after it,
      // the element may be gone) without holding the click up: its answer is back long before the
      // click's checks (visible, stable for two frames, hit target) let the mouse press. A forced
      // click skips those checks, so it waits for the answer.
      const downloadLink = this.files ? isDownloadLink(element, page, timeout) : false;
      if (request.force) await downloadLink;
      await element.click({ force: request.force ?? false, timeout: forPlaywright(timeout) });
      if (await downloadLink) this.files?.expectDownload(session);
      return { success: true, selector: request.selector, status: "completed", session_id: session.id };
    });
  }

  /**
   * Key by key, `delay` ms apart. `timeout` is for finding the element; the typing itself (the delay
   * plus an allowance for each key's round trip to the page) is added to it.
   */
  async type(request: TypeBody) {
    const delay = request.delay ?? DEFAULT_TYPE_DELAY_MS;
    const keys = [...request.text].length;
    if (keys > MAX_TYPED_KEYS || keys * delay > MAX_TYPING_MS) {
      throw new AppError(
        "VALIDATION_ERROR",
        `Typing ${keys} characters ${delay} ms apart is more than type does (at most ${MAX_TYPED_KEYS} characters and ${MAX_TYPING_MS / 1000} s of delays): use fill for long text, or a smaller delay.`,
      );
    }
    const session = await this.manager.resolve(request.session_id);
    const timeout = (request.timeout ?? DEFAULT_TIMEOUT_MS) + (delay + PER_KEY_ALLOWANCE_MS) * keys;
    return this.onElement(session, "type into", request.selector, timeout, async (element) => {
      await element.pressSequentially(request.text, { delay, timeout: forPlaywright(timeout) });
      return { success: true, selector: request.selector, text: request.text, status: "completed", session_id: session.id };
    });
  }

  async fill(request: FillBody) {
    const session = await this.manager.resolve(request.session_id);
    const timeout = request.timeout ?? DEFAULT_TIMEOUT_MS;
    return this.onElement(session, "fill", request.selector, timeout, async (element) => {
      await element.fill(request.value, { timeout: forPlaywright(timeout) });
      return { success: true, selector: request.selector, value: request.value, status: "completed", session_id: session.id };
    });
  }

  /**
   * Puts session files into a file input (`<input type=file>`), as a user choosing them would.
   * Paths are the session's files; one leaving them is a 400, a missing one a 404, an element that
   * is not a file input a 400 `NOT_A_FILE_INPUT`.
   */
  async upload(request: UploadBody) {
    if (!this.files) throw new AppError("INVALID_REQUEST", "This server has no file area for the browser.");
    const files = this.files;
    const session = await this.manager.resolve(request.session_id);
    const chosen = await files.filesForInput(session, request.paths);
    const timeout = request.timeout ?? DEFAULT_TIMEOUT_MS;
    return this.onElement(session, "upload into", request.selector, timeout, async (element) => {
      const kind = await element.evaluate((node) => ({ file: node instanceof HTMLInputElement && node.type === "file", multiple: (node as HTMLInputElement).multiple === true }), undefined, { timeout: forPlaywright(timeout) });
      if (!kind.file) {
        throw new AppError("NOT_A_FILE_INPUT", `${JSON.stringify(request.selector)} is not a file input (<input type="file">); upload puts files only into one.`);
      }
      if (!kind.multiple && request.paths.length > 1) {
        throw new AppError("INVALID_REQUEST", `${JSON.stringify(request.selector)} takes one file (it has no multiple attribute); ${request.paths.length} were given.`);
      }
      await element.setInputFiles(chosen as string[], { timeout: forPlaywright(timeout) });
      return { success: true, selector: request.selector, files: request.paths, status: "completed", session_id: session.id };
    });
  }

  /** The session's downloads, oldest first. */
  downloads(sessionId: string) {
    const session = this.manager.get(sessionId);
    return { downloads: this.files?.list(session) ?? [], session_id: session.id };
  }

  /** With a selector: scrolls it into view. Else to the absolute position (x, y); with neither, down by one screen. */
  async scroll(request: ScrollBody) {
    const session = await this.manager.resolve(request.session_id);
    const timeout = request.timeout ?? DEFAULT_TIMEOUT_MS;
    const position = (page: Page) => page.evaluate(() => ({ x: window.scrollX, y: window.scrollY }));
    if (request.selector) {
      return this.onElement(session, "scroll to", request.selector, timeout, async (element, page) => {
        await element.scrollIntoViewIfNeeded({ timeout: forPlaywright(timeout) });
        return { success: true, selector: request.selector, status: "completed", ...(await position(page)), session_id: session.id };
      });
    }
    return this.run(session, { action: "scroll", timeout }, async (page) => {
      if (request.x == null && request.y == null) await page.evaluate(() => window.scrollBy(0, window.innerHeight));
      else await page.evaluate(([x, y]) => window.scrollTo(x ?? window.scrollX, y ?? window.scrollY), [request.x, request.y] as const);
      return { success: true, status: "completed", ...(await position(page)), session_id: session.id };
    });
  }

  async wait(request: WaitBody) {
    const condition = request.condition as WaitCondition;
    if (!WAIT_CONDITIONS.includes(condition)) {
      throw new AppError("INVALID_CONDITION", `Unknown wait condition ${JSON.stringify(request.condition)}; use one of ${WAIT_CONDITIONS.join(", ")}.`);
    }
    const needsSelector = condition === "visible" || condition === "hidden";
    if (needsSelector && !request.selector) {
      throw new AppError("VALIDATION_ERROR", `The condition "${condition}" needs a selector.`);
    }
    const session = await this.manager.resolve(request.session_id);
    const timeout = request.timeout ?? DEFAULT_TIMEOUT_MS;
    const context = { action: `wait for ${condition}${request.selector ? ` of ${JSON.stringify(request.selector)}` : ""}`, timeout };
    return this.run(session, { ...context, selector: request.selector ?? undefined }, async (page) => {
      if (needsSelector) await page.locator(await this.target(session, page, request.selector!)).first().waitFor({ state: condition, timeout: forPlaywright(timeout) });
      else await page.waitForLoadState(condition as "load" | "networkidle", { timeout: forPlaywright(timeout) });
      return { success: true, condition, selector: request.selector ?? null, status: "completed", session_id: session.id };
    });
  }

  /** `quality` applies to JPEG and is ignored for PNG (clients send it either way); `clip` overrides `full_page`. */
  async screenshot(request: ScreenshotBody) {
    const format = request.format ?? "png";
    const session = await this.manager.resolve(request.session_id);
    const timeout = request.timeout ?? DEFAULT_TIMEOUT_MS;
    return this.run(session, { action: "take a screenshot", timeout }, async (page) => {
      const options = {
        type: format,
        fullPage: request.clip ? false : (request.full_page ?? true),
        clip: request.clip ?? undefined,
        quality: format === "jpeg" ? (request.quality ?? undefined) : undefined,
      } as const;
      const until = performance.now() + timeout;
      let bytes: Buffer;
      for (let attempt = 1; ; attempt++) {
        try {
          bytes = await page.screenshot({ ...options, timeout: forPlaywright(until - performance.now()) });
          break;
        } catch (error) {
          // Chromium now and then has no frame to give (a compositor between frames): the next try gets one.
          if (attempt >= SCREENSHOT_ATTEMPTS || !NO_FRAME.test(messageOf(error)) || performance.now() + 50 >= until) throw error;
          await Bun.sleep(50);
        }
      }
      const size = imageSize(bytes);
      return { screenshot: bytes.toString("base64"), format, width: size?.width ?? null, height: size?.height ?? null, session_id: session.id };
    });
  }

  async extract(request: ExtractBody) {
    const session = await this.manager.resolve(request.session_id);
    const selector = request.selector || DEFAULT_EXTRACT_SELECTOR;
    const attributes = request.attributes?.length ? request.attributes : DEFAULT_EXTRACT_ATTRIBUTES;
    const limit = request.limit ?? 100;
    const timeout = request.timeout ?? DEFAULT_TIMEOUT_MS;
    return this.run(session, { action: "extract", selector, timeout }, async (page) => {
      const locator = page.locator(await this.target(session, page, selector));
      const elements = (await locator.evaluateAll(extractElements as never, { attributes, limit })) as ExtractedElement[];
      if (elements.length === 0 && request.selector) {
        throw new AppError("ELEMENT_NOT_FOUND", `No element matches the selector ${JSON.stringify(selector)}.`);
      }
      return { elements, count: await locator.count(), session_id: session.id };
    });
  }

  async pageContent(request: ContentBody): Promise<ContentResult> {
    const url = request.url ? checkURL(request.url) : undefined;
    const session = await this.manager.resolve(request.session_id);
    if (url) await this.navigate({ url, session_id: session.id, wait_timeout: request.wait_timeout });
    const started = performance.now();
    this.content ??= contentScript(READABILITY_SOURCE);
    const script = this.content;
    const timeout = request.timeout ?? DEFAULT_TIMEOUT_MS;
    return this.run(session, { action: "read the page's content", timeout }, async (page) => {
      const result = await page.evaluate(script, {
        includeInteractive: request.include_interactive ?? true,
        includeAnchors: request.include_anchors ?? true,
        maxAnchors: request.max_anchors ?? 50,
        maxInteractive: request.max_interactive ?? 200,
      });
      return { ...result, extraction_time: (performance.now() - started) / 1000, session_id: session.id };
    });
  }

  /**
   * The page as a short text tree of its meaningful and interactive parts, interactive ones with a
   * ref (`ref=e12` works wherever a selector does), at most `max_tokens` long; `cursor` reads on in
   * the same snapshot without touching the page.
   */
  async snapshot(request: SnapshotBody) {
    const session = await this.manager.resolve(request.session_id);
    const maxTokens = request.max_tokens ?? DEFAULT_SNAPSHOT_TOKENS;
    if (request.cursor) {
      const start = cursorLine(request.cursor, session.snapshot);
      this.manager.touch(session);
      return this.snapshotAnswer(session, session.snapshot!, start, maxTokens, { url: session.page.url(), title: null, refs: null, incomplete: false });
    }
    const timeout = request.timeout ?? DEFAULT_TIMEOUT_MS;
    const options = { query: request.query || null, nextRef: session.nextRef, maxText: request.max_text ?? DEFAULT_SNAPSHOT_TEXT, maxLines: SNAPSHOT_MAX_LINES, budgetMs: timeout / 2 };
    // An element handle in the argument arrives in the page as its element.
    const take = (page: Page, root: ElementHandle | null) => page.evaluate(snapshotScript as (arg: unknown) => SnapshotTree, { ...options, root });
    const tree = request.selector
      ? await this.onElement(session, "take a snapshot of", request.selector, timeout, async (element, page) => {
          const handle = await element.elementHandle({ timeout: forPlaywright(timeout) });
          try {
            return await take(page, handle);
          } finally {
            void handle.dispose().catch(() => undefined);
          }
        })
      : await this.run(session, { action: "take a snapshot", timeout }, (page) => take(page, null));
    return this.snapshotAnswer(session, session.keepSnapshot(tree.lines, tree.nextRef), 0, maxTokens, tree);
  }

  private snapshotAnswer(
    session: BrowserSession,
    snapshot: { id: string; lines: string[] },
    start: number,
    maxTokens: number,
    about: { url: string; title: string | null; refs: number | null; incomplete: boolean },
  ) {
    const slice = sliceLines(snapshot.lines, start, maxTokens);
    return {
      url: about.url,
      title: about.title,
      snapshot: slice.text,
      tokens: slice.tokens,
      total_tokens: estimateTokens(snapshot.lines.join("\n")),
      lines: { from: start, to: slice.next ?? snapshot.lines.length, total: snapshot.lines.length },
      cursor: slice.next === null ? null : makeCursor(snapshot, slice.next),
      refs: about.refs,
      incomplete: about.incomplete,
      session_id: session.id,
    };
  }

  /**
   * The Playwright selector for what a request names: the selector itself, or for `ref=e12` the
   * element the ref was given to, marked for a locator to find. A ref whose element is gone is a
   * 404 `STALE_REF` at once, not a wait.
   */
  private async target(session: BrowserSession, page: Page, selector: string): Promise<string> {
    const ref = refOf(selector);
    if (!ref) return selector;
    const found = await page.evaluate(resolveRef, { ref, mark: `${ref}-${crypto.randomUUID().slice(0, 8)}` });
    if (found.found) return `[data-coderunner-ref="${found.mark}"]`;
    const issued = Number(ref.slice(1)) < session.nextRef;
    const why =
      !issued
        ? "no snapshot of this session gave it; take a snapshot and use the refs it shows"
        : found.reason === "detached"
          ? "its element was removed from the page; take a new snapshot"
          : "it is from an earlier page (the page navigated or reloaded since the snapshot that gave it); take a new snapshot";
    throw new AppError("STALE_REF", `ref=${ref} cannot be used: ${why}.`);
  }

  /**
   * Runs an element action. When it times out, a selector that matches nothing is a 404
   * (`ELEMENT_NOT_FOUND`); one that matches an element that never became actionable stays a 408.
   */
  private onElement<T>(session: BrowserSession, action: string, selector: string, timeout: number, act: (element: Locator, page: Page) => Promise<T>): Promise<T> {
    return this.run(session, { action, selector, timeout }, async (page) => {
      const target = await this.target(session, page, selector);
      const element = page.locator(target).first();
      try {
        return await act(element, page);
      } catch (error) {
        if ((error as Error)?.name === "TimeoutError" && (await page.locator(target).count().catch(() => 1)) === 0) {
          throw new AppError("ELEMENT_NOT_FOUND", `No element matches the selector ${JSON.stringify(selector)} (waited ${timeout} ms).`, { cause: error });
        }
        throw error;
      }
    });
  }

  /**
   * Runs `work` on the session's page, counting it as use (the session cannot idle out meanwhile)
   * and translating what Playwright throws.
   * It never waits past `timeout` plus a grace period (or forever on a dead session): a page stuck
   * in a script, or a Chromium that died mid-call, answers 408 or 410 instead of hanging.
   */
  private async run<T>(session: BrowserSession, context: FailureContext, work: (page: Page) => Promise<T>): Promise<T> {
    this.manager.startWork(session);
    const limit = (context.timeout ?? DEFAULT_TIMEOUT_MS) + DEADLINE_GRACE_MS;
    const deadline = Promise.withResolvers<never>();
    const timer = setTimeout(
      () => deadline.reject(new AppError("TIMEOUT", `Could not ${context.action} within ${limit} ms: the page stopped responding.`)),
      limit,
    );
    const started = performance.now();
    const mark = this.files?.mark(session);
    try {
      const result = await Promise.race([work(session.page), session.whenLost, deadline.promise]);
      // Downloads the action started are part of its answer, once saved (or as they stand at its timeout).
      if (this.files && mark && result && typeof result === "object" && "session_id" in result) {
        const left = () => limit - DEADLINE_GRACE_MS - (performance.now() - started);
        // A click on a link to a file returns before Chromium has decided the navigation is a download.
        await this.files.settle(session, mark, left());
        const downloads = await this.files.since(session, mark, left());
        if (downloads.length) return { ...result, downloads } as T;
      }
      return result;
    } catch (error) {
      const translated = translatePlaywrightError(error, context);
      if (translated.code === "SESSION_GONE" && session.goneReason) {
        throw new AppError("SESSION_GONE", `Browser session ${session.id} is gone: ${session.goneReason} Create a new session.`, { cause: error });
      }
      throw translated;
    } finally {
      clearTimeout(timer);
      this.manager.endWork(session);
    }
  }
}
