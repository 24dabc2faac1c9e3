import { CodeRunnerError, ContainerError, NetworkError } from "./errors";
import { Deadline, type Fetch } from "./http";
import { installedBinary } from "./installed-binary";

/** Where a local CodeRunner listens by default (`coderunner up` / `coderunner serve`). */
export const DEFAULT_LOCAL_URL = "http://127.0.0.1:8223";

/** The host's entry point (`src/host/daemon.ts`): starts CodeRunner if needed. */
export type EnsureUp = (options?: { onProgress?: (line: string) => void }) => Promise<{ baseURL: string; apiKey?: string }>;

/**
 * Loads the lifecycle lazily: it talks to Docker, so a client pointed at a running server never loads it,
 * and the SDK keeps working in runtimes without Docker access. The lifecycle code runs on Bun; elsewhere
 * (Node) the SDK runs the `coderunner` binary's `up --json`, which is the same code.
 */
export async function loadEnsureUp(): Promise<EnsureUp> {
  if (typeof (globalThis as { Bun?: unknown }).Bun === "undefined") return binaryEnsureUp();
  // A specifier in a variable keeps bundlers from inlining the host into the SDK; the `typeof import`
  // below still has the type checker hold the module to the shape this code relies on.
  const specifier = "../host/daemon";
  const module: typeof import("../host/daemon") = await import(/* @vite-ignore */ specifier);
  const ensureUp: EnsureUp = module.ensureUp;
  return ensureUp;
}

/**
 * `ensureUp` by way of the `coderunner` binary (`CODERUNNER_BIN`, else the one npm installed with this
 * package, else `coderunner` on PATH): runs `coderunner up --json`, forwards its progress lines, and
 * reads where the sandbox answers.
 */
export function binaryEnsureUp(given: string | undefined = process.env.CODERUNNER_BIN): EnsureUp {
  return async (options = {}) => {
    const { spawn } = await import("node:child_process");
    const binary = given || (await installedBinary()) || "coderunner";
    return new Promise((resolve, reject) => {
      const child = spawn(binary, ["up", "--json"], { stdio: ["ignore", "pipe", "pipe"] });
      let stdout = "";
      let partial = "";
      const lastLines: string[] = [];
      child.stdout.setEncoding("utf8").on("data", (text: string) => (stdout += text));
      child.stderr.setEncoding("utf8").on("data", (text: string) => {
        const lines = (partial + text).split("\n");
        partial = lines.pop() ?? "";
        for (const line of lines) {
          options.onProgress?.(line);
          lastLines.push(line);
          if (lastLines.length > 5) lastLines.shift();
        }
      });
      child.on("error", (error: NodeJS.ErrnoException) =>
        reject(
          new Error(
            error.code === "ENOENT"
              ? `the coderunner binary was not found (${binary}): put it on PATH or set CODERUNNER_BIN (npm run build makes dist/coderunner), or start the sandbox yourself with \`coderunner up\``
              : `${binary} up failed to start: ${error.message}`,
          ),
        ),
      );
      child.on("close", (code: number | null) => {
        const answer = stdout.trim().split("\n").pop() ?? "";
        try {
          if (code !== 0) throw new Error(`exit status ${code}`);
          const parsed = JSON.parse(answer) as { baseURL?: unknown; apiKey?: unknown };
          if (typeof parsed.baseURL !== "string") throw new Error("no baseURL in its answer");
          resolve({ baseURL: parsed.baseURL, apiKey: typeof parsed.apiKey === "string" ? parsed.apiKey : undefined });
        } catch (error) {
          reject(new Error(`${binary} up did not bring the sandbox up (${(error as Error).message}): ${[...lastLines, partial].filter(Boolean).join(" | ")}`));
        }
      });
    });
  };
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
