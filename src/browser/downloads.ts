import type { DownloadInfo } from "../contract/browser";
import { statSync } from "node:fs";
import { basename, isAbsolute, join, resolve } from "node:path";
import type { Download, Request } from "playwright-core";
import { AppError, messageOf } from "../errors";
import { isInside } from "../files/file-area";
import type { FileService } from "../files/file-service";
import type { SessionStore } from "../kernels/session-store";
import type { Logger } from "../log";
import type { BrowserSession } from "./browser-session";

/**
 * Files in and out of the browser: what a page downloads lands in the browser session's files (its
 * code session's working directory, under `downloads/`, when it belongs to one; else
 * `browser-downloads/<browser session id>/` in the workspace), and a file input is filled from
 * those files. Every write and read goes through the server's `FileService`, so a confined sandbox
 * writes the sandbox user's files as that user, and symlinks out of the workspace are refused.
 */

/** A download as answers report it (the contract's `DownloadInfo`). */
export type { DownloadInfo };

/** Where one browser session's files are: its root (relative paths resolve here) and its downloads folder in it. */
export interface SessionPlace {
  /** Absolute directory relative paths resolve in (a code session's working directory, or the workspace). */
  root: string;
  /** The downloads folder, relative to `root`. */
  downloads: string;
}

export interface BrowserFilesOptions {
  files: FileService;
  /** The sandbox's file area: no upload path may lie outside it. */
  workspace: string;
  /** Where a browser session's files are (see `SessionPlace`). */
  placeOf(session: BrowserSession): SessionPlace;
  /** Largest download kept and largest file put into a file input (CODERUNNER_MAX_UPLOAD_BYTES). */
  maxBytes: number;
  log: Logger;
  /** How often a download in progress is measured against `maxBytes`. */
  pollMs?: number;
  /**
   * Set when Chromium runs as the sandbox user (a confined sandbox) and writes its downloads into a
   * folder of that user's: they are then read through `files` and removed as that user, never with
   * the server's rights (a file there may have been swapped for a link to the server's own).
   */
  asUser?: { removeTree(path: string): Promise<void> };
}

/** Longest file name kept, in bytes (most filesystems allow 255). */
const MAX_NAME_BYTES = 200;
/** After a navigation fails, how long it may still turn out to be a download. */
const FAILED_NAVIGATION_MS = 300;
/** The longest an action's answer waits for its navigations to show whether they are downloads. */
const SETTLE_MS = 2_000;
/** Downloads a session remembers for its list. */
const REMEMBERED = 200;
/** Files given to a file input as bytes (a confined sandbox's files, which the server cannot read by path) at most this large. */
const MAX_BUFFERED_UPLOAD = 50 * 1024 * 1024;
/** After a navigation that became a download, how long to wait for Playwright's download event. */
const DOWNLOAD_EVENT_MS = 5_000;

/**
 * A safe file name for a page's suggestion: its last path part only (no `..`, no directories, no
 * absolute names), without NUL and control characters, not hidden, at most 200 bytes (the
 * extension kept), never empty.
 */
