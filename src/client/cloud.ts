import { SandboxClient } from "./client";
import { HTTPTransport, type Fetch } from "./http";

export * from "./errors";
export type * from "./types";
export { BrowserManager, BrowserSession } from "./browser";

/** The InstaVM cloud API. */
export const INSTAVM_URL = "https://api.instavm.io";

export interface InstaVMOptions {
  /** Your InstaVM key, sent as `X-API-Key`; default `INSTAVM_API_KEY`. */
  apiKey?: string;
  /** Default https://api.instavm.io; point it at any server speaking the contract (a CodeRunner started with a key). */
  baseURL?: string;
  fetch?: Fetch;
}

/**
 * The cloud client: the same interface and types as `CodeRunner`, talking to InstaVM (or any server
 * speaking the same contract) with an API key. Moving from local to cloud is one import line:
 *
 * @example
 * import { InstaVM as CodeRunner } from "coderunner/cloud";
 * await using runner = new CodeRunner({ apiKey: process.env.INSTAVM_API_KEY });
 * const result = await runner.execute("print('Hello Cloud!')");
 */
export class InstaVM extends SandboxClient {
  readonly baseURL: string;
  private readonly apiKey: string | undefined;
  private readonly fetchImpl: Fetch | undefined;

  constructor(options: InstaVMOptions = {}) {
    super();
    const fromEnv = typeof process !== "undefined" ? process.env?.INSTAVM_API_KEY : undefined;
    this.apiKey = options.apiKey ?? (fromEnv || undefined);
    this.baseURL = (options.baseURL ?? INSTAVM_URL).replace(/\/+$/, "");
    this.fetchImpl = options.fetch;
  }

  protected async connect(): Promise<HTTPTransport> {
    return new HTTPTransport({ baseURL: this.baseURL, apiKey: this.apiKey, fetch: this.fetchImpl });
  }

  /** The InstaVM SDK also sends its key in the session-create body. */
  protected override sessionCreateExtras(): Record<string, unknown> {
    return this.apiKey ? { api_key: this.apiKey } : {};
  }
}

export default InstaVM;
