import { CodeRunnerError, errorFromResponse, NetworkError, TimeoutError } from "./errors";

/** The `fetch` the SDK uses; injectable for tests and custom agents. */
export type Fetch = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

export interface RequestOptions {
  /** A JSON body. */
  json?: unknown;
  /** A multipart body. */
  form?: FormData;
  query?: Record<string, string | number | undefined>;
  signal?: AbortSignal;
  /** Client-side deadline for the whole call; past it the call fails with `TimeoutError`. */
  timeoutMs?: number;
  /** What the call does, for error messages ("Execution", "Creating a session"). */
  what: string;
}

export interface TransportOptions {
  baseURL: string;
  apiKey?: string;
  fetch?: Fetch;
  headers?: Record<string, string>;
}

/**
 * One server's HTTP API: base URL, `X-API-Key`, JSON in and out, and the translation of every failure
 * into the SDK's error classes (non-2xx bodies via `errorFromResponse`, unreachable servers as
 * `NetworkError`, deadlines as `TimeoutError`). Uses only `fetch`, so it runs in Bun, Node and browsers.
 */
export class HTTPTransport {
  readonly baseURL: string;
  readonly apiKey: string | undefined;
  private readonly fetchImpl: Fetch;
  private readonly headers: Record<string, string>;

  constructor(options: TransportOptions) {
    this.baseURL = options.baseURL.replace(/\/+$/, "");
    this.apiKey = options.apiKey;
    this.fetchImpl = options.fetch ?? ((input, init) => fetch(input, init));
    this.headers = options.headers ?? {};
  }

  url(path: string, query?: RequestOptions["query"]): string {
    const url = new URL(this.baseURL + path);
    for (const [key, value] of Object.entries(query ?? {})) if (value !== undefined) url.searchParams.set(key, String(value));
    return url.toString();
  }

  /**
   * Sends a request and returns the response once it is 2xx; throws the matching SDK error otherwise.
   * `timeoutMs` covers the response headers only: use `json()` for a deadline over the whole call.
   */
  send(method: string, path: string, options: RequestOptions): Promise<Response> {
    return this.exchange(method, path, options, async (response) => response);
  }

  /** Sends a request and parses the JSON answer, all within `timeoutMs`. */
  json<T>(method: string, path: string, options: RequestOptions): Promise<T> {
    return this.exchange(method, path, options, async (response) => {
      try {
        return (await response.json()) as T;
      } catch (error) {
        if (error instanceof Error && error.name === "AbortError") throw error;
        throw new CodeRunnerError(`${options.what}: the server at ${this.baseURL} sent a response that is not JSON.`, { code: "INVALID_RESPONSE", status: response.status, cause: error });
      }
    });
  }

  private async exchange<T>(method: string, path: string, options: RequestOptions, read: (response: Response) => Promise<T>): Promise<T> {
    const headers: Record<string, string> = { accept: "application/json", ...this.headers };
    if (this.apiKey) headers["x-api-key"] = this.apiKey;
    let body: BodyInit | undefined;
    if (options.form) body = options.form;
    else if (options.json !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(options.json);
    }
    const deadline = new Deadline(options.timeoutMs, options.signal);
    try {
      const response = await this.fetchImpl(this.url(path, options.query), { method, headers, body, signal: deadline.signal });
      if (!response.ok) {
        const text = await response.text().catch(() => "");
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          // not JSON: keep the text
        }
        throw errorFromResponse(response.status, parsed, options.what);
      }
      return await read(response);
    } catch (error) {
      throw this.translate(error, options, deadline);
    } finally {
      deadline.clear();
    }
  }

  private translate(error: unknown, options: RequestOptions, deadline: Deadline): Error {
    if (error instanceof CodeRunnerError) return error;
    if (deadline.expired) {
      return new TimeoutError(`${options.what} took longer than ${options.timeoutMs} ms and was abandoned by the client.`, { code: "TIMEOUT", status: 0, cause: error });
    }
    if (options.signal?.aborted) return error instanceof Error ? error : new Error(String(error));
    const reason = error instanceof Error ? error.message : String(error);
    return new NetworkError(`${options.what}: cannot connect to ${this.baseURL} (${reason}).`, { code: "NETWORK_ERROR", status: 0, cause: error });
  }
}

/**
 * A call's abort signal: the caller's signal plus an optional deadline. The deadline's timer is cleared
 * as soon as the call ends, so a finished call never keeps the process alive.
 */
export class Deadline {
  readonly signal: AbortSignal | undefined;
  expired = false;
  private readonly timer: ReturnType<typeof setTimeout> | undefined;
  private readonly controller: AbortController | undefined;
  private readonly forward: (() => void) | undefined;
  private readonly outer: AbortSignal | undefined;

  constructor(ms: number | undefined, outer?: AbortSignal) {
    this.outer = outer;
    if (ms === undefined) {
      this.signal = outer;
      return;
    }
    const controller = (this.controller = new AbortController());
    this.signal = controller.signal;
    this.timer = setTimeout(() => {
      this.expired = true;
      controller.abort(new Error(`deadline of ${ms} ms passed`));
    }, ms);
    if (outer) {
      this.forward = () => controller.abort(outer.reason);
      if (outer.aborted) this.forward();
      else outer.addEventListener("abort", this.forward, { once: true });
    }
  }

  clear(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.forward) this.outer?.removeEventListener("abort", this.forward);
  }
}
