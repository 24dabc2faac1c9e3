import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Config, loadConfig } from "../../src/config";
import { silentLogger } from "../../src/log";
import { type RunningServer, type StartOptions, startServer } from "../../src/server/serve";

/** A real `coderunner serve` (real Jupyter Server) in this process, with a private workspace. */
export async function startTestServer(
  overrides: Partial<Config> = {},
  options: StartOptions = { listen: false, features: [] },
): Promise<RunningServer & { workspace: string; call: (method: string, path: string, body?: unknown, headers?: Record<string, string>) => Promise<{ status: number; body: any }>; [Symbol.asyncDispose]: () => Promise<void> }> {
  const ownWorkspace = overrides.workspace === undefined;
  const workspace = overrides.workspace ?? mkdtempSync(join(tmpdir(), "coderunner-test-"));
  const config = loadConfig({}, { port: 0, workspace, kernelPoolSize: 1, ...overrides });
  const server = await startServer(config, silentLogger, options);
  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const init: RequestInit = { method, headers: { ...headers } };
    if (body !== undefined) {
      init.body = typeof body === "string" ? body : JSON.stringify(body);
      (init.headers as Record<string, string>)["content-type"] ??= "application/json";
    }
    const response = await server.app.handle(new Request(`http://localhost${path}`, init));
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {}
    return { status: response.status, body: parsed as any };
  };
  const stopServer = server.stop;
  const stop = async () => {
    await stopServer();
    if (ownWorkspace) rmSync(workspace, { recursive: true, force: true });
  };
  return Object.assign(server, { workspace, call, stop, [Symbol.asyncDispose]: stop });
}

/** What `startTestServer` returns. */
export type TestServer = Awaited<ReturnType<typeof startTestServer>>;
