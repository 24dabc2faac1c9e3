import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CodeRunner } from "../../src/client/index";
import { loadConfig } from "../../src/config";
import { containerSettings } from "../../src/docker/container-spec";
import { DockerClient } from "../../src/docker/docker-client";
import { ContainerManager } from "../../src/docker/lifecycle";
import { freePort } from "../../src/kernels/jupyter-server";

/**
 * Zero-config start for real: `new CodeRunner()` finds nothing listening, so its first call runs the
 * container lifecycle (the code behind `coderunner up`) against the REAL Docker Engine, then talks to
 * the container it started. Uses its own container name and port 0, and the test image that the
 * container suite builds; skipped when no Engine answers or that image is absent (building it takes minutes).
 */

setDefaultTimeout(240_000);

const docker = new DockerClient();
const IMAGE = process.env.CODERUNNER_TEST_IMAGE ?? "coderunner-test:ci";
const NAME = `coderunner-client-test-${process.pid}`;
const ready = await docker.ping();
if (!ready && process.env.CI) throw new Error("No Docker Engine answers; under CI, .ci/deps starts one.");
if (!ready) console.warn("client-container tests skipped: no Docker Engine answers");

const ENV = { CODERUNNER_IMAGE: IMAGE, CODERUNNER_CONTAINER: NAME, CODERUNNER_CONTAINER_PORT: "0", CODERUNNER_MEMORY_MB: "1536", CODERUNNER_CPUS: "1.5" };
const saved: Record<string, string | undefined> = {};
let deadURL: string;

beforeAll(async () => {
  if (ready && !(await docker.inspectImage(IMAGE).catch(() => undefined))) {
    const settings = { ...containerSettings(loadConfig({})), image: IMAGE, name: NAME };
    await new ContainerManager({ docker, settings }).buildImage(() => {});
  }
  for (const [name, value] of Object.entries(ENV)) {
    saved[name] = process.env[name];
    process.env[name] = value;
  }
  deadURL = `http://127.0.0.1:${await freePort()}`;
});

afterAll(async () => {
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  if (ready) await docker.removeContainer(NAME, { force: true }).catch(() => false);
});

describe.skipIf(!ready)("CodeRunner starting its own container", () => {
  test("the first call brings the sandbox up, shows progress, and runs code in the container", async () => {
    const progress: string[] = [];
    await using runner = new CodeRunner({ baseURL: deadURL, onProgress: (line) => progress.push(line) });
    const result = await runner.execute("import socket; print(socket.gethostname())");
    expect(progress[0]).toContain("starting the local sandbox");
    expect(progress.length).toBeGreaterThan(1);
    const inspected = await docker.inspectContainer(NAME);
    expect(inspected?.State?.Running).toBe(true);
    // Docker names a container's host after its id unless told otherwise: the code ran in this container.
    expect(result.stdout.trim()).toBe(inspected!.Id.slice(0, 12));

    // A second client finds the running container through the lifecycle too, without recreating it.
    await using again = new CodeRunner({ baseURL: deadURL, onProgress: () => {} });
    expect((await again.execute("echo again", { language: "bash" })).stdout).toBe("again\n");
    expect((await docker.inspectContainer(NAME))?.Id).toBe(inspected!.Id);
  });
});

describe.skipIf(!ready)("CodeRunner in Node starting its own container", () => {
  test("Node runs `coderunner up --json` from the binary, then talks to the container", async () => {
    const out = mkdtempSync(join(tmpdir(), "coderunner-node-up-"));
    const name = `${NAME}-node`;
    try {
      const binary = join(out, "coderunner");
      const root = join(import.meta.dir, "..", "..");
      const build = Bun.spawnSync([process.execPath, "build.ts"], { cwd: root, env: { ...process.env, CODERUNNER_OUTFILE: binary } });
      expect(build.exitCode).toBe(0);
      const bundled = await Bun.build({ entrypoints: [join(root, "src/client/index.ts")], target: "node", outdir: out, naming: "sdk.mjs" });
      expect(bundled.success).toBe(true);
      writeFileSync(
        join(out, "run.mjs"),
        `import { CodeRunner } from "./sdk.mjs";
         const progress = [];
         const runner = new CodeRunner({ baseURL: ${JSON.stringify(deadURL)}, onProgress: (line) => progress.push(line) });
         const result = await runner.execute("import socket; print(socket.gethostname())");
         await runner[Symbol.asyncDispose]();
         console.log(JSON.stringify({ host: result.stdout.trim(), progress }));`,
      );
      const node = Bun.spawn(["node", join(out, "run.mjs")], {
        cwd: out,
        env: { ...process.env, ...ENV, CODERUNNER_CONTAINER: name, CODERUNNER_BIN: binary },
        stdout: "pipe",
        stderr: "pipe",
      });
      const [stdout, stderr, code] = await Promise.all([new Response(node.stdout).text(), new Response(node.stderr).text(), node.exited]);
      expect(code, stderr).toBe(0);
      const report = JSON.parse(stdout.trim().split("\n").pop()!);
      const inspected = await docker.inspectContainer(name);
      expect(inspected?.State?.Running).toBe(true);
      expect(report.host).toBe(inspected!.Id.slice(0, 12));
      expect(report.progress.some((line: string) => /Waiting for CodeRunner|Creating|Starting/i.test(line))).toBe(true);
    } finally {
      await docker.removeContainer(name, { force: true }).catch(() => false);
      rmSync(out, { recursive: true, force: true });
    }
  });
});
