import { closeSync, existsSync, mkdirSync, openSync, readSync, statSync } from "node:fs";
import { join } from "node:path";
import { loadConfig, type Config } from "../config";
import { stateDir } from "../docker/file-lock";
import { isCompiled } from "../docker/image-context";
import { AppError } from "../errors";
import { PROXY_HEADER } from "../sandboxes/forward";
import { readHost } from "./host-lock";

/** How to run this same `coderunner`: the compiled binary, or Bun with the CLI's source. */
export function selfCommand(): string[] {
  return isCompiled() ? [process.execPath] : [process.execPath, join(import.meta.dir, "..", "cli.ts")];
}

/** The URL where a CodeRunner host serving `instance` answers on `config.port`, else undefined. */
export async function findHost(config: Config, instance: string = config.containerName, fetcher: typeof fetch = fetch): Promise<string | undefined> {
  const url = `http://127.0.0.1:${config.port}`;
  try {
    const response = await fetcher(`${url}/health`, { signal: AbortSignal.timeout(1500) });
    await response.body?.cancel();
    return response.headers.get(PROXY_HEADER) === instance ? url : undefined;
  } catch {
    return undefined;
  }
}

/** The host's log file in the background. */
export function hostLogPath(instance: string): string {
  return join(stateDir(), `host-${instance.replace(/[^\w.-]+/g, "_")}.log`);
}

/** Reads what a file gained since `offset`; returns the new text and offset. */
function readFrom(path: string, offset: number): { text: string; offset: number } {
  if (!existsSync(path)) return { text: "", offset };
  const size = statSync(path).size;
  if (size <= offset) return { text: "", offset: size < offset ? 0 : offset };
  const fd = openSync(path, "r");
  try {
    const buffer = Buffer.alloc(Math.min(size - offset, 1 << 20));
    const read = readSync(fd, buffer, 0, buffer.length, offset);
    return { text: buffer.subarray(0, read).toString("utf8"), offset: offset + read };
  } finally {
    closeSync(fd);
  }
}

/**
 * Makes sure a CodeRunner host serves the API on `config.port`: when none answers, starts one in
 * the background (`coderunner host`, detached, logging to the state directory), relays its progress
 * (engine, image build, default sandbox, warm pool) and waits until it answers. Returns where it
 * answers and the key clients need (the configured one; sandboxes' own keys stay inside the host).
 *
 * @example
 * const { baseURL, apiKey } = await ensureUp({ onProgress: console.error });
 */
export async function ensureUp(options: { onProgress?: (line: string) => void; config?: Config } = {}): Promise<{ baseURL: string; apiKey?: string }> {
  const config = options.config ?? loadConfig();
  const say = options.onProgress ?? (() => {});
  const instance = config.containerName;
  const found = await findHost(config, instance);
  if (found) return { baseURL: found, apiKey: config.apiKey };
  const running = readHost(instance);
  const logPath = hostLogPath(instance);
  mkdirSync(stateDir(), { recursive: true });
  let offset = existsSync(logPath) ? statSync(logPath).size : 0;
  let child: ReturnType<typeof Bun.spawn> | undefined;
  if (running) {
    say(`A coderunner host (pid ${running.pid}) is starting; waiting for it ...`);
  } else {
    say(`Starting the CodeRunner host in the background (log: ${logPath}) ...`);
    const log = openSync(logPath, "a");
    child = Bun.spawn([...selfCommand(), "host"], {
      stdio: ["ignore", log, log],
      env: { ...process.env, CODERUNNER_PROGRESS: "lines" },
      detached: true,
    } as Parameters<typeof Bun.spawn>[1]);
    closeSync(log);
    child.unref();
  }
  let pending = "";
  for (;;) {
    const chunk = readFrom(logPath, offset);
    offset = chunk.offset;
    const lines = (pending + chunk.text).split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines) if (line.trim()) say(line);
    const url = await findHost(config, instance);
    if (url) return { baseURL: url, apiKey: config.apiKey };
    const exited = child ? child.exitCode !== null || child.signalCode !== null : !readHost(instance);
    if (exited) {
      const tail = readFrom(logPath, Math.max(0, offset - 4000)).text.trim().split("\n").slice(-12).join("\n");
      throw new AppError("DOCKER_UNAVAILABLE", `The CodeRunner host stopped before it answered (log: ${logPath}):\n${tail}`);
    }
    await Bun.sleep(200);
  }
}
