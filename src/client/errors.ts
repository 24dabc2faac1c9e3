import type { ErrorCode } from "../errors";

/**
 * The SDK's error classes. Every failure of a call is a `CodeRunnerError` carrying the server's stable
 * `code` (the same registry as `src/errors.ts`), the HTTP `status` and the server's `detail` sentence;
 * the subclass says which family it belongs to, so callers can `catch (e) { if (e instanceof SessionError) ... }`.
 */

/** A code from the server's registry, or one of the client's own (network, container start, bad response). */
export type ClientErrorCode = ErrorCode | "NETWORK_ERROR" | "CONTAINER_ERROR" | "INVALID_RESPONSE" | (string & {});

export interface CodeRunnerErrorOptions {
  code?: ClientErrorCode;
  /** HTTP status of the response, or 0 when no response arrived. */
  status?: number;
  /** The server's own sentence; defaults to the message. */
  detail?: string;
  cause?: unknown;
}

/** Base class of every error the SDK throws. */
export class CodeRunnerError extends Error {
  readonly code: ClientErrorCode;
  readonly status: number;
  /** The server's human sentence (the message without any prefix). */
  readonly detail: string;

  constructor(message: string, options: CodeRunnerErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.detail = options.detail ?? message;
    this.code = options.code ?? "INTERNAL_ERROR";
    this.status = options.status ?? 0;
  }
}

/** Missing or wrong API key (401/403). */
export class AuthenticationError extends CodeRunnerError {}
/** Unknown, closed or busy execution session. */
export class SessionError extends CodeRunnerError {}
/** A run could not be carried out: kernel unavailable, unknown task, execution refused. */
export class ExecutionError extends CodeRunnerError {}
/** Input the server refused (malformed, wrong type, out of range, too large). */
export class InvalidRequestError extends CodeRunnerError {}
/** A file that does not exist, or a path outside the sandbox. */
export class FileError extends CodeRunnerError {}
/** Base class of browser failures. */
export class BrowserError extends CodeRunnerError {}
/** Unknown or closed browser session, or the browser is unavailable. */
export class BrowserSessionError extends BrowserError {}
/** A page that could not be loaded (DNS, refused connection, TLS) — the server answers 502. */
export class BrowserNavigationError extends BrowserError {}
/** A selector that matched nothing. */
export class ElementNotFoundError extends BrowserError {}
/** A wait, navigation or call that ran out of time (408, or the client's own deadline). */
export class TimeoutError extends CodeRunnerError {}
/** Too many sessions, tasks or requests (429). */
export class RateLimitError extends CodeRunnerError {}
/** The server could not be reached (connection refused, DNS, reset). */
export class NetworkError extends CodeRunnerError {}
/** The local sandbox could not be started (Docker missing, image build failed, health never came). */
export class ContainerError extends CodeRunnerError {}

type ErrorClass = new (message: string, options?: CodeRunnerErrorOptions) => CodeRunnerError;

/**
 * Which class each server code becomes. Codes not listed fall back by status (see `classForStatus`),
 * so a code added to the server's registry still maps to a sensible class.
 */
export const ERROR_CLASSES: Partial<Record<ErrorCode, ErrorClass>> = {
  UNAUTHORIZED: AuthenticationError,
  FORBIDDEN: AuthenticationError,
  INVALID_JSON: InvalidRequestError,
  INVALID_REQUEST: InvalidRequestError,
  INVALID_URL: InvalidRequestError,
  INVALID_CONDITION: InvalidRequestError,
  INVALID_SELECTOR: InvalidRequestError,
  NOT_A_FILE_INPUT: InvalidRequestError,
  VALIDATION_ERROR: InvalidRequestError,
  PAYLOAD_TOO_LARGE: InvalidRequestError,
  UNSUPPORTED_MEDIA_TYPE: InvalidRequestError,
  METHOD_NOT_ALLOWED: InvalidRequestError,
  INVALID_PATH: FileError,
  FILE_NOT_FOUND: FileError,
  SESSION_NOT_FOUND: SessionError,
  SESSION_BUSY: SessionError,
  SESSION_GONE: SessionError,
  TASK_NOT_FOUND: ExecutionError,
  KERNEL_UNAVAILABLE: ExecutionError,
  BROWSER_SESSION_NOT_FOUND: BrowserSessionError,
  BROWSER_UNAVAILABLE: BrowserSessionError,
  ELEMENT_NOT_FOUND: ElementNotFoundError,
  STALE_REF: ElementNotFoundError,
  BROWSER_ERROR: BrowserError,
  NAVIGATION_FAILED: BrowserNavigationError,
  TIMEOUT: TimeoutError,
  TOO_MANY_SESSIONS: RateLimitError,
  TOO_MANY_TASKS: RateLimitError,
  DOCKER_UNAVAILABLE: ContainerError,
};

function classForStatus(status: number): ErrorClass {
  if (status === 401 || status === 403) return AuthenticationError;
  if (status === 408) return TimeoutError;
  if (status === 429) return RateLimitError;
  if (status >= 400 && status < 500) return InvalidRequestError;
  return CodeRunnerError;
}

/**
 * The error for a non-2xx response. `body` is the parsed JSON (`{detail, code}` from CodeRunner; FastAPI
 * servers send `{detail}` only, sometimes a list of validation errors) or the raw text.
 */
export function errorFromResponse(status: number, body: unknown, what: string): CodeRunnerError {
  let detail: string | undefined;
  let code: string | undefined;
  if (body && typeof body === "object") {
    const record = body as { detail?: unknown; code?: unknown; message?: unknown; error?: unknown };
    const raw = record.detail ?? record.message ?? record.error;
    detail = typeof raw === "string" ? raw : raw === undefined ? undefined : JSON.stringify(raw);
    code = typeof record.code === "string" ? record.code : undefined;
  } else if (typeof body === "string" && body.trim() !== "") {
    detail = body.trim().slice(0, 500);
  }
  const Class = (code && ERROR_CLASSES[code as ErrorCode]) || classForStatus(status);
  return new Class(`${what} failed (HTTP ${status}): ${detail ?? "no detail given"}`, {
    detail: detail ?? "",
    code: code ?? (status === 401 ? "UNAUTHORIZED" : status === 404 ? "NOT_FOUND" : status >= 500 ? "INTERNAL_ERROR" : "INVALID_REQUEST"),
    status,
  });
}
