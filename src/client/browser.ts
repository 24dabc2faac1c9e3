import type * as Contract from "../contract";
import type {
  BrowserActionResult,
  BrowserDownload,
  BrowserSessionInfo,
  BrowserSessionOptions,
  ClickOptions,
  ExtractContentOptions,
  ExtractedElement,
  NavigateResult,
  PageContent,
  PageSnapshot,
  ScreenshotOptions,
  ScrollOptions,
  SnapshotOptions,
  TypeOptions,
  WaitCondition,
  WaitOptions,
} from "./types";

/** How browser objects reach the server: a JSON call through the owning client. */
export type BrowserCall = <T>(method: string, path: string, what: string, json?: unknown, timeoutMs?: number) => Promise<T>;

/** Client-side allowance beyond a browser call's own timeout before the SDK gives up on the server. */
const SLACK_MS = 15_000;
const deadline = (timeout: number | undefined) => (timeout ?? 30_000) + SLACK_MS;

/** The interactions of the contract: `"navigate"`, `"click"`, ... (`POST /v1/browser/interactions/{action}`). */
type Interaction = Contract.Route extends infer R ? (R extends `POST /v1/browser/interactions/${infer Action}` ? Action : never) : never;
type InteractionRoute<A extends Interaction> = Extract<`POST /v1/browser/interactions/${A}`, Contract.Route>;
/** What an interaction takes besides `session_id`, which the session or the manager fills in. */
type InteractionBody<A extends Interaction> = Omit<Contract.BodyOf<InteractionRoute<A>>, "session_id">;

/** Interactions shared by a session and the manager's default-session shortcuts. */
abstract class BrowserActions {
  protected abstract readonly call: BrowserCall;
  /** The session the next interaction targets (the manager creates its default one on demand). */
  protected abstract target(): Promise<string | undefined>;

  protected async interact<A extends Interaction>(action: A, body: InteractionBody<A>, timeout?: number): Promise<Contract.ResponseOf<InteractionRoute<A>>> {
    const sessionId = await this.target();
    return this.call("POST", `/v1/browser/interactions/${action}`, `Browser ${action}`, { session_id: sessionId, ...body }, deadline(timeout));
  }

  /** Opens `url` and waits for it to load (`waitTimeout` in milliseconds). */
  navigate(url: string, options: { waitTimeout?: number } = {}): Promise<NavigateResult> {
    return this.interact("navigate", { url, wait_timeout: options.waitTimeout ?? 30_000 }, options.waitTimeout);
  }

  /** Clicks the first element matching `selector`; a selector matching nothing is `ElementNotFoundError`. */
  click(selector: string, options: ClickOptions = {}): Promise<BrowserActionResult> {
    return this.interact("click", { selector, force: options.force ?? false, timeout: options.timeout ?? 30_000 }, options.timeout);
  }

  /** Types `text` key by key into the element (see `fill` to set a value at once). */
  type(selector: string, text: string, options: TypeOptions = {}): Promise<BrowserActionResult> {
    const typingMs = (options.delay ?? 100) * text.length;
    return this.interact("type", { selector, text, delay: options.delay ?? 100, timeout: options.timeout ?? 30_000 }, (options.timeout ?? 30_000) + typingMs);
  }

  /** Sets an input's value. */
  fill(selector: string, value: string, options: { timeout?: number } = {}): Promise<BrowserActionResult> {
    return this.interact("fill", { selector, value, timeout: options.timeout ?? 30_000 }, options.timeout);
  }

  /**
   * Puts session files into a file input (`<input type="file">`, by selector or `ref=e12`). Paths are
   * relative to the session's files (its code session's working directory), or absolute inside the
   * workspace; one leaving them is a 400 (`INVALID_PATH`), a missing one a 404, an element that is
   * not a file input a 400 (`NOT_A_FILE_INPUT`).
   * @example
   * await runner.uploadFile(await readFile("cv.pdf"), "cv.pdf", { sessionId });
   * await browser.uploadFiles('input[type="file"]', ["cv.pdf"]);
   */
  uploadFiles(selector: string, paths: string[], options: { timeout?: number } = {}): Promise<BrowserActionResult> {
    return this.interact("upload", { selector, paths, timeout: options.timeout ?? 30_000 }, options.timeout);
  }

  /** Scrolls an element into view, or the page to `x`/`y`. */
  scroll(options: ScrollOptions = {}): Promise<BrowserActionResult> {
    return this.interact("scroll", { selector: options.selector, x: options.x, y: options.y });
  }

  /** Waits for a condition: an element `visible`/`hidden`, or the page's `load`/`networkidle`. */
  waitFor(condition: WaitCondition, options: WaitOptions = {}): Promise<BrowserActionResult> {
    return this.interact("wait", { condition, selector: options.selector, timeout: options.timeout ?? 30_000 }, options.timeout);
  }

  /** A screenshot as base64 (PNG unless `format: "jpeg"`). */
  async screenshot(options: ScreenshotOptions = {}): Promise<string> {
    const result = await this.interact("screenshot", {
      full_page: options.fullPage ?? true,
      clip: options.clip,
      format: options.format ?? "png",
      quality: options.quality,
    });
    return result.screenshot;
  }

  /** The elements matching `selector`, with their text and the requested attributes. */
  async extractElements(selector?: string, attributes?: string[]): Promise<ExtractedElement[]> {
    const result = await this.interact("extract", { selector, attributes });
    return result.elements;
  }

