import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { CodeRunner } from "../../src/client/index";
import { loadConfig } from "../../src/config";
import { containerSettings } from "../../src/docker/container-spec";
import { DockerClient } from "../../src/docker/docker-client";
import { ContainerManager } from "../../src/docker/lifecycle";

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
  const probe = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("") });
  deadURL = `http://127.0.0.1:${probe.port}`;
  probe.stop(true);
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
