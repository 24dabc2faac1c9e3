import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CodeRunner } from "../../src/client/index";
import { LABEL } from "../../src/docker/container-spec";
import { DockerClient } from "../../src/docker/docker-client";
import { readHost } from "../../src/host/host-lock";
import { freePort } from "../../src/kernels/jupyter-server";
import { stopBackgroundHost } from "../helpers/background-host";
import { engineAnswers, TEST_IMAGE, testImage } from "../helpers/image";

/**
 * Zero-config start for real: `new CodeRunner()` finds nothing listening, so its first call starts
 * the CodeRunner host in the background (the code behind `coderunner up`) against the REAL Docker
 * Engine, then runs its code in a sandbox of its own. Uses its own instance name, ports and state
 * directory, and the suites' test image; skipped when no Engine answers.
 */

setDefaultTimeout(300_000);

const docker = new DockerClient();
const NAME = `crclient-${process.pid}`;
const ready = await engineAnswers(docker);
if (!ready) console.warn("client-container tests skipped: no Docker Engine answers");

const stateHome = mkdtempSync(join(tmpdir(), "coderunner-client-state-"));
const ENV: Record<string, string> = {
  XDG_STATE_HOME: stateHome,
  CODERUNNER_IMAGE: TEST_IMAGE,
  CODERUNNER_CONTAINER: NAME,
  CODERUNNER_CONTAINER_PORT: "0",
  CODERUNNER_POOL_SIZE: "1",
  CODERUNNER_MEMORY_MB: "1024",
  CODERUNNER_CPUS: "1",
  CODERUNNER_DISK_MB: "300",
};
const saved: Record<string, string | undefined> = {};
let deadURL: string;

/** Stops the background hosts of the instances these tests started, and removes their sandboxes. */
const cleanUp = (instance: string) => stopBackgroundHost(docker, instance, stateHome);

beforeAll(async () => {
  if (ready) await testImage(docker);
  ENV.CODERUNNER_PORT = String(await freePort());
  for (const [name, value] of Object.entries(ENV)) {
    saved[name] = process.env[name];
    process.env[name] = value;
  }
  deadURL = `http://127.0.0.1:${await freePort()}`;
}, 900_000);

afterAll(async () => {
  if (ready) {
    await cleanUp(NAME);
    await cleanUp(`${NAME}-node`);
  }
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  rmSync(stateHome, { recursive: true, force: true });
});

/** True when `hostname` is the short id of a session sandbox of `instance`. */
async function isSessionSandbox(hostname: string, instance: string): Promise<boolean> {
  const containers = await docker.listContainers({ filters: { label: [`${LABEL.instance}=${instance}`, `${LABEL.role}=session`] } });
  return containers.some((container) => container.Id.startsWith(hostname));
}

describe.skipIf(!ready)("CodeRunner starting its own host", () => {
  test("the first call starts the host in the background, shows progress, and runs code in a sandbox of its own", async () => {
    const progress: string[] = [];
    await using runner = new CodeRunner({ baseURL: deadURL, onProgress: (line) => progress.push(line) });
    const result = await runner.execute("import socket; print(socket.gethostname())");
    expect(progress[0]).toContain("starting the local sandbox");
    expect(progress.some((line) => line.includes("Starting the CodeRunner host in the background"))).toBe(true);
    // Docker names a container's host after its id unless told otherwise: the code ran in a session sandbox.
    expect(await isSessionSandbox(result.stdout.trim(), NAME)).toBe(true);
    const host = readHost(NAME)!;
    expect(host.url).toBe(`http://127.0.0.1:${ENV.CODERUNNER_PORT}`);

    // A second client finds the running host, without starting another, and gets a sandbox of its own.
    await using again = new CodeRunner({ baseURL: deadURL, onProgress: () => {} });
    const other = await again.execute("import socket; print(socket.gethostname())");
    expect(other.stdout.trim()).not.toBe(result.stdout.trim());
    expect(readHost(NAME)!.pid).toBe(host.pid);
  });
});

describe.skipIf(!ready)("CodeRunner in Node starting its own host", () => {
  test("Node runs `coderunner up --json` from the binary, then talks to the host it started", async () => {
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
         // Not disposed: its session's sandbox stays for the test to look at (the cleanup removes it).
         console.log(JSON.stringify({ host: result.stdout.trim(), progress }));`,
      );
      const node = Bun.spawn(["node", join(out, "run.mjs")], {
        cwd: out,
        env: { ...process.env, ...ENV, CODERUNNER_CONTAINER: name, CODERUNNER_PORT: String(await freePort()), CODERUNNER_BIN: binary },
        stdout: "pipe",
        stderr: "pipe",
      });
      const [stdout, stderr, code] = await Promise.all([new Response(node.stdout).text(), new Response(node.stderr).text(), node.exited]);
      expect(code, stderr).toBe(0);
      const report = JSON.parse(stdout.trim().split("\n").pop()!);
      expect(await isSessionSandbox(report.host, name)).toBe(true);
      expect(report.progress.some((line: string) => /Starting the CodeRunner host/i.test(line))).toBe(true);
    } finally {
      await cleanUp(name);
      rmSync(out, { recursive: true, force: true });
    }
  });
});
