import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { endsWithExpression } from "../../../src/e2b/code-interpreter";
import { envelope, requestMessage, serverStream } from "../../../src/e2b/connect";
import { apiError, connectError, E2BError, unsupported } from "../../../src/e2b/errors";
import { toE2BPath, toSandboxPath } from "../../../src/e2b/paths";
import { commandLine } from "../../../src/e2b/process-service";
import { controlPlane } from "../../../src/e2b/control-plane";
import type { E2BRegistry } from "../../../src/e2b/registry";

describe("E2B surface", () => {
  test("a cell's main result is the value of a final expression", () => {
    expect(endsWithExpression("x += 1; x")).toBe(true);
    expect(endsWithExpression("import os\nos.getcwd()\n# done\n")).toBe(true);
    expect(endsWithExpression("x = 1")).toBe(false);
    expect(endsWithExpression("x += 1")).toBe(false);
    expect(endsWithExpression("x;")).toBe(false);
    expect(endsWithExpression("plt.plot([1])\nplt.show()")).toBe(false);
    expect(endsWithExpression("print(1)")).toBe(false);
    expect(endsWithExpression("for i in range(3):\n    i")).toBe(false);
    expect(endsWithExpression("a == b")).toBe(true);
  });

  test("E2B's /home/user and relative paths are the sandbox user's home; other paths stay", () => {
    expect(toSandboxPath("/home/user/a.txt")).toBe("/home/coderunner/a.txt");
    expect(toSandboxPath("a/../b.txt")).toBe("/home/coderunner/b.txt");
    expect(toSandboxPath("/home/username")).toBe("/home/username");
    expect(toSandboxPath("/tmp/x")).toBe("/tmp/x");
    expect(toE2BPath("/home/coderunner/x")).toBe("/home/user/x");
    expect(() => toSandboxPath("")).toThrow(E2BError);
  });

  test("errors: the control plane's {code: status, message}, Connect's {code: name, message}", async () => {
    const missing = apiError(new E2BError(404, "Sandbox x not found."));
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ code: 404, message: "Sandbox x not found." });
    const rpc = connectError(unsupported("PTY (sandbox.pty)"));
    expect(rpc.status).toBe(501);
    expect(await rpc.json()).toMatchObject({ code: "unimplemented", message: expect.stringContaining("PTY (sandbox.pty) is not supported") });
    expect((await connectError(new Error("boom")).json()).code).toBe("internal");
  });

  test("Connect streams: one enveloped request in; messages then an end-of-stream envelope out", async () => {
    const request = new Request("http://x/process.Process/Start", { method: "POST", headers: { "content-type": "application/connect+json" }, body: envelope({ process: { cmd: "ls" } }) as unknown as BodyInit });
    expect(await requestMessage(request)).toEqual({ process: { cmd: "ls" } });
    const response = serverStream(new Request("http://x/"), async ({ send }) => {
      send({ event: { start: { pid: 1 } } });
      throw new E2BError(404, "gone");
    });
    expect(response.headers.get("content-type")).toBe("application/connect+json");
    const bytes = new Uint8Array(await response.arrayBuffer());
    const frames: [number, unknown][] = [];
    for (let at = 0; at < bytes.length; ) {
      const length = new DataView(bytes.buffer, at + 1, 4).getUint32(0);
      frames.push([bytes[at]!, JSON.parse(new TextDecoder().decode(bytes.subarray(at + 5, at + 5 + length)))]);
      at += 5 + length;
    }
    expect(frames).toEqual([
      [0, { event: { start: { pid: 1 } } }],
      [2, { error: { code: "not_found", message: "gone" }, metadata: {} }],
    ]);
  });

  test("a command runs as envd starts it: quoted argv, its cwd and envs, no stdin", () => {
    expect(commandLine({ cmd: "/bin/bash", args: ["-l", "-c", "echo 'hi'"], envs: { A: "1 2" }, cwd: "/home/user/x" })).toBe(
      `cd '/home/coderunner/x' && env 'A=1 2' '/bin/bash' '-l' '-c' 'echo '\\''hi'\\''' </dev/null`,
    );
  });

  test("with stdin, a command reads a FIFO its keeper holds open: bytes written before it reads arrive, killing the keeper is end-of-file", async () => {
    const fifo = join(tmpdir(), `e2b-stdin-${crypto.randomUUID()}`);
    const shell = Bun.spawn(["bash", "-c", commandLine({ cmd: "cat", cwd: "/tmp" }, fifo)], { stdout: "pipe", stderr: "pipe" });
    try {
      for (let waited = 0; !existsSync(fifo) && waited < 20_000; waited += 10) await Bun.sleep(10);
      // As SendInput writes: opened read-write, so the open never blocks; each writer comes and goes.
      for (const part of ["hello ", "world"]) expect(await Bun.spawn(["bash", "-c", `printf %s '${part}' 1<>${fifo}`]).exited).toBe(0);
      process.kill(Number(readFileSync(`${fifo}.keeper`, "utf8")));
      expect(await new Response(shell.stdout).text()).toBe("hello world");
      expect(await shell.exited).toBe(0);
      expect([existsSync(fifo), existsSync(`${fifo}.keeper`)]).toEqual([false, false]);
    } finally {
      shell.kill();
      try {
        process.kill(Number(readFileSync(`${fifo}.keeper`, "utf8")));
      } catch {
        // No keeper left (the usual case: the command's line killed it).
      }
      rmSync(fifo, { force: true });
      rmSync(`${fifo}.keeper`, { force: true });
      rmSync(`${fifo}.new`, { force: true });
    }
  }, 30_000);

  test("with a CodeRunner key the control plane wants it as X-API-KEY; bad input and unknown ids are E2B-shaped 4xx", async () => {
    const get = (id: string) => { throw new E2BError(404, `Sandbox ${id} not found.`); };
    const registry = { get, pause: async (id: string) => get(id), resume: async (id: string) => get(id) } as unknown as E2BRegistry;
    const api = controlPlane(registry, "secret");
    const ask = (path: string, init: RequestInit = {}) => api.handle(new Request(`http://host${path}`, init));
    const anonymous = await ask("/v2/sandboxes");
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toMatchObject({ code: 401, message: expect.stringContaining("X-API-KEY") });
    expect((await ask("/v2/sandboxes", { headers: { "x-api-key": "wrong" } })).status).toBe(401);
    const key = { "x-api-key": "secret", "content-type": "application/json" };
    const missing = await ask("/sandboxes/nope", { headers: key });
    expect([missing.status, await missing.json()]).toEqual([404, { code: 404, message: "Sandbox nope not found." }]);
    const bad = await ask("/v2/sandboxes", { method: "POST", headers: key, body: JSON.stringify({ timeout: "soon" }) });
    expect([bad.status, (await bad.json()).code]).toEqual([400, 400]);
    // Data under toString or valueOf once crashed Elysia's validation message (a 500): a 400 now.
    for (const hostile of [{ metadata: { toString: [1] } }, { envVars: { valueOf: { a: 1 } } }, { templateID: { toString: "x" } }]) {
      const refused = await ask("/v2/sandboxes", { method: "POST", headers: key, body: JSON.stringify(hostile) });
      expect([refused.status, (await refused.json()).code], JSON.stringify(hostile)).toEqual([400, 400]);
    }
    const huge = await ask("/v2/sandboxes", { method: "POST", headers: key, body: JSON.stringify({ metadata: { pad: "x".repeat(2 * 1024 * 1024) } }) });
    expect([huge.status, (await huge.json()).code]).toEqual([413, 413]);
    const paused = await ask("/sandboxes/x/pause", { method: "POST", headers: key });
    expect([paused.status, (await paused.json()).code]).toEqual([404, 404]);
    const snapshot = await ask("/sandboxes/x/snapshots", { method: "POST", headers: key });
    expect([snapshot.status, (await snapshot.json()).message]).toEqual([501, expect.stringContaining("Snapshots")]);
  });
});
