import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeNpmPackages } from "../../npm-packages";
import { release, type Platform } from "../../release";
import { DockerClient } from "../../src/docker/docker-client";
import { freePort } from "../../src/kernels/jupyter-server";
import { VERSION } from "../../src/version";
import { stopBackgroundHost } from "../helpers/background-host";
import { engineAnswers, TEST_IMAGE, testImage } from "../helpers/image";

/**
 * The npm distribution as a user gets it: this machine's release binary and the npm packages made
 * from it, packed with `npm pack` and installed from the tarballs into a directory with nothing
 * else; the registry is reached only for the public dependency (TypeBox's types) when npm's cache
 * does not hold it (`--prefer-offline`: a fresh machine's cache is empty, so `--offline` failed there).
 * The launcher runs the binary; the SDK, imported in Node with no CODERUNNER_BIN, finds the installed binary and starts the host on the real Engine.
 */

setDefaultTimeout(300_000);
const docker = new DockerClient();
const ready = await engineAnswers(docker);
const work = mkdtempSync(join(tmpdir(), "coderunner-npm-"));
const app = join(work, "app");
const stateHome = join(work, "state");
const NAME = `crnpm-${process.pid}`;

const npm = (args: string[], cwd: string) => {
  const run = Bun.spawnSync(["npm", ...args, "--no-audit", "--no-fund"], { cwd, stdout: "pipe", stderr: "pipe" });
  if (run.exitCode !== 0) throw new Error(`npm ${args.join(" ")} failed: ${run.stderr.toString()}`);
  return run.stdout.toString();
};

beforeAll(async () => {
  const platform = `${process.platform}-${process.arch}` as Platform;
  const binaries = await release([platform], join(work, "release"), () => {});
  const packages = await writeNpmPackages(binaries, join(work, "npm"));
  const tarballs = join(work, "tarballs");
  mkdirSync(tarballs);
  npm(["pack", ...packages, "--pack-destination", tarballs], work);
  mkdirSync(app);
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }));
  npm(["install", "--prefer-offline", ...readdirSync(tarballs).map((file) => join(tarballs, file))], app);
  if (ready) await testImage(docker);
}, 600_000);

afterAll(async () => {
  if (ready) await stopBackgroundHost(docker, NAME, stateHome);
  rmSync(work, { recursive: true, force: true });
});

describe("the npm packages, packed and installed from their tarballs", () => {
  test("the launcher runs this platform's binary with the user's arguments and exit status", () => {
    const version = Bun.spawnSync([join(app, "node_modules/.bin/coderunner"), "--version"], { cwd: app, env: { ...process.env, CODERUNNER_BIN: "" } });
    expect(version.exitCode).toBe(0);
    expect(version.stdout.toString().trim()).toBe(VERSION);
    const unknown = Bun.spawnSync([join(app, "node_modules/.bin/coderunner"), "frobnicate"], { cwd: app });
    expect(unknown.exitCode).toBe(2);
  });

  test("the SDK's type declarations check in a strict consumer on Node's ESM resolution, and are not `any`", () => {
    writeFileSync(
      join(app, "check.ts"),
      `import { CodeRunner, type ExecutionResult } from "coderunner";
       import { InstaVM } from "coderunner/cloud";
       export async function main(): Promise<string> {
         const result: ExecutionResult = await new CodeRunner({ autoStart: false }).execute("print(1)");
         const cloud: InstaVM = new InstaVM({ apiKey: "key" });
         // @ts-expect-error stdout is a string: the declarations are the contract's, not any
         const wrong: number = result.stdout;
         void cloud, wrong;
         return result.stdout;
       }`,
    );
    const tsc = join(import.meta.dir, "../../node_modules/.bin/tsc");
    for (const resolution of [["--module", "nodenext", "--moduleResolution", "nodenext"], ["--module", "esnext", "--moduleResolution", "bundler"]]) {
      const checked = Bun.spawnSync([tsc, "--noEmit", "--strict", "--target", "es2022", "--lib", "esnext,dom", ...resolution, "check.ts"], { cwd: app, stdout: "pipe" });
      expect(checked.exitCode, checked.stdout.toString()).toBe(0);
    }
  });

  test.skipIf(!ready)("`import { CodeRunner } from \"coderunner\"` in Node starts the host from the installed binary, no CODERUNNER_BIN", async () => {
    writeFileSync(
      join(app, "run.mjs"),
      `import { CodeRunner } from "coderunner";
       const runner = new CodeRunner({ baseURL: "http://127.0.0.1:${await freePort()}", onProgress: () => {} });
       const result = await runner.execute("print(6 * 7)");
       console.log(JSON.stringify({ stdout: result.stdout }));`,
    );
    const env: Record<string, string | undefined> = {
      ...process.env,
      PATH: "/usr/bin:/bin",
      CODERUNNER_BIN: undefined,
      XDG_STATE_HOME: stateHome,
      CODERUNNER_IMAGE: TEST_IMAGE,
      CODERUNNER_CONTAINER: NAME,
      CODERUNNER_CONTAINER_PORT: "0",
      CODERUNNER_PORT: String(await freePort()),
      CODERUNNER_POOL_SIZE: "1",
      CODERUNNER_MEMORY_MB: "1024",
      CODERUNNER_DISK_MB: "300",
    };
    const node = Bun.spawn([Bun.which("node")!, "run.mjs"], { cwd: app, env, stdout: "pipe", stderr: "pipe" });
    const [stdout, stderr, code] = await Promise.all([new Response(node.stdout).text(), new Response(node.stderr).text(), node.exited]);
    expect(code, stderr).toBe(0);
    expect(JSON.parse(stdout.trim().split("\n").pop()!)).toEqual({ stdout: "42\n" });
  });
});
