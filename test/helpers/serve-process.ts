import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** `coderunner serve` as a child process (source or compiled binary), on a free port with a private workspace. */
export interface ServeProcess {
  url: string;
  proc: ReturnType<typeof Bun.spawn>;
  workspace: string;
  log: () => string;
  post: (path: string, body: unknown) => Promise<any>;
  cleanup: () => Promise<void>;
}

export async function startServeProcess(command: string[], options: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {}): Promise<ServeProcess> {
  const workspace = mkdtempSync(join(tmpdir(), "coderunner-proc-"));
  const proc = Bun.spawn([...command, "serve"], {
    cwd: options.cwd,
    env: { ...process.env, CODERUNNER_PORT: "0", CODERUNNER_WORKSPACE: workspace, CODERUNNER_KERNEL_POOL_SIZE: "1", ...options.env },
    stdout: "pipe",
    stderr: "pipe",
  });
  let output = "";
  const { promise: listening, resolve, reject } = Promise.withResolvers<string>();
  void (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of proc.stderr as ReadableStream<Uint8Array>) {
      output += decoder.decode(chunk, { stream: true });
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match) resolve(match[1]!);
    }
    reject(new Error(`serve exited before listening:\n${output}`));
  })();
  const timer = setTimeout(() => reject(new Error(`serve did not listen in time:\n${output}`)), options.timeoutMs ?? 60_000);
  const url = await listening.finally(() => clearTimeout(timer));
  return {
    url,
    proc,
    workspace,
    log: () => output,
    post: async (path, body) => (await fetch(`${url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) })).json(),
    cleanup: async () => {
      if (proc.exitCode === null) {
        proc.kill("SIGKILL");
        await proc.exited;
      }
      rmSync(workspace, { recursive: true, force: true });
    },
  };
}