export function safeFilename(suggested: string): string {
  let name = String(suggested ?? "").replaceAll("\\", "/");
  name = name.split("/").filter((part) => part !== "").at(-1) ?? "";
  // Control characters (NUL included) and characters Windows or shells trip over.
  name = name.replace(/[\u0000-\u001f\u007f<>:"|?*]/g, "_").trim();
  name = name.replace(/^[.\s]+/, "");
  if (!name || name === "." || name === "..") name = "download";
  if (Buffer.byteLength(name) > MAX_NAME_BYTES) {
    const dot = name.lastIndexOf(".");
    const extension = dot > 0 && name.length - dot <= 16 ? name.slice(dot) : "";
    const stem = [...name.slice(0, name.length - extension.length)];
    let bytes = Buffer.byteLength(stem.join("") + extension);
    while (bytes > MAX_NAME_BYTES) bytes -= Buffer.byteLength(stem.pop()!);
    name = stem.join("") + extension;
  }
  return name;
}

/** `name`, or `name (2).ext`, `name (3).ext`, ... : the first not in `taken`. */
export function uniqueName(name: string, taken: Set<string>): string {
  if (!taken.has(name)) return name;
  const dot = name.lastIndexOf(".");
  const [stem, extension] = dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, ""];
  for (let n = 2; ; n++) {
    const candidate = `${stem} (${n})${extension}`;
    if (!taken.has(candidate)) return candidate;
  }
}

/** Where a session's downloads and navigations stood when an action began. */
export interface Mark {
  downloads: number;
  navigations: number;
}

interface Tracked {
  info: DownloadInfo;
  done: Promise<void>;
  seq: number;
}

/** One browser session's downloads. */
class SessionDownloads {
  readonly all: Tracked[] = [];
  seq = 0;
  /**
   * Main-frame navigations whose outcome is not known yet, with the download seq when they began:
   * one may still become a download. Settled by a response that is a page, by finishing, or a moment
   * after failing (a navigation that becomes a download fails with ERR_ABORTED just before it).
   */
  readonly navigating = new Map<Request, { navigation: number; downloads: number }>();
  navigations = 0;
  /** Set when an action used a link that downloads (`<a download>`), which makes no request the page sees. */
  expecting: { navigations: number } | undefined;
  /** Waiters for the next download event (a navigation that became a download). */
  readonly next = new Set<() => void>();
}

export class BrowserFiles {
  private readonly tracked = new WeakMap<BrowserSession, SessionDownloads>();
  /** Names being written, per folder, so two downloads at once never take the same one. */
  private readonly reserved = new Map<string, Set<string>>();

  constructor(private readonly options: BrowserFilesOptions) {}

  /** Starts saving the session's downloads (once per session; later calls are free). */
  attach(session: BrowserSession): SessionDownloads {
    let state = this.tracked.get(session);
    if (state) return state;
    const created = new SessionDownloads();
    state = created;
    this.tracked.set(session, created);
    const { page } = session;
    page.on("download", (download) => this.begin(session, created, download));
    const isNavigation = (request: Request) => request.isNavigationRequest() && request.frame() === page.mainFrame();
    page.on("request", (request) => {
      if (isNavigation(request)) created.navigating.set(request, { navigation: ++created.navigations, downloads: created.seq });
    });
    page.on("response", (response) => {
      const request = response.request();
      if (!created.navigating.has(request)) return;
      if (/^\s*attachment/i.test(response.headers()["content-disposition"] ?? "")) return;
      created.navigating.delete(request);
    });
    page.on("requestfinished", (request) => created.navigating.delete(request));
    page.on("requestfailed", (request) => {
      if (created.navigating.has(request)) setTimeout(() => created.navigating.delete(request), FAILED_NAVIGATION_MS).unref?.();
    });
    return created;
  }

  /**
   * Waits (at most `ms`, and 2 s) until every navigation the page began since `mark` shows whether
   * it is a download: a click on a link to a file returns before Chromium says so.
   */
  async settle(session: BrowserSession, mark: Mark, ms: number): Promise<void> {
    const state = this.tracked.get(session);
    if (!state) return;
    const until = performance.now() + Math.min(SETTLE_MS, Math.max(0, ms));
    const linked = state.expecting !== undefined && state.expecting.navigations >= mark.navigations;
    state.expecting = undefined;
    const unsettled = () =>
      (linked && state.seq === mark.downloads) || [...state.navigating.values()].some((begun) => begun.navigation > mark.navigations && begun.downloads === state.seq);
    while (unsettled() && performance.now() < until && session.goneReason === undefined) await Bun.sleep(10);
  }

  /** Says the action just clicked a download link: its answer waits (briefly) for the download to begin. */
  expectDownload(session: BrowserSession): void {
    const state = this.attach(session);
    state.expecting = { navigations: state.navigations };
  }

  /** A mark to find the downloads (and navigations) that begin after it. */
  mark(session: BrowserSession): Mark {
    const state = this.attach(session);
    return { downloads: state.seq, navigations: state.navigations };
  }

  /** Every download of the session this server remembers, oldest first. */
  list(session: BrowserSession): DownloadInfo[] {
    return (this.tracked.get(session)?.all ?? []).map((tracked) => ({ ...tracked.info }));
  }

  /**
   * The downloads begun since `mark`, each once it is saved or failed, or as it stands at `waitMs`
   * (a long download goes on, and the session's list shows when it is done).
   */
  async since(session: BrowserSession, mark: Mark, waitMs: number): Promise<DownloadInfo[]> {
    const state = this.tracked.get(session);
    const begun = state?.all.filter((tracked) => tracked.seq > mark.downloads) ?? [];
    if (begun.length === 0) return [];
    let timer: Timer | undefined;
    const limit = new Promise<void>((done) => (timer = setTimeout(done, Math.max(0, waitMs))));
    await Promise.race([Promise.all(begun.map((tracked) => tracked.done)), limit, session.whenLost.catch(() => undefined)]);
    clearTimeout(timer);
    return begun.map((tracked) => ({ ...tracked.info }));
  }

  /** Resolves once a download begins after `mark`, or after `ms`: a navigation that "failed" because it became one. */
  async waitForDownload(session: BrowserSession, mark: Mark, ms = DOWNLOAD_EVENT_MS): Promise<boolean> {
    const state = this.attach(session);
    if (state.seq > mark.downloads) return true;
    let timer: Timer | undefined;
    let wake: () => void = () => undefined;
    await new Promise<void>((done) => {
      wake = done;
      state.next.add(done);
      timer = setTimeout(done, ms);
    });
    state.next.delete(wake);
    clearTimeout(timer);
    return state.seq > mark.downloads;
  }

  private begin(session: BrowserSession, state: SessionDownloads, download: Download): void {
    const suggested = download.suggestedFilename();
    const info: DownloadInfo = {
      url: download.url(),
      suggested_filename: suggested,
      filename: safeFilename(suggested),
      path: null,
      relative_path: null,
      size: null,
      status: "in_progress",
      error: null,
      started_at: new Date().toISOString(),
    };
    const tracked: Tracked = { info, seq: ++state.seq, done: Promise.resolve() };
    tracked.done = this.save(session, download, info).catch((error: unknown) => {
      info.status = "failed";
      info.error ??= messageOf(error);
      this.options.log.debug(`Browser session ${session.id}: download of ${info.url} failed: ${info.error}`);
    });
    state.all.push(tracked);
    if (state.all.length > REMEMBERED) state.all.shift();
    for (const wake of [...state.next]) wake();
  }

  /** Waits for the download (stopping it past the size cap), then moves it into the session's files. */
  private async save(session: BrowserSession, download: Download, info: DownloadInfo): Promise<void> {
    const { maxBytes } = this.options;
    const tooLarge = () =>
      `The download is larger than the limit of ${maxBytes} bytes (CODERUNNER_MAX_UPLOAD_BYTES); it was stopped and nothing was kept.`;
    // Playwright's own file for it, as Chromium writes it: watched so a huge download is cut off early.
    const artifact = (download as unknown as { _artifact?: { _initializer?: { absolutePath?: string } } })._artifact?._initializer?.absolutePath;
    let over = false;
    const watcher = artifact
      ? setInterval(() => {
          let size = 0;
          try {
            size = statSync(artifact).size;
          } catch {
            return;
          }
          if (size > maxBytes && !over) {
            over = true;
            void download.cancel().catch(() => undefined);
          }
        }, this.options.pollMs ?? 100)
      : undefined;
    let failure: string | null;
    try {
      failure = await Promise.race([download.failure(), session.whenLost]);
    } finally {
      clearInterval(watcher);
    }
    const size = over ? maxBytes + 1 : artifact ? sizeOf(artifact) : null;
    if (over || (size !== null && size > maxBytes)) {
      info.error = tooLarge();
      await download.delete().catch(() => undefined);
      throw new AppError("PAYLOAD_TOO_LARGE", info.error);
    }
    if (failure) {
      info.error = failure === "canceled" ? "The download was cancelled." : `The download failed: ${failure}`;
      throw new Error(info.error);
    }
    const place = this.options.placeOf(session);
    const folder = join(place.root, place.downloads);
    const reserved = this.reserved.get(folder) ?? new Set<string>();
    this.reserved.set(folder, reserved);
    const existing = await this.options.files.list(place.downloads, place.root).then(
      (listing) => listing.entries.map((entry) => entry.name),
      () => [] as string[],
    );
    const name = uniqueName(info.filename, new Set([...existing, ...reserved]));
    reserved.add(name);
    const { files } = this.options;
    const staged = join(files.stagingDir, `download-${crypto.randomUUID()}`);
    try {
      // Streamed through the file service's staging (as the sandbox user when confined), counted as it goes.
      const sink = files.staging.open(staged);
      let written = 0;
      let bytes: AsyncIterable<Uint8Array>;
      if (this.options.asUser && artifact) {
        const opened = await files.openForDownload(artifact, "/", maxBytes);
        bytes = typeof opened.source === "string" ? Bun.file(opened.source).stream() : opened.source;
      } else {
        bytes = await download.createReadStream();
      }
      for await (const chunk of bytes) {
        written += chunk.length;
        if (written > maxBytes) {
          sink.sink.destroy();
          info.error = tooLarge();
          throw new AppError("PAYLOAD_TOO_LARGE", info.error);
        }
        if (!sink.sink.write(chunk)) await new Promise<void>((done) => sink.sink.once("drain", done));
      }
      await new Promise<void>((done, fail) => sink.sink.end((error?: Error | null) => (error ? fail(error) : done())));
      await sink.done;
      const placed = await files.place(
        {
          fields: { remote_path: join(place.downloads, name) },
          files: [{ field: "file", filename: name, staged, size: written }],
          discard: async () => undefined,
        },
        place.root,
      );
      info.filename = name;
      info.path = placed.path;
      info.relative_path = join(place.downloads, name);
      info.size = placed.size;
      info.status = "completed";
    } finally {
      reserved.delete(name);
      await Promise.resolve(files.staging.remove([staged])).catch(() => undefined);
      if (this.options.asUser && artifact) await this.options.asUser.removeTree(artifact).catch(() => undefined);
      else await download.delete().catch(() => undefined);
    }
  }

  /**
   * Puts the named files (relative to the session's root, or absolute inside the workspace) into
   * the file input `locator` resolves to. A path leaving the file area is a 400, a missing file a
   * 404, one over the size cap a 413.
   */
  async filesForInput(session: BrowserSession, paths: string[]): Promise<string[] | { name: string; mimeType: string; buffer: Buffer }[]> {
    const { root } = this.options.placeOf(session);
    const opened = [];
    for (const input of paths) {
      this.checkInside(input, root);
      opened.push({ input, ...(await this.options.files.openForDownload(input, root, this.options.maxBytes)) });
    }
    if (opened.every((file) => typeof file.source === "string")) return opened.map((file) => file.source as string);
    // Files the server cannot hand Chromium by path (a confined sandbox): sent as bytes.
    const total = opened.reduce((sum, file) => sum + file.size, 0);
    if (total > MAX_BUFFERED_UPLOAD) {
      throw new AppError("PAYLOAD_TOO_LARGE", `The files add up to ${total} bytes; at most ${MAX_BUFFERED_UPLOAD} can be put into a file input here.`);
    }
    const buffered = [];
    for (const file of opened) {
      const chunks: Buffer[] = [];
      if (typeof file.source === "string") chunks.push(Buffer.from(await Bun.file(file.source).arrayBuffer()));
      else for await (const chunk of file.source) chunks.push(Buffer.from(chunk));
      buffered.push({ name: basename(file.path), mimeType: Bun.file(file.path).type || "application/octet-stream", buffer: Buffer.concat(chunks) });
    }
    return buffered;
  }

  /** Refuses a path outside the file area before any file is touched (a confined file service would allow any the user may read). */
  private checkInside(input: string, root: string): void {
    const invalid = (why: string) => new AppError("INVALID_PATH", `The path ${JSON.stringify(String(input).replaceAll("\0", "\\0"))} ${why}.`);
    if (typeof input !== "string" || input.trim() === "") throw invalid("is empty");
    if (input.includes("\0")) throw invalid("contains a NUL byte");
    const target = isAbsolute(input) ? resolve(input) : resolve(root, input);
    if (!isAbsolute(input) && !isInside(resolve(root), target)) throw invalid("leaves the session's files (paths may not climb out with ..)");
    if (!isInside(resolve(this.options.workspace), target)) throw invalid(`is outside the sandbox's file area (${this.options.workspace})`);
  }
}

/**
 * Where a browser session's files are: a browser session made for a code session (its id is
 * `<session>.<uuid>`) uses that session's working directory, its downloads under `downloads/`;
 * any other uses the workspace, its downloads under `browser-downloads/<its id>/`.
 */
export function placeOf(sessions: Pick<SessionStore, "find" | "workspace">): (session: BrowserSession) => SessionPlace {
  return (session) => {
    const dot = session.id.indexOf(".");
    const owner = dot > 0 ? sessions.find(session.id.slice(0, dot)) : undefined;
    if (owner) return { root: owner.dir, downloads: "downloads" };
    return { root: sessions.workspace, downloads: join("browser-downloads", session.id.replace(/[^\w.-]/g, "_")) };
  };
}

function sizeOf(path: string): number | null {
  try {
    return statSync(path).size;
  } catch {
    return null;
  }
}

/** True for Playwright's error when a navigation turns into a download. */
export function isDownloadNavigation(error: unknown): boolean {
  return /Download is starting/i.test(messageOf(error));
}
