/**
 * Types of the SDK's calls and results. Results keep the wire contract's field names
 * (`stdout`, `execution_time`, `session_id`, ...) exactly as the server sends them — the same names the
 * Python SDKs read — while method names and options are camelCase.
 */

import type { ExecutionResult as ExecutionResultSchema } from "../server/models/execute";

export type Language = "python" | "bash" | "shell" | "sh";

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
export type RunError = NonNullable<ExecutionResult["error"]>;

/** One rich output (`display_data` / `execute_result`) keyed by MIME type, e.g. `image/png` (base64). */
export type RichResult = ExecutionResult["results"][number];

/** What `POST /execute` answers; also the final event of a stream. Defined once, by the server's schema. */
export type ExecutionResult = typeof ExecutionResultSchema.static;

/** `POST /execute_async`. */
export interface AsyncTask {
  task_id: string;
  status: string;
  [extra: string]: unknown;
}

/** `GET /v1/executions/{task_id}`. */
export interface TaskResult {
  task_id: string;
  status: string;
  is_complete: boolean;
  serialized_stdout: string;
  serialized_stderr: string;
  execution_time: number | null;
  cpu_time: number | null;
  created_at: string;
  /** The full `/execute` result once complete, when the server includes it. */
  result?: ExecutionResult | null;
  [extra: string]: unknown;
}

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
export interface SessionInfo {
  session_id: string;
  status: string;
  vm_status: string;
  [extra: string]: unknown;
}

/** `GET /v1/sessions/usage/{id}`. */
export interface Usage {
  session_id: string;
  cpu_seconds: number | null;
  memory_bytes: number | null;
  executions: number;
  uptime_seconds: number;
  [extra: string]: unknown;
}

/** Content accepted by `uploadFile`: text, bytes, or a Blob/File. */
export type UploadContent = string | Uint8Array | ArrayBuffer | Blob;

export interface FileOptions {
  sessionId?: string;
  signal?: AbortSignal;
}

export interface UploadResult {
  success: boolean;
  path: string;
  size: number;
  [extra: string]: unknown;
}

/** `GET /files`: a directory of the sandbox's file area. */
export interface FileListing {
  path: string;
  entries: { name: string; path: string; type: "file" | "directory" | "symlink" | "other"; size: number; modified_at: string }[];
}

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

export interface BrowserSessionInfo {
  session_id: string;
  viewport?: { width: number; height: number };
  user_agent?: string | null;
  status?: string;
  [extra: string]: unknown;
}

/** A file a page downloaded, saved in the browser session's files. */
export interface BrowserDownload {
  url: string;
  /** The name the page suggested. */
  suggested_filename: string;
  /** The name it was saved under (made safe and unique). */
  filename: string;
  /** Absolute path in the session's files; null until saved. */
  path: string | null;
  /** Relative to the session's files: usable with `downloadFile` and `uploadFiles`. */
  relative_path: string | null;
  size: number | null;
  status: "in_progress" | "completed" | "failed";
  /** Why it failed (over the size cap, cancelled, network error). */
  error: string | null;
  started_at: string;
}

/** Answer of a browser interaction (`navigate`, `click`, ...). */
export interface BrowserActionResult {
  success: boolean;
  status?: string;
  /** Downloads the interaction started, as saved (or as they stood when it ended). */
  downloads?: BrowserDownload[];
  [extra: string]: unknown;
}

export interface NavigateResult extends BrowserActionResult {
  url: string;
  title: string;
}

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

export type WaitCondition = "visible" | "hidden" | "load" | "networkidle";

export interface WaitOptions extends BrowserTimeoutOption {
  selector?: string;
}

export interface ScreenshotOptions {
  fullPage?: boolean;
  clip?: { x: number; y: number; width: number; height: number };
  format?: "png" | "jpeg";
  quality?: number;
}

export interface ExtractedElement {
  tagName: string;
  text: string;
  [attribute: string]: unknown;
}

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
export interface PageSnapshot {
  url: string;
  /** Null when reading on with a cursor. */
  title: string | null;
  snapshot: string;
  tokens: number;
  total_tokens: number;
  lines: { from: number; to: number; total: number };
  /** Pass it back as `cursor` for the next part; null at the end. */
  cursor: string | null;
  refs: number | null;
  incomplete: boolean;
  session_id: string;
}

export interface PageContent {
  url: string;
  title: string;
  readable_content: { title: string; byline: string | null; content: string; word_count: number; length: number; [extra: string]: unknown };
  interactive_elements: { text: string; selector: string; interactive_type: string; [extra: string]: unknown }[];
  content_anchors: { text: string; selector: string; length: number; [extra: string]: unknown }[];
  extraction_time: number;
  [extra: string]: unknown;
}
