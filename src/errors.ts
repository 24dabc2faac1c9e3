/**
 * One error model for the server and its clients: a registry of stable machine-readable codes,
 * the HTTP status of each, and `AppError`, which every layer throws. The server's error handler turns
 * any error into `{ detail, code }`; failures from Jupyter, Docker or Playwright are translated into
 * these codes at the boundary, with the original kept as `cause`.
 */
export const ErrorStatus = {
  INVALID_JSON: 400,
  INVALID_REQUEST: 400,
  INVALID_PATH: 400,
  INVALID_URL: 400,
  INVALID_CONDITION: 400,
  INVALID_SELECTOR: 400,
  /** Files were given to an element that is not `<input type="file">`. */
  NOT_A_FILE_INPUT: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  SESSION_NOT_FOUND: 404,
  TASK_NOT_FOUND: 404,
  FILE_NOT_FOUND: 404,
  BROWSER_SESSION_NOT_FOUND: 404,
  ELEMENT_NOT_FOUND: 404,
  /** A snapshot ref whose element is gone: the page navigated or reloaded, or the element was removed. */
  STALE_REF: 404,
  METHOD_NOT_ALLOWED: 405,
  TIMEOUT: 408,
  SESSION_BUSY: 409,
  /** The session's sandbox is paused (E2B `pause`): its processes are frozen until it is resumed. */
  SESSION_PAUSED: 409,
  SESSION_GONE: 410,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  VALIDATION_ERROR: 422,
  TOO_MANY_SESSIONS: 429,
  TOO_MANY_TASKS: 429,
  INTERNAL_ERROR: 500,
  BROWSER_ERROR: 500,
  NAVIGATION_FAILED: 502,
  KERNEL_UNAVAILABLE: 503,
  /** An async task's failure, never a response: the server restarted before the task finished. */
  SERVER_RESTARTED: 503,
  BROWSER_UNAVAILABLE: 503,
  DOCKER_UNAVAILABLE: 503,
} as const satisfies Record<string, number>;

export type ErrorCode = keyof typeof ErrorStatus;

/** An error with a stable `code` and the HTTP status that code maps to. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;

  constructor(code: ErrorCode, detail: string, options?: { cause?: unknown }) {
    super(detail, options);
    this.name = "AppError";
    this.code = code;
    this.status = ErrorStatus[code];
  }

  /** The wire body of every non-2xx response. */
  toJSON(): { detail: string; code: ErrorCode } {
    return { detail: this.message, code: this.code };
  }
}

/** True for errors raised deliberately by CodeRunner (as opposed to bugs). */
export function isAppError(error: unknown): error is AppError {
  return error instanceof AppError;
}

/** The message of any thrown value, for logs and `cause` chains. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
