import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { withDescendants } from "../../src/browser/process-tree";
import { imageSize } from "../../src/browser/image-size";
import { isAlive } from "../../src/kernels/proc-stats";
import { servePages } from "../helpers/pages";
import { until } from "../helpers/poll";

/**
 * The compiled binary runs browser sessions from a directory with no node_modules. `bun build
 * --compile` freezes playwright-core's own path into the bundle, so this builds the binary, runs
 * `serve` from a temp directory and, where a private mount namespace is available (root), with the
 * checkout's node_modules hidden too: nothing may be read from the build machine's tree.
 */

const ROOT = resolve(import.meta.dir, "../..");
const dir = mkdtempSync(join(tmpdir(), "coderunner-binary-"));
const binary = join(dir, "coderunner");
let serverProcess: ReturnType<typeof Bun.spawn> | undefined;
let base = "";
let pages: ReturnType<typeof servePages>;
let hidesNodeModules = false;
const log: string[] = [];

const PAGE = `<!doctype html><html><head><title>Binary check</title></head><body>
<nav><a href="/elsewhere">Elsewhere</a></nav>
<article><h1>Compiled and running</h1>
<p>This paragraph proves that Readability was embedded in the binary and ran inside the page, far from any node_modules folder.</p>
<p>A second paragraph gives the article enough body for Readability to accept it as the main content of the page.</p>
<button onclick="this.textContent='Pressed'">Press me</button></article></body></html>`;

async function api(path: string, body?: unknown) {
  const init: RequestInit = body === undefined ? {} : { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) };
  const response = await fetch(`${base}${path}`, init);
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

/** Reads the server's stderr until it says where it listens. */
async function listeningURL(stream: ReadableStream<Uint8Array>): Promise<string> {
  const decoder = new TextDecoder();
  let buffered = "";
  const reader = stream.getReader();
  const deadline = setTimeout(() => void reader.cancel(), 90_000);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) throw new Error(`the binary exited or went quiet before listening:\n${buffered}`);
      buffered += decoder.decode(value, { stream: true });
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(buffered);
      if (match) {
        log.push(buffered);
        // Keep draining so the child never blocks on a full pipe.
        void (async () => {
          for (;;) {
            const next = await reader.read().catch(() => ({ done: true, value: undefined }));
            if (next.done) return;
            log.push(decoder.decode(next.value, { stream: true }));
          }
        })();
        return match[1]!;
      }
    }
  } finally {
    clearTimeout(deadline);
  }
}

beforeAll(async () => {
  const build = Bun.spawnSync([process.execPath, "build.ts"], { cwd: ROOT, env: { ...process.env, CODERUNNER_OUTFILE: binary }, stdout: "pipe", stderr: "pipe" });
  if (build.exitCode !== 0) throw new Error(`build failed: ${build.stderr.toString()}`);

  pages = servePages({ "*": PAGE });

  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: dir,
    CODERUNNER_WORKSPACE: join(dir, "workspace"),
    CODERUNNER_HOST: "127.0.0.1",
    CODERUNNER_PORT: "0",
    CODERUNNER_KERNEL_POOL_SIZE: "0",
    CODERUNNER_LOG_LEVEL: "info",
  };
  // A private mount namespace (root only) lets the child see an empty node_modules in the checkout.
  const nodeModules = join(ROOT, "node_modules");
  hidesNodeModules = process.getuid?.() === 0 && Bun.which("unshare") !== null && Bun.spawnSync(["unshare", "-m", "true"]).exitCode === 0;
  const command = hidesNodeModules
    ? ["unshare", "-m", "sh", "-c", `mount -t tmpfs none '${nodeModules}' && exec '${binary}' serve`]
    : [binary, "serve"];
  serverProcess = Bun.spawn(command, { cwd: dir, env, stdout: "ignore", stderr: "pipe" });
  base = await listeningURL(serverProcess.stderr as ReadableStream<Uint8Array>);
}, 180_000);

afterAll(async () => {
  if (serverProcess && serverProcess.exitCode === null) {
    serverProcess.kill("SIGKILL");
    await serverProcess.exited;
  }
  pages?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("compiled binary", () => {
  test("runs a browser session from a directory without node_modules, and stops Chromium with it", async () => {
    expect(readFileSync(binary).subarray(0, 4)).toEqual(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
    const created = await api("/v1/browser/sessions/", { viewport_width: 800, viewport_height: 600 });
    expect(created.status).toBe(200);
    const session_id = created.body.session_id as string;
    const url = `${pages.base}/`;
    const navigated = await api("/v1/browser/interactions/navigate", { session_id, url });
    expect(navigated.body).toMatchObject({ success: true, title: "Binary check", status: "completed" });

    const content = await api("/v1/browser/interactions/content", { session_id });
    expect(content.status).toBe(200);
    expect(content.body.readable_content.content).toContain("Readability was embedded in the binary");
    expect(content.body.readable_content.content).not.toContain("Elsewhere");
    const button = (content.body.interactive_elements as { text: string; selector: string }[]).find((element) => element.text === "Press me");
    expect(button).toBeDefined();
    expect((await api("/v1/browser/interactions/click", { session_id, selector: button!.selector })).status).toBe(200);
    const after = await api("/v1/browser/interactions/extract", { session_id, selector: button!.selector });
    expect(after.body.elements[0].text).toBe("Pressed");

    const shot = await api("/v1/browser/interactions/screenshot", { session_id, full_page: false });
    expect(imageSize(Buffer.from(shot.body.screenshot, "base64"))).toEqual({ width: 800, height: 600 });

    const health = await api("/health");
    expect(health.body.browser).toMatchObject({ status: "running", sessions: 1, launches: 1 });

    const chromium = withDescendants([serverProcess!.pid]).filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, "latin1").includes("chrom");
      } catch {
        return false;
      }
    });
    expect(chromium.length).toBeGreaterThan(1);
    serverProcess!.kill("SIGTERM");
    expect(await serverProcess!.exited).toBe(0);
    await until("every Chromium process to end", () => !chromium.some(isAlive)).catch(() => undefined);
    expect(chromium.filter(isAlive)).toEqual([]);
    console.log(`binary checked ${hidesNodeModules ? "with the checkout's node_modules hidden" : "from a temp directory (no private mount namespace here)"}`);
  }, 120_000);
});
