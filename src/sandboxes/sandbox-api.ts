import { AppError, type ErrorCode, ErrorStatus, messageOf } from "../errors";
import type { SandboxAddress } from "./backend";

/** Bun's fetch: `timeout: false` lifts its 300 s idle limit. */
export type Fetch = (input: string, init?: RequestInit & { timeout?: boolean; decompress?: boolean; duplex?: "half" }) => Promise<Response>;

/**
 * Calls from the host to one sandbox's own API (`coderunner serve` inside it), with its key. A
 * failure the sandbox answered keeps its `{detail, code}`; one it could not answer is `unreachable`.
 */
export class SandboxAPI {
  constructor(
    readonly address: SandboxAddress,
    private readonly fetch: Fetch = globalThis.fetch as unknown as Fetch,
  ) {}

  /** JSON from `method path`; throws `AppError` with the sandbox's own code when it answers non-2xx. */
  async json<T>(method: string, path: string, body?: unknown, timeoutMs = 10_000): Promise<T> {
    let response: Response;
    try {
      response = await this.fetch(`${this.address.baseURL}${path}`, {
        method,
        headers: { "x-api-key": this.address.apiKey, ...(body === undefined ? {} : { "content-type": "application/json" }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      throw new SandboxUnreachable(`${method} ${path}: ${messageOf(error)}`, { cause: error });
    }
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (!response.ok) {
      const { detail, code } = (parsed ?? {}) as { detail?: unknown; code?: unknown };
      const known = typeof code === "string" && code in ErrorStatus ? (code as ErrorCode) : "INTERNAL_ERROR";
      throw new AppError(known, typeof detail === "string" ? detail : `The sandbox answered ${response.status} to ${method} ${path}.`);
    }
    return parsed as T;
  }

  /** The sandbox's `/health` body when it answers healthy within `timeoutMs`, else undefined. */
  async health(timeoutMs = 2000): Promise<Record<string, any> | undefined> {
    try {
      const body = await this.json<Record<string, any>>("GET", "/health", undefined, timeoutMs);
      return body?.status === "healthy" ? body : undefined;
    } catch {
      return undefined;
    }
  }
}

/** The sandbox did not answer at all (connection refused or reset, timeout). */
export class SandboxUnreachable extends Error {
  override name = "SandboxUnreachable";
}
