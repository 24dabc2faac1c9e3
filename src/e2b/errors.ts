/**
 * E2B's two error shapes. The control plane answers `{code: <HTTP status>, message}` (the SDK finds a
 * 404 by the body's `code`, not the status); envd's Connect RPCs answer `{code: "<connect code>",
 * message}` with the status Connect maps that code to. `E2BError` carries both, so one throw site
 * serves either plane.
 */

/** Connect codes the data plane uses, with the HTTP status Connect maps each to. */
export const ConnectStatus = {
  invalid_argument: 400,
  unauthenticated: 401,
  permission_denied: 403,
  not_found: 404,
  already_exists: 409,
  failed_precondition: 412,
  resource_exhausted: 429,
  unimplemented: 501,
  internal: 500,
  unavailable: 503,
  deadline_exceeded: 504,
} as const;

export type ConnectCode = keyof typeof ConnectStatus;

const CONNECT_OF_STATUS: Record<number, ConnectCode> = {
  400: "invalid_argument",
  401: "unauthenticated",
  403: "permission_denied",
  404: "not_found",
  409: "already_exists",
  412: "failed_precondition",
  413: "resource_exhausted",
  422: "invalid_argument",
  429: "resource_exhausted",
  501: "unimplemented",
  502: "unavailable",
  503: "unavailable",
  504: "deadline_exceeded",
};

/** An error an E2B client is told about: its HTTP status and a sentence. */
export class E2BError extends Error {
  override name = "E2BError";
  constructor(
    readonly status: number,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  get connectCode(): ConnectCode {
    return CONNECT_OF_STATUS[this.status] ?? "internal";
  }
}

/** A feature CodeRunner's E2B surface does not have; names it (501). */
export function unsupported(feature: string): E2BError {
  return new E2BError(501, `${feature} is not supported by CodeRunner's E2B compatibility yet (see the README, "Use the E2B SDK locally").`);
}

/** Any thrown value as an E2BError: CodeRunner's own errors keep their status and sentence. */
export function asE2BError(error: unknown): E2BError {
  if (error instanceof E2BError) return error;
  const status = (error as { status?: unknown })?.status;
  const message = error instanceof Error ? error.message : String(error);
  if (typeof status === "number" && status >= 400 && status < 600) return new E2BError(status === 410 ? 404 : status, message, { cause: error });
  return new E2BError(500, `Internal error in CodeRunner's E2B surface: ${message}`, { cause: error });
}

/** The control plane's error body. */
export function apiError(error: unknown): Response {
  const e = asE2BError(error);
  return Response.json({ code: e.status, message: e.message }, { status: e.status });
}

/** A unary Connect RPC's error body. */
export function connectError(error: unknown): Response {
  const e = asE2BError(error);
  return Response.json({ code: e.connectCode, message: e.message }, { status: ConnectStatus[e.connectCode] });
}
