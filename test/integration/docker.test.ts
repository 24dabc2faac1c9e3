/**
 * The default sandbox's container against the REAL Docker Engine: the image built from the
 * embedded context, up (create, concurrent, idempotent), code in it with its own key, its user and
 * limits, crash recovery by the restart policy, down and resume with files kept. Session sandboxes
 * and the host in front of them are `sandboxes.test.ts`. Uses its own image tag and container
 * names and port 0, so it never touches a user's CodeRunner. Skips when no Engine answers (CI starts
 * one in .ci/deps).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { LABEL, type ContainerSettings, type Endpoint } from "../../src/docker/container-spec";
import { DockerClient } from "../../src/docker/docker-client";
import { ContainerManager } from "../../src/docker/lifecycle";
import { tarStream } from "../../src/docker/tar-writer";
import { AppError } from "../../src/errors";
import { engineAnswers, TEST_IMAGE, testImage } from "../helpers/image";
import { until } from "../helpers/poll";

const docker = new DockerClient();
const engineUp = await engineAnswers(docker);
const TEST_LABEL = "org.coderunner.test";
const IMAGE = TEST_IMAGE;
const NAME = `coderunner-test-${process.pid}`;
const MiB = 1024 * 1024;

const settings = (overrides: Partial<ContainerSettings> = {}): ContainerSettings => ({
  image: IMAGE,
  name: NAME,
  hostPort: 0,
  memoryMB: 1536,
  cpus: 1.5,
  pidsLimit: 300,
  upTimeoutSeconds: 120,
  logLevel: "info",
  labels: { [TEST_LABEL]: String(process.pid) },
  ...overrides,
});

const manager = new ContainerManager({ docker, settings: settings() });
let endpoint: Endpoint | undefined;

async function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as Record<string, any>, headers: response.headers };
}

const run = (command: string, language = "python") => post(`${endpoint!.baseURL}/execute`, { command, language, timeout: 60 }, { "x-api-key": endpoint!.apiKey });

async function removeTestContainers() {
  for (const container of await docker.listContainers({ all: true, filters: { label: [`${TEST_LABEL}=${process.pid}`] } })) {
    await docker.removeContainer(container.Id, { force: true });
  }
}

describe.skipIf(!engineUp)("the CodeRunner container on a real Docker Engine", () => {
  beforeAll(async () => {
    await removeTestContainers();
  });

  afterAll(async () => {
    await removeTestContainers();
  });

  test("builds the image from the Dockerfile and context embedded in coderunner, with progress", async () => {
    const { id, progress } = await testImage(docker);
    expect(id).toMatch(/^(sha256:)?[0-9a-f]{12,}/);
    expect(progress.some((line) => /Step \d+\/\d+ : FROM debian:bookworm-slim/.test(line))).toBe(true);
    const image = await docker.inspectImage(IMAGE);
    expect(image?.Config?.Labels?.[LABEL.managed]).toBe("true");
    console.log(`image ${IMAGE}: ${Math.round(image!.Size / MiB)} MB`);
  }, 30 * 60_000);

  test("up: two at once create one hardened container, published on 127.0.0.1 only", async () => {
    const second = new ContainerManager({ docker, settings: settings() });
    const [a, b] = await Promise.all([manager.up(), second.up()]);
    expect(a.id).toBe(b.id);
    expect([a.action, b.action]).toContain("created");
    const all = await docker.listContainers({ all: true, filters: { name: [NAME] } });
    expect(all.filter((c) => c.Names.includes(`/${NAME}`))).toHaveLength(1);

    const info = (await docker.inspectContainer(NAME))!;
    const hostConfig = info.HostConfig;
    expect(hostConfig.CapDrop).toEqual(["ALL"]);
    expect(hostConfig.SecurityOpt).toContain("no-new-privileges");
    expect(hostConfig.RestartPolicy?.Name).toBe("unless-stopped");
    expect(hostConfig.Memory).toBe(1536 * MiB);
    expect(hostConfig.NanoCpus).toBe(1.5e9);
    expect(hostConfig.PidsLimit).toBe(300);
    expect(hostConfig.PortBindings?.["8223/tcp"]?.[0]?.HostIp).toBe("127.0.0.1");
    expect(info.NetworkSettings.Ports?.["8223/tcp"]?.every((binding) => binding.HostIp === "127.0.0.1")).toBe(true);
    expect(info.Config.Labels?.[LABEL.managed]).toBe("true");

    // The container's API requires its own key; only the host side knows it.
    const direct = await post(`${a.baseURL}/execute`, { command: "1" });
    expect(direct.status).toBe(401);

    const again = await manager.up();
    expect(again.action).toBe("running");
    expect(again.id).toBe(a.id);
    endpoint = again;
  }, 180_000);

  test("Python with the scientific stack and a persistent bash run in the container, with its key", async () => {
    const health = await fetch(`${endpoint!.baseURL}/health`);
    expect(((await health.json()) as { status: string }).status).toBe("healthy");

    const python = await run("import numpy, pandas, sklearn, scipy, matplotlib, bs4, PIL, openpyxl, sympy, requests\nx = 41\nprint(x + 1)");
    expect(python.status).toBe(200);
    expect(python.body.stdout).toBe("42\n");
    // The kernel comes from the image's own kernel spec: the stock kernel minus the debugger import.
    const kernel = await run("import sys\nprint(sys.modules.get('debugpy', 'absent'), sys.argv[0])");
    expect(kernel.body.stdout).toBe("None /usr/local/lib/coderunner/kernel-launcher.py\n");
    const bash = await run("cd /tmp && export GREETING=hi && echo $GREETING from $(pwd)", "bash");
    expect(bash.body.stdout).toBe("hi from /tmp\n");
    const bashState = await run("echo $GREETING in $(pwd)", "bash");
    expect(bashState.body.stdout).toBe("hi in /tmp\n");
  }, 180_000);

  test("code runs as an unprivileged user that can write only to its own areas", async () => {
    const probe = await run(
      [
        "import os",
        "print(os.getuid(), os.geteuid())",
        "status = open('/proc/self/status').read()",
        "print([l.split()[1] for l in status.splitlines() if l.startswith(('CapEff', 'NoNewPrivs'))])",
        "for path in ['/etc/evil', '/usr/local/bin/evil', '/evil', '/root/evil', '/var/evil']:",
        "    try:",
        "        open(path, 'w').write('x'); print('WROTE', path)",
        "    except OSError as e:",
        "        print('denied', path, type(e).__name__)",
        "for path in [os.path.expanduser('~/mine'), '/tmp/mine', 'mine']:",
        "    open(path, 'w').write('ok'); print('ok', path)",
      ].join("\n"),
    );
    const out = probe.body.stdout as string;
    expect(out).toStartWith("1000 1000\n");
    expect(out).toContain("['0000000000000000', '1']"); // no effective capabilities, no_new_privs set
    expect(out).not.toContain("WROTE");
    expect(out.match(/^denied /gm)).toHaveLength(5);
    expect(out.match(/^ok /gm)).toHaveLength(3);
    const sudo = await run("id -u; su -c true root 2>&1 || echo 'no root'", "bash");
    expect(sudo.body.stdout).toStartWith("1000\n");
    expect(sudo.body.stdout).toContain("no root");
  }, 60_000);

  test("resource limits are applied inside the container", async () => {
    const limits = await run("cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max /sys/fs/cgroup/cpu.max 2>/dev/null || echo cgroup-v1", "bash");
    const out = limits.body.stdout as string;
    if (!out.includes("cgroup-v1")) {
      expect(out.split("\n").slice(0, 3)).toEqual([String(1536 * MiB), "300", "150000 100000"]);
    }
  }, 60_000);

  // User code cannot kill the server any more (sandboxes.test.ts proves it): the crash comes from the host.
  test.skipIf(process.getuid?.() !== 0)("a crash of the container's processes is recovered by the restart policy", async () => {
    const before = (await docker.inspectContainer(NAME))!;
    process.kill(before.State.Pid, "SIGKILL");
    const restarted = await until("the restart", async () => {
      const info = await docker.inspectContainer(NAME);
      return info && info.RestartCount > before.RestartCount ? info : undefined;
    }, { timeoutMs: 60_000, everyMs: 100 });
    expect(restarted.Id).toBe(before.Id);
    const after = await until("code to run again", async () => {
      endpoint = (await manager.endpoint()) ?? endpoint;
      const result = await run("print('back')");
      return result.status === 200 ? result : undefined;
    }, { timeoutMs: 120_000, everyMs: 100 });
    expect(after.body.stdout).toBe("back\n");
  }, 180_000);

  test("down stops it; up resumes the same container, files kept and code running again", async () => {
    await run("open('/home/coderunner/workspace/kept.txt', 'w').write('still here')");
    const { id } = (await manager.endpoint())!;
    expect(await manager.down()).toBe("stopped");
    expect((await docker.inspectContainer(NAME))!.State.Running).toBe(false);
    expect(await manager.endpoint()).toBeUndefined();
    expect(await manager.down()).toBe("already stopped");

    const lines: string[] = [];
    const resumed = await manager.up({ onProgress: (line) => lines.push(line) });
    expect(resumed.action).toBe("started");
    expect(resumed.id).toBe(id);
    expect(lines.some((line) => line.startsWith("Waiting for CodeRunner to answer"))).toBe(true);
    endpoint = resumed;
    const again = await run("print(open('/home/coderunner/workspace/kept.txt').read())");
    expect(again.body.stdout).toBe("still here\n");
    // The browser comes back too: Chromium in the resumed container loads the container's own docs page.
    const page = await post(`${endpoint!.baseURL}/v1/browser/interactions/navigate`, { url: "http://127.0.0.1:8223/docs", wait_timeout: 60_000 }, { "x-api-key": endpoint!.apiKey });
    expect(page.status).toBe(200);
    expect(page.body).toMatchObject({ success: true, http_status: 200 });
    const logs = await manager.lastLogLines(NAME, 50);
    expect(logs.some((line) => line.includes("listening on http://0.0.0.0:8223"))).toBe(true);
  }, 180_000);

  test("a server that cannot start fails `up` with the reason and its last log lines", async () => {
    const broken = new ContainerManager({ docker, settings: settings({ name: `${NAME}-broken`, logLevel: "chatty", upTimeoutSeconds: 60 }) });
    const error = await broken.up().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe("DOCKER_UNAVAILABLE");
    expect((error as AppError).message).toMatch(/stopped while starting|keeps crashing/);
    expect((error as AppError).message).toContain("CODERUNNER_LOG_LEVEL");
    expect(await broken.down({ remove: true })).toBe("removed");
  }, 120_000);

  test("the client imports a root filesystem tar as an image", async () => {
    const tag = `coderunner-test-import-${process.pid}`;
    await docker.importImage(tarStream([{ name: "hello.txt", data: "hi\n" }]), { repo: tag, tag: "t", changes: ['CMD ["/hello.txt"]'] });
    const image = await docker.inspectImage(`${tag}:t`);
    expect(image?.RepoTags).toContain(`${tag}:t`);
    expect(await docker.removeImage(`${tag}:t`)).toBe(true);
    expect(await docker.inspectImage(`${tag}:t`)).toBeUndefined();
  });
});
