import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startServeProcess, type ServeProcess } from "../helpers/serve-process";

// The compiled single executable, run from a directory that has no node_modules (nor package.json).
const root = join(import.meta.dir, "..", "..");
let dir: string;
let binary: string;
let server: ServeProcess | undefined;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "coderunner-bin-"));
  binary = join(dir, "coderunner");
  const build = Bun.spawnSync([process.execPath, "build.ts"], { cwd: root, env: { ...process.env, CODERUNNER_OUTFILE: binary }, stderr: "pipe", stdout: "pipe" });
  if (build.exitCode !== 0) throw new Error(`build failed: ${build.stderr.toString()}`);
});

afterAll(async () => {
  await server?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

describe("compiled binary", () => {
  test("prints its version and help", () => {
    expect(existsSync(join(dir, "node_modules"))).toBe(false);
    const version = Bun.spawnSync([binary, "--version"], { cwd: dir });
    expect(version.exitCode).toBe(0);
    expect(version.stdout.toString().trim()).toBe(require("../../package.json").version);
    const help = Bun.spawnSync([binary, "--help"], { cwd: dir });
    expect(help.stdout.toString()).toContain("coderunner serve");
    const unknown = Bun.spawnSync([binary, "frobnicate"], { cwd: dir });
    expect(unknown.exitCode).toBe(2);
  });

  test("serves: health, docs, Python and bash", async () => {
    server = await startServeProcess([binary], { cwd: dir });
    const health = await (await fetch(`${server.url}/health`)).json();
    expect(health).toMatchObject({ status: "healthy" });
    const docs = await fetch(`${server.url}/docs/assets/swagger-ui-bundle.js`);
    expect(docs.status).toBe(200);
    expect((await server.post("/execute", { command: "import sys; print(sys.version_info[0])" })).stdout).toBe("3\n");
    expect((await server.post("/execute", { command: "echo $((6 * 7))", language: "bash" })).stdout).toBe("42\n");
    server.proc.kill("SIGTERM");
    expect(await server.proc.exited).toBe(0);
  });
});
