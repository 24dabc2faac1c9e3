import { CodeRunnerError, ContainerError, NetworkError } from "./errors";
import { Deadline, type Fetch } from "./http";

/** Where a local CodeRunner listens by default (`coderunner up` / `coderunner serve`). */
export const DEFAULT_LOCAL_URL = "http://127.0.0.1:8223";

/** The container lifecycle's entry point (`src/docker/lifecycle.ts`): starts the sandbox if needed. */
export type EnsureUp = (options?: { onProgress?: (line: string) => void }) => Promise<{ baseURL: string; apiKey?: string }>;

/**
 * Loads the lifecycle lazily: it talks to Docker, so a client pointed at a running server never loads it,
 * and the SDK keeps working in runtimes without Docker access.
 */
export async function loadEnsureUp(): Promise<EnsureUp> {
  const specifier = "../docker/lifecycle";
  const module = (await import(/* @vite-ignore */ specifier)) as { ensureUp?: EnsureUp };
  if (typeof module.ensureUp !== "function") throw new Error("src/docker/lifecycle does not export ensureUp()");
  return module.ensureUp;
}

/** True when `baseURL` answers `GET /health` with 2xx within `timeoutMs`. */
export async function isHealthy(baseURL: string, fetchImpl: Fetch, timeoutMs = 2000): Promise<boolean> {
  const deadline = new Deadline(timeoutMs);
  try {
    const response = await fetchImpl(`${baseURL.replace(/\/+$/, "")}/health`, { signal: deadline.signal });
    await response.body?.cancel().catch(() => undefined);
    return response.ok;
  } catch {
    return false;
  } finally {
    deadline.clear();
  }
}

export interface LocalServerOptions {
  baseURL: string;
  apiKey?: string;
  autoStart: boolean;
  onProgress?: (line: string) => void;
  fetch: Fetch;
  ensureUp?: EnsureUp;
}

/**
 * Finds the local sandbox: `baseURL` if it answers `/health`; otherwise (with `autoStart`) the container
 * lifecycle starts it — the same code as `coderunner up` — reporting progress through `onProgress`.
 */
export async function ensureLocalServer(options: LocalServerOptions): Promise<{ baseURL: string; apiKey?: string }> {
  if (await isHealthy(options.baseURL, options.fetch)) return { baseURL: options.baseURL, apiKey: options.apiKey };
  if (!options.autoStart) {
    throw new NetworkError(
      `No CodeRunner answers at ${options.baseURL}. Start one with \`coderunner up\` (Docker) or \`coderunner serve\`, or create the client with autoStart enabled.`,
      { code: "NETWORK_ERROR" },
    );
  }
  options.onProgress?.(`No CodeRunner at ${options.baseURL}; starting the local sandbox...`);
  let ensureUp: EnsureUp;
  try {
    ensureUp = options.ensureUp ?? (await loadEnsureUp());
  } catch (error) {
    throw new ContainerError(
      `No CodeRunner answers at ${options.baseURL}, and this runtime cannot start one itself (${error instanceof Error ? error.message : String(error)}). Start it with \`coderunner up\` (or \`coderunner serve\`) and retry.`,
      { code: "CONTAINER_ERROR", cause: error },
    );
  }
  let started: { baseURL: string; apiKey?: string };
  try {
    started = await ensureUp({ onProgress: options.onProgress });
  } catch (error) {
    if (error instanceof CodeRunnerError) throw error;
    const reason = error instanceof Error ? error.message : String(error);
    const code = (error as { code?: unknown })?.code;
    throw new ContainerError(`Could not start the local CodeRunner sandbox: ${reason}`, {
      code: typeof code === "string" && /^[A-Z_]+$/.test(code) ? code : "CONTAINER_ERROR",
      detail: reason,
      cause: error,
    });
  }
  return { baseURL: started.baseURL, apiKey: started.apiKey ?? options.apiKey };
}