  /**
   * The page as a short text tree within a token cap, interactive parts with refs usable as selectors.
   * @example
   * const view = await browser.snapshot({ query: "Add to cart" });
   * const ref = /button "Add to cart" \[ref=(e\d+)\]/.exec(view.snapshot)![1];
   * await browser.click(`ref=${ref}`);
   */
  snapshot(options: SnapshotOptions = {}): Promise<PageSnapshot> {
    return this.interact(
      "snapshot",
      { selector: options.selector, query: options.query, max_tokens: options.maxTokens, max_text: options.maxText, cursor: options.cursor, timeout: options.timeout },
      options.timeout,
    );
  }

  /** The page's readable text, interactive elements (with selectors usable in `click`/`fill`) and content anchors. */
  extractContent(options: ExtractContentOptions = {}): Promise<PageContent> {
    return this.interact("content", {
      url: options.url,
      include_interactive: options.includeInteractive ?? true,
      include_anchors: options.includeAnchors ?? true,
      max_anchors: options.maxAnchors ?? 50,
    });
  }
}

/** One browser session (a page with its own cookies and storage) on the server. */
export class BrowserSession extends BrowserActions {
  readonly sessionId: string;
  protected readonly call: BrowserCall;
  private readonly onClose: (session: BrowserSession) => void;
  private closed = false;

  constructor(sessionId: string, call: BrowserCall, onClose: (session: BrowserSession) => void = () => {}) {
    super();
    this.sessionId = sessionId;
    this.call = call;
    this.onClose = onClose;
  }

  protected async target(): Promise<string> {
    return this.sessionId;
  }

  /** True until `close()`. */
  get isActive(): boolean {
    return !this.closed;
  }

  /** The server's view of the session (viewport, user agent, status). */
  info(): Promise<BrowserSessionInfo> {
    return this.call("GET", `/v1/browser/sessions/${encodeURIComponent(this.sessionId)}`, "Reading the browser session");
  }

  /**
   * What the session's pages downloaded, oldest first: where each was saved (its code session's
   * `downloads/`, else `browser-downloads/<id>/` in the workspace), or why it failed.
   */
  async listDownloads(): Promise<BrowserDownload[]> {
    const listed = await this.call<{ downloads: BrowserDownload[] }>("GET", `/v1/browser/sessions/${encodeURIComponent(this.sessionId)}/downloads`, "Listing the browser session's downloads");
    return listed.downloads;
  }

  /** Closes the session on the server; closing twice is harmless. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.onClose(this);
    await this.call("DELETE", `/v1/browser/sessions/${encodeURIComponent(this.sessionId)}`, "Closing the browser session");
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close().catch(() => undefined);
  }

  toJSON(): { session_id: string } {
    return { session_id: this.sessionId };
  }
}

/**
 * `runner.browser`: creates sessions, and offers every interaction as a shortcut on a default session
 * that it creates on first use (`runner.browser.navigate(url)`).
 */
export class BrowserManager extends BrowserActions {
  protected readonly call: BrowserCall;
  private readonly open = new Set<BrowserSession>();
  private defaultSession: Promise<BrowserSession> | undefined;
  private defaultResolved: BrowserSession | undefined;

  constructor(call: BrowserCall) {
    super();
    this.call = call;
  }

  /** Opens a new browser session. */
  async createSession(options: BrowserSessionOptions = {}): Promise<BrowserSession> {
    const created = await this.call<Contract.BrowserSessionCreated>("POST", "/v1/browser/sessions/", "Creating a browser session", {
      viewport_width: options.viewportWidth ?? 1920,
      viewport_height: options.viewportHeight ?? 1080,
      user_agent: options.userAgent,
      sandbox_id: options.sandboxId,
    } satisfies Contract.CreateBrowserSessionBody);
    const session = new BrowserSession(created.session_id, this.call, (closed) => {
      this.open.delete(closed);
      if (closed === this.defaultResolved) this.forgetDefault();
    });
    this.open.add(session);
    return session;
  }

  /** Every browser session open on the server. */
  async listSessions(): Promise<BrowserSessionInfo[]> {
    const listed = await this.call<Contract.BrowserSessionList>("GET", "/v1/browser/sessions/", "Listing browser sessions");
    return listed.sessions;
  }

  /** The session the shortcuts use, created on first use. */
  getDefaultSession(): Promise<BrowserSession> {
    if (this.defaultSession) return this.defaultSession;
    const pending = this.createSession().then(
      (session) => ((this.defaultResolved = session), session),
      (error: unknown) => {
        if (this.defaultSession === pending) this.forgetDefault();
        throw error;
      },
    );
    this.defaultSession = pending;
    return pending;
  }

  private forgetDefault(): void {
    this.defaultSession = undefined;
    this.defaultResolved = undefined;
  }

  protected async target(): Promise<string> {
    return (await this.getDefaultSession()).sessionId;
  }

  /**
   * Like the session's `extractContent`, but with a `url` and no default session yet it asks the server
   * directly (the server opens the page itself), as the InstaVM SDK's local mode does.
   */
  override extractContent(options: ExtractContentOptions = {}): Promise<PageContent> {
    if (options.url && !this.defaultSession) {
      return this.call<PageContent>("POST", "/v1/browser/interactions/content", "Browser content", {
        url: options.url,
        include_interactive: options.includeInteractive ?? true,
        include_anchors: options.includeAnchors ?? true,
        max_anchors: options.maxAnchors ?? 50,
      } satisfies Contract.ContentBody, deadline(undefined));
    }
    return super.extractContent(options);
  }

  /** Closes the default session, if one was created. */
  async close(): Promise<void> {
    const pending = this.defaultSession;
    this.forgetDefault();
    if (pending) await (await pending.catch(() => undefined))?.close();
  }

  /** Closes every session this manager opened (best effort). */
  async closeAll(): Promise<void> {
    this.forgetDefault();
    await Promise.all([...this.open].map((session) => session.close().catch(() => undefined)));
  }
}
