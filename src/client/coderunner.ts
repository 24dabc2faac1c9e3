import { SandboxClient } from "./client";
import { HTTPTransport, type Fetch } from "./http";
import { DEFAULT_LOCAL_URL, ensureLocalServer, type EnsureUp } from "./local";

export interface CodeRunnerOptions {
  /** Where CodeRunner listens; default `CODERUNNER_URL` or http://127.0.0.1:8223. */
  baseURL?: string;
  /** Sent as `X-API-Key` (only needed when the server was started with a key); default `CODERUNNER_API_KEY`. */
  apiKey?: string;
  /** Start the local sandbox (Docker) on first use when nothing answers at `baseURL`. Default true. */
  autoStart?: boolean;
  /**
   * Receives the lifecycle's progress lines while the sandbox starts (building, creating, waiting for
   * health). Default: printed to stderr, since the first start can take a while; pass `() => {}` to silence.
   */
  onProgress?: (line: string) => void;
  /** The `fetch` to use (tests, proxies). */
  fetch?: Fetch;
  /** Replaces the container lifecycle (tests, custom launchers). */
  ensureUp?: EnsureUp;
}

const printProgress = (line: string) => console.error(`[coderunner] ${line}`);

function env(name: string): string | undefined {
  const value = typeof process !== "undefined" ? process.env?.[name] : undefined;
  return value === undefined || value === "" ? undefined : value;
}

/**
 * The local sandbox client. `new CodeRunner()` needs no arguments: the first call finds CodeRunner at
 * `CODERUNNER_URL` (default http://127.0.0.1:8223) or starts it, exactly like `coderunner up`. Moving to
 * the cloud is one import: `import { InstaVM as CodeRunner } from "coderunner/cloud"`.
 *
 * @example
 * import { CodeRunner } from "coderunner";
 * await using runner = new CodeRunner();
 * const result = await runner.execute("print('Hello World')");
 * console.log(result.stdout);
 */
export class CodeRunner extends SandboxClient {
  readonly options: Readonly<CodeRunnerOptions>;

  constructor(options: CodeRunnerOptions = {}) {
    super();
    this.options = options;
  }

  /** The URL the client tries first. */
  get baseURL(): string {
    return (this.options.baseURL ?? env("CODERUNNER_URL") ?? DEFAULT_LOCAL_URL).replace(/\/+$/, "");
  }

  protected async connect(): Promise<HTTPTransport> {
    const fetchImpl: Fetch = this.options.fetch ?? ((input, init) => fetch(input, init));
    const found = await ensureLocalServer({
      baseURL: this.baseURL,
      apiKey: this.options.apiKey ?? env("CODERUNNER_API_KEY"),
      autoStart: this.options.autoStart ?? true,
      onProgress: this.options.onProgress ?? printProgress,
      fetch: fetchImpl,
      ensureUp: this.options.ensureUp,
    });
    return new HTTPTransport({ baseURL: found.baseURL, apiKey: found.apiKey, fetch: fetchImpl });
  }
}
