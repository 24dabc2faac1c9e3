import { timingSafeEqual } from "node:crypto";
import { AppError, messageOf } from "../errors";
import type { Logger } from "../log";
import { silentLogger } from "../log";

/** Where the proxied API answers and the key it requires. */
export interface ProxyTarget {
  baseURL: string;
  apiKey: string;
}

/** Bun's fetch: `timeout: false` lifts its 300 s idle limit (an `/execute` may be silent for hours). */
type Fetch = (input: string, init?: RequestInit & { duplex?: "half"; decompress?: boolean; timeout?: boolean }) => Promise<Response>;

export interface HostProxyOptions {
  /** Name reported in the `X-CodeRunner-Container` response header. */
  containerName: string;
  /**
   * Resolves the container's address. Called with `fresh: true` after a connection failure (the
   * container restarted and may have a new port); may throw an `AppError` saying why there is none.
   */
  target: (fresh: boolean) => Promise<ProxyTarget>;
  /** When set, clients must present this key (as `serve` would); the container's own key is never exposed. */
  apiKey?: string;
  fetch?: Fetch;
  log?: Logger;
}

/** Response header naming the container a host proxy serves (`ensureUp` looks for it). */
export const PROXY_HEADER = "x-coderunner-container";

const PUBLIC = /^\/(health\/?$|docs(\/|$))/;
const KEY_IN_BODY = "/v1/sessions/session";
/** Headers that describe one hop, never forwarded. */
const HOP_BY_HOP = ["connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade", "host"];
/** Small JSON/form bodies are buffered so a request can be retried after the container moved. */
const BUFFER_LIMIT = 1024 * 1024;

const errorResponse = (error: AppError) => Response.json(error.toJSON(), { status: error.status });

function same(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/**
 * The host side of CodeRunner: a reverse proxy from the host port (8223) into the container's
 * published port. Requests and responses stream both ways (uploads, downloads, streamed execution),
 * the container's API key is injected, and clients never see the container's port. When the
 * container restarted on a new port the target is resolved again.
 */
export class HostProxy {
  private readonly fetch: Fetch;
  private readonly log: Logger;
  private server: ReturnType<typeof Bun.serve> | undefined;

  constructor(private readonly options: HostProxyOptions) {
    this.fetch = options.fetch ?? (fetch as unknown as Fetch);
    this.log = options.log ?? silentLogger;
  }

  /** Listens on `hostname:port` (0 picks a free port); returns the URL. */
  listen(hostname: string, port: number, maxRequestBodySize = 2 * 1024 ** 3): { url: string; port: number } {
    this.server = Bun.serve({ hostname, port, idleTimeout: 0, maxRequestBodySize, fetch: (request) => this.handle(request) });
    const bound = this.server.port!;
    return { url: `http://${hostname.includes(":") ? `[${hostname}]` : hostname}:${bound}`, port: bound };
  }

  /** Stops listening and drops open connections; the container is left alone. */
  async stop(): Promise<void> {
    await this.server?.stop(true);
    this.server = undefined;
  }

  private checkKey(offered: unknown): void {
    const key = this.options.apiKey!;
    if (offered === undefined || offered === null || offered === "") {
      throw new AppError("UNAUTHORIZED", "This server requires an API key: send it in the X-API-Key header.");
    }
    if (typeof offered !== "string" || !same(offered, key)) throw new AppError("UNAUTHORIZED", "The API key is not valid.");
  }

  /** Proxies one request. */
  async handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const hasBody = request.method !== "GET" && request.method !== "HEAD" && request.body !== null;
    let body: ReadableStream<Uint8Array> | ArrayBuffer | null = hasBody ? request.body : null;
    try {
      const length = Number(request.headers.get("content-length") ?? NaN);
      const type = request.headers.get("content-type") ?? "";
      if (hasBody && length <= BUFFER_LIMIT && /json|x-www-form-urlencoded/.test(type)) body = await request.arrayBuffer();
      if (this.options.apiKey && !PUBLIC.test(url.pathname)) {
        const header = request.headers.get("x-api-key");
        if (url.pathname === KEY_IN_BODY && !header) {
          if (!(body instanceof ArrayBuffer)) body = hasBody ? await request.arrayBuffer() : null;
          let fromBody: unknown;
          try {
            fromBody = body ? (JSON.parse(new TextDecoder().decode(body)) as { api_key?: unknown }).api_key : undefined;
          } catch {
            fromBody = undefined;
          }
          this.checkKey(fromBody);
        } else {
          this.checkKey(header);
        }
      }
    } catch (error) {
      if (error instanceof AppError) return errorResponse(error);
      throw error;
    }

    const headers = new Headers(request.headers);
    for (const name of HOP_BY_HOP) headers.delete(name);
    const retryable = body === null || body instanceof ArrayBuffer;
    let target: ProxyTarget;
    try {
      target = await this.options.target(false);
    } catch (error) {
      return errorResponse(this.unavailable(error));
    }
    for (let attempt = 0; ; attempt++) {
      headers.set("x-api-key", target.apiKey);
      try {
        const upstream = await this.fetch(`${target.baseURL}${url.pathname}${url.search}`, {
          method: request.method,
          headers,
          body,
          redirect: "manual",
          decompress: false,
          timeout: false,
          signal: request.signal,
          ...(body instanceof ReadableStream ? { duplex: "half" as const } : {}),
        });
        const out = new Headers(upstream.headers);
        for (const name of HOP_BY_HOP) out.delete(name);
        out.set(PROXY_HEADER, this.options.containerName);
        return new Response(upstream.body, { status: upstream.status, statusText: upstream.statusText, headers: out });
      } catch (error) {
        if (request.signal.aborted) return new Response(null, { status: 499 });
        this.log.warn(`proxy: ${request.method} ${url.pathname} failed: ${messageOf(error)}`);
        if (attempt > 0 || !retryable) {
          return errorResponse(
            new AppError("DOCKER_UNAVAILABLE", "The CodeRunner container is not answering (it may be restarting); retry in a moment.", { cause: error }),
          );
        }
        try {
          target = await this.options.target(true);
        } catch (resolveError) {
          return errorResponse(this.unavailable(resolveError));
        }
      }
    }
  }

  private unavailable(error: unknown): AppError {
    return error instanceof AppError ? error : new AppError("DOCKER_UNAVAILABLE", `The CodeRunner container cannot be reached: ${messageOf(error)}`, { cause: error });
  }
}
