import type * as Contract from "../contract";
import { BrowserManager, type BrowserCall } from "./browser";
import { CodeRunnerError, SessionError, TimeoutError } from "./errors";
import type { HTTPTransport, RequestOptions } from "./http";
import { readExecutionStream } from "./stream";
import type {
  AsyncTask,
  DownloadedFile,
  ExecuteOptions,
  ExecutionResult,
  FileListing,
  FileOptions,
  Health,
  SandboxEntry,
  SessionInfo,
  SessionOptions,
  StreamEvent,
  TaskResult,
  TaskWaitOptions,
  UploadContent,
  UploadResult,
  Usage,
} from "./types";

/** Seconds the client waits beyond a run's own timeout before it gives up on the server. */
const EXECUTE_SLACK_SECONDS = 30;
const DEFAULT_RUN_TIMEOUT_SECONDS = 30;
/** Deadline of quick calls (sessions, status, files). */
const CALL_TIMEOUT_MS = 120_000;

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => (clearTimeout(timer), reject(signal.reason)), { once: true });
  });

function base64ToBytes(base64: string): Uint8Array {
  const binary = atob(base64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function toBlob(content: UploadContent): Blob {
  if (content instanceof Blob) return content;
  if (typeof content === "string") return new Blob([content], { type: "text/plain;charset=utf-8" });
  const bytes = content instanceof Uint8Array ? content : new Uint8Array(content);
  return new Blob([bytes as Uint8Array<ArrayBuffer>], { type: "application/octet-stream" });
}

/**
 * Everything `CodeRunner` and `InstaVM` share: the calls of the wire contract with camelCase names,
 * a session of its own started on first use, and disposal of whatever it opened. Subclasses only say
 * how to reach the server (`connect`).
 */
export abstract class SandboxClient {
  /** The session calls use when they name none; started on first use, or by `startSession()`. */
  sessionId: string | undefined;
  /** Browser sessions, and shortcuts on a default one. */
  readonly browser: BrowserManager;
  private transportPromise: Promise<HTTPTransport> | undefined;
  private sessionPromise: Promise<string> | undefined;
  private readonly ownedSessions = new Set<string>();

  constructor() {
    const call: BrowserCall = (method, path, what, json, timeoutMs) => this.request(method, path, { what, json, timeoutMs });
    this.browser = new BrowserManager(call);
  }

  /** Resolves the server to talk to (the local client may start it first). */
  protected abstract connect(): Promise<HTTPTransport>;

  /** Extra fields of the session-create body (the cloud sends its key there, as the InstaVM SDK does). */
  protected sessionCreateExtras(): Record<string, unknown> {
    return {};
  }

  /** The connection, established once; a failed attempt is retried by the next call. */
  protected transport(): Promise<HTTPTransport> {
    const pending = (this.transportPromise ??= this.connect());
    pending.catch(() => {
      if (this.transportPromise === pending) this.transportPromise = undefined;
    });
    return pending;
  }

  /** One JSON call to the server. */
  protected async request<T>(method: string, path: string, options: RequestOptions): Promise<T> {
    const transport = await this.transport();
    return transport.json<T>(method, path, { timeoutMs: CALL_TIMEOUT_MS, ...options });
  }

  private async session(explicit: string | undefined): Promise<string> {
    if (explicit) return explicit;
    if (this.sessionId) return this.sessionId;
    const pending = (this.sessionPromise ??= this.startSession());
    try {
      return await pending;
    } finally {
      if (this.sessionPromise === pending) this.sessionPromise = undefined;
    }
  }

  private requireSession(explicit: string | undefined, what: string): string {
    const id = explicit ?? this.sessionId;
    if (!id) throw new SessionError(`${what}: there is no session (start one with startSession() or run code first).`, { code: "SESSION_NOT_FOUND" });
    return id;
  }

  private executeBody(code: string, options: ExecuteOptions, sessionId: string): Contract.ExecuteBody {
    return { command: code, language: options.language ?? "python", timeout: options.timeout, session_id: sessionId };
  }

  private executeDeadlineMs(options: ExecuteOptions): number {
    return ((options.timeout ?? DEFAULT_RUN_TIMEOUT_SECONDS) + EXECUTE_SLACK_SECONDS) * 1000;
  }

  /** The server's `GET /health`. */
  health(): Promise<Health> {
    return this.request("GET", "/health", { what: "Health check", timeoutMs: 10_000 });
  }

  /**
   * Runs Python (or bash with `language: "bash"`) and waits for the result. A user exception is not
   * thrown: it comes back with `status: "error"`, the traceback in `stderr` and a structured `error`.
   *
   * @example
   * const result = await runner.execute("print('Hello World')");
   * console.log(result.stdout); // "Hello World\n"
   */
  async execute(code: string, options: ExecuteOptions = {}): Promise<ExecutionResult> {
    const sessionId = await this.session(options.sessionId);
    return this.request<ExecutionResult>("POST", "/execute", {
      what: "Execution",
      json: this.executeBody(code, options, sessionId),
      timeoutMs: this.executeDeadlineMs(options),
      signal: options.signal,
    });
  }

  /** Queues a run and returns its task id at once; read it with `getTaskResult`. */
  async executeAsync(code: string, options: ExecuteOptions = {}): Promise<string> {
    const sessionId = await this.session(options.sessionId);
    const task = await this.request<AsyncTask>("POST", "/execute_async", {
      what: "Queuing an execution",
      json: this.executeBody(code, options, sessionId),
      signal: options.signal,
    });
    return task.task_id;
  }

  /** The task's current state, without waiting. */
  getTask(taskId: string, options: { signal?: AbortSignal } = {}): Promise<TaskResult> {
    return this.request<TaskResult>("GET", `/v1/executions/${encodeURIComponent(taskId)}`, { what: "Reading a task", signal: options.signal });
  }

  /** Polls the task until `is_complete`, and returns it; past `timeout` seconds it throws `TimeoutError`. */
  async getTaskResult(taskId: string, options: TaskWaitOptions = {}): Promise<TaskResult> {
    const timeoutMs = (options.timeout ?? 120) * 1000;
    const intervalMs = (options.pollInterval ?? 0.25) * 1000;
    const started = Date.now();
    for (;;) {
      const task = await this.getTask(taskId, { signal: options.signal });
      if (task.is_complete) return task;
      const left = timeoutMs - (Date.now() - started);
      if (left <= 0) {
        throw new TimeoutError(`Task ${taskId} did not complete within ${timeoutMs / 1000} s (last status: ${task.status}).`, { code: "TIMEOUT" });
      }
      await sleep(Math.min(intervalMs, left), options.signal);
    }
  }

  /**
   * Runs code and yields its output as it is produced, ending with the full result.
   *
   * @example
   * for await (const event of runner.executeStream("for i in range(3): print(i)")) {
   *   if (event.type === "stdout") process.stdout.write(event.text);
   *   if (event.type === "result") console.log(event.result.status);
   * }
   */
  async *executeStream(code: string, options: ExecuteOptions = {}): AsyncGenerator<StreamEvent, void, undefined> {
    const sessionId = await this.session(options.sessionId);
    const transport = await this.transport();
    const controller = new AbortController();
    const forward = () => controller.abort(options.signal?.reason);
    options.signal?.addEventListener("abort", forward, { once: true });
    try {
      const response = await transport.send("POST", STREAM_PATH, {
        what: "Streaming execution",
        json: this.executeBody(code, options, sessionId),
        signal: controller.signal,
      });
      yield* readExecutionStream(response);
    } finally {
      options.signal?.removeEventListener("abort", forward);
      controller.abort();
    }
  }

  /** Starts a new session and makes it the client's current one. */
  async startSession(options: SessionOptions = {}): Promise<string> {
    const created = await this.request<Contract.InstaVMSessionCreated>("POST", "/v1/sessions/session", {
      what: "Creating a session",
      json: {
        ...this.sessionCreateExtras(),
        env: options.env,
        metadata: options.metadata,
        vm_lifetime_seconds: options.vmLifetimeSeconds,
        memory_mb: options.memoryMb,
        vcpu_count: options.vcpuCount,
        allow_internet_access: options.allowInternetAccess,
        disk_mb: options.diskMb,
      } satisfies Contract.CreateSessionBody,
    });
    this.sessionId = created.session_id;
    this.ownedSessions.add(created.session_id);
    return created.session_id;
  }

  /** Closes a session (default: the current one) and releases its kernel and shell. */
  async closeSession(sessionId?: string): Promise<void> {
    const id = sessionId ?? this.sessionId;
    if (!id) return;
    this.forget(id);
    await this.request("DELETE", `/sessions/${encodeURIComponent(id)}`, { what: "Closing the session" });
  }

  /** True while the session (default: the current one) is alive on the server. */
  async isSessionActive(sessionId?: string): Promise<boolean> {
    const id = sessionId ?? this.sessionId;
    if (!id) return false;
    try {
      const info = await this.getSessionInfo(id);
      return info.vm_status === "active";
    } catch (error) {
      if (error instanceof CodeRunnerError && error.status === 404) return false;
      throw error;
    }
  }

  /** The server's view of a session. */
  getSessionInfo(sessionId?: string): Promise<SessionInfo> {
    const id = this.requireSession(sessionId, "Reading session status");
    return this.request("GET", `/v1/sessions/status/${encodeURIComponent(id)}`, { what: "Reading session status" });
  }

  /** CPU seconds, memory, executions and uptime of a session (default: the current one). */
  getUsage(sessionId?: string): Promise<Usage> {
    const id = this.requireSession(sessionId, "Reading usage");
    return this.request("GET", `/v1/sessions/usage/${encodeURIComponent(id)}`, { what: "Reading usage" });
  }

  /** Kills a session (default: the current one) at once, as the InstaVM SDK's `kill`. */
  async kill(sessionId?: string): Promise<Contract.Killed> {
    const id = this.requireSession(sessionId, "Killing the session");
    this.forget(id);
    return this.request("POST", "/kill", { what: "Killing the session", json: { session_id: id } satisfies Contract.KillBody });
  }

  /** Sessions on the server (InstaVM's `list`), optionally filtered by metadata values. */
  async listSessions(options: { limit?: number; metadata?: Record<string, unknown> } = {}): Promise<SandboxEntry[]> {
    const listed = await this.request<SandboxEntry[] | { sandboxes: SandboxEntry[] }>("GET", "/v1/sessions/sandboxes", {
      what: "Listing sessions",
      query: { limit: options.limit, metadata: options.metadata ? JSON.stringify(options.metadata) : undefined },
    });
    // The contract answers a bare array (as InstaVM does); servers before 0.2 wrapped it in `sandboxes`.
    return Array.isArray(listed) ? listed : listed.sandboxes;
  }

  /**
   * Writes `content` to `remotePath` in the sandbox (relative paths resolve in the session's working
   * directory). To send a local file: `uploadFile(await readFile("data.csv"), "data.csv")`.
   */
  async uploadFile(content: UploadContent, remotePath: string, options: FileOptions = {}): Promise<UploadResult> {
    const sessionId = await this.session(options.sessionId);
    const form = new FormData();
    const name = remotePath.split("/").pop() || "file";
    form.append("file", toBlob(content), name);
    form.append("remote_path", remotePath);
    form.append("session_id", sessionId);
    form.append("recursive", "false");
    const transport = await this.transport();
    return transport.json<UploadResult>("POST", "/upload", { what: "Uploading a file", form, signal: options.signal, timeoutMs: CALL_TIMEOUT_MS * 5 });
  }

  /** Reads a file from the sandbox. */
  async downloadFile(filename: string, options: FileOptions = {}): Promise<DownloadedFile> {
    const sessionId = await this.session(options.sessionId);
    const answer = await this.request<Contract.Downloaded>("POST", "/download", {
      what: "Downloading a file",
      json: { filename, session_id: sessionId } satisfies Contract.DownloadBody,
      signal: options.signal,
      timeoutMs: CALL_TIMEOUT_MS * 5,
    });
    const content = base64ToBytes(answer.content);
    return { filename: answer.filename, size: answer.size, content, text: () => new TextDecoder().decode(content) };
  }

  /** The entries of a directory in the sandbox (default: the session's working directory). */
  async listFiles(path = ".", options: FileOptions = {}): Promise<FileListing> {
    const sessionId = await this.session(options.sessionId);
    return this.request<FileListing>("GET", "/files", { what: "Listing files", query: { path, session_id: sessionId }, signal: options.signal });
  }

  private forget(id: string): void {
    this.ownedSessions.delete(id);
    if (this.sessionId === id) this.sessionId = undefined;
  }

  /**
   * Closes every browser session and execution session this client opened. Errors are ignored: it
   * runs on the way out (`await using runner = new CodeRunner()`).
   */
  async close(): Promise<void> {
    if (!this.transportPromise) return;
    const sessions = [...this.ownedSessions];
    await Promise.all([
      this.browser.closeAll(),
      ...sessions.map((id) => this.closeSession(id).catch(() => undefined)),
    ]);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** Path of the streaming execution route. */
export const STREAM_PATH = "/execute/stream";
