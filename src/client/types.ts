/**
 * Types of the SDK's calls and results. Results keep the wire contract's field names
 * (`stdout`, `execution_time`, `session_id`, ...) exactly as the server sends them — the same names the
 * Python SDKs read — while method names and options are camelCase. Every result type is the type of
 * its contract schema (`src/contract`), imported as a type only: no schema code enters the SDK.
 */

import type * as Contract from "../contract";

export type Language = Contract.Language;

/** `GET /health`: status and version, and whatever the server's components report. */
export type Health = Contract.Health & { [extra: string]: unknown };

/** Options of `execute`, `executeAsync` and `executeStream`. */
export interface ExecuteOptions {
  /** `"python"` (default) runs in the session's Jupyter kernel; `"bash"`/`"shell"`/`"sh"` in its persistent shell. */
  language?: Language;
  /** Seconds before the run is interrupted (server default 30). */
  timeout?: number;
  /** Session to run in; defaults to the client's own session, started on first use. */
  sessionId?: string;
  /** Abandons the call; the server interrupts the run when the client goes away, and the session stays usable. */
  signal?: AbortSignal;
}

/** A Python exception raised by the user's code. */
export type RunError = Contract.RunError;

/** One rich output (`display_data` / `execute_result`) keyed by MIME type, e.g. `image/png` (base64). */
export type RichResult = ExecutionResult["results"][number];

/** What `POST /execute` answers; also the final event of a stream. */
export type ExecutionResult = Contract.ExecutionResult;

/** `POST /execute_async`. */
export type AsyncTask = Contract.TaskSubmitted;

/** `GET /v1/executions/{task_id}`; `result` is the full `/execute` result once complete. */
export type TaskResult = Contract.TaskView;

export interface TaskWaitOptions {
  /** Seconds between polls (default 0.25). */
  pollInterval?: number;
  /** Seconds to wait in all before `TimeoutError` (default 120). */
  timeout?: number;
  signal?: AbortSignal;
}

/** One event of `executeStream`. The last is always `{ type: "result" }` with the `/execute` object. */
export type StreamEvent =
  | { type: "stdout"; text: string }
  | { type: "stderr"; text: string }
  | { type: "display"; data: RichResult }
  | { type: "result"; result: ExecutionResult }
  | { type: "error"; detail: string; code: string };

/** Options of `startSession` (the InstaVM session-create call). */
export interface SessionOptions {
  /** Environment variables set in the session's kernel and shell. */
  env?: Record<string, string>;
  metadata?: Record<string, unknown>;
  /** Bounds the session's life. */
  vmLifetimeSeconds?: number;
  /** Memory limit of the session's sandbox, in MiB. */
  memoryMb?: number;
  /** CPU quota of the session's sandbox, in cores. */
  vcpuCount?: number;
  /** False: the sandbox reaches nothing outside itself (private and link-local addresses never). */
  allowInternetAccess?: boolean;
  /** Most the sandbox may write to disk, in MiB. */
  diskMb?: number;
}

/** `GET /v1/sessions/status/{id}`. */
export type SessionInfo = Contract.SessionInfo;

/** `GET /v1/sessions/usage/{id}`. */
export type Usage = Contract.Usage;

/** One entry of `listSessions()` (`GET /v1/sessions/sandboxes`). */
export type SandboxEntry = Contract.SandboxEntry;

/** Content accepted by `uploadFile`: text, bytes, or a Blob/File. */
export type UploadContent = string | Uint8Array | ArrayBuffer | Blob;

export interface FileOptions {
  sessionId?: string;
  signal?: AbortSignal;
}

/** `POST /upload`. */
export type UploadResult = Contract.Uploaded;

/** `GET /files`: a directory of the sandbox's file area. */
export type FileListing = Contract.Listing;

/** A file read back from the sandbox. */
export interface DownloadedFile {
  filename: string;
  size: number;
  content: Uint8Array;
  /** The content decoded as UTF-8. */
  text(): string;
}

// ---- Browser ----

export interface BrowserSessionOptions {
  viewportWidth?: number;
  viewportHeight?: number;
  userAgent?: string;
  /** An execution session whose sandbox the browser runs in (its network rules and limits); default: the shared default sandbox. */
  sandboxId?: string;
}

export type BrowserSessionInfo = Contract.BrowserSessionInfo;

/** A file a page downloaded, saved in the browser session's files. */
export type BrowserDownload = Contract.DownloadInfo;

/** Answer of a browser interaction (`click`, `fill`, ...); the server may add fields (`selector`, `condition`), and `downloads` when the action started any. */
export type BrowserActionResult = Contract.ActionResult & { [extra: string]: unknown };

export type NavigateResult = Contract.NavigateResult;

/** Milliseconds, like the contract's browser timeouts. */
export interface BrowserTimeoutOption {
  timeout?: number;
}

export interface ClickOptions extends BrowserTimeoutOption {
  force?: boolean;
}

export interface TypeOptions extends BrowserTimeoutOption {
  /** Milliseconds between key presses (default 100 on the server). */
  delay?: number;
}

export interface ScrollOptions {
  selector?: string;
  x?: number;
  y?: number;
}

export type WaitCondition = Contract.WaitCondition;

export interface WaitOptions extends BrowserTimeoutOption {
  selector?: string;
}

export interface ScreenshotOptions {
  fullPage?: boolean;
  clip?: NonNullable<Contract.ScreenshotBody["clip"]>;
  format?: NonNullable<Contract.ScreenshotBody["format"]>;
  quality?: number;
}

/** One element of `extractElements`: tag, text, selector, and each attribute asked for. */
export type ExtractedElement = Contract.ExtractResult["elements"][number] & { [attribute: string]: unknown };

export interface ExtractContentOptions {
  /** Navigate here first (the SDK's local mode calls `content` with a url and no session). */
  url?: string;
  includeInteractive?: boolean;
  includeAnchors?: boolean;
  maxAnchors?: number;
}

/** What `snapshot()` shows: a region (`selector`, `query`), a token cap, or the next part (`cursor`). */
export interface SnapshotOptions {
  /** Only this element's part of the page: a CSS selector or `ref=e12`. */
  selector?: string;
  /** Only the parts containing this text (case-insensitive), with what surrounds them. */
  query?: string;
  /** Cap on the answer in tokens, counted as characters / 4 (server default 3000). */
  maxTokens?: number;
  /** Characters of text kept per line (server default 200). */
  maxText?: number;
  /** A previous snapshot's `cursor`: the next part of that snapshot. */
  cursor?: string;
  timeout?: number;
}

/** The page as a short text tree; refs (`[ref=e12]`) work as `"ref=e12"` wherever a selector does. */
export type PageSnapshot = Contract.SnapshotResult;

/** `extractContent()`: the readable text, interactive elements and content anchors of the page. */
export type PageContent = Contract.ContentResult;
