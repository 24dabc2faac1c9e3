/**
 * The container against the REAL Docker Engine: build from the embedded context, up (create,
 * concurrent, idempotent), code through the host proxy, isolation, limits, crash recovery by the
 * restart policy, down and resume, the CLI. Uses its own image tag, container names and port 0, so
 * it never touches a user's CodeRunner. Skips when no Engine answers (CI starts one in .ci/deps).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { loadConfig } from "../../src/config";
import { LABEL, type ContainerSettings } from "../../src/docker/container-spec";
import { DockerClient } from "../../src/docker/docker-client";
import { ContainerManager } from "../../src/docker/lifecycle";
import { tarStream } from "../../src/docker/tar-writer";
import { AppError } from "../../src/errors";
import { startHostMode, type HostMode } from "../../src/host/host-mode";
import { silentLogger } from "../../src/log";

const docker = new DockerClient();
const engineUp = await docker.ping();
if (!engineUp && process.env.CI) throw new Error("No Docker Engine answers; under CI, .ci/deps starts one.");
const TEST_LABEL = "org.coderunner.test";
const IMAGE = process.env.CODERUNNER_TEST_IMAGE ?? "coderunner-test:ci";
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
const progress: string[] = [];
let host: HostMode | undefined;

async function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as Record<string, any>, headers: response.headers };
}

const run = (command: string, language = "python") => post(`${host!.url}/execute`, { command, language, timeout: 60 });

async function removeTestContainers() {
  for (const container of await docker.listContainers({ all: true, filters: { label: [`${TEST_LABEL}=${process.pid}`] } })) {
    await docker.removeContainer(container.Id, { force: true });
  }
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(100);
  }
}

describe.skipIf(!engineUp)("the CodeRunner container on a real Docker Engine", () => {
  beforeAll(async () => {
    await removeTestContainers();
  });

  afterAll(async () => {
    await host?.stop();
    await removeTestContainers();
  });

  test("builds the image from the Dockerfile and context embedded in coderunner, with progress", async () => {
    const id = await manager.buildImage((line) => progress.push(line));
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
    expect(hostConfig.SecurityOpt).toEqual(["no-new-privileges"]);
    expect(hostConfig.RestartPolicy?.Name).toBe("unless-stopped");
    expect(hostConfig.Memory).toBe(1536 * MiB);
    expect(hostConfig.NanoCpus).toBe(1.5e9);
    expect(hostConfig.PidsLimit).toBe(300);
    expect(hostConfig.PortBindings?.["8223/tcp"]?.[0]?.HostIp).toBe("127.0.0.1");
    expect(info.NetworkSettings.Ports?.["8223/tcp"]?.every((binding) => binding.HostIp === "127.0.0.1")).toBe(true);
    expect(info.Config.Labels?.[LABEL.managed]).toBe("true");
    expect(info.Config.User).toBe("coderunner");

    // The container's API requires its own key; only the host side knows it.
    const direct = await post(`${a.baseURL}/execute`, { command: "1" });
    expect(direct.status).toBe(401);

    const again = await manager.up();
    expect(again.action).toBe("running");
    expect(again.id).toBe(a.id);
  }, 180_000);

  test("host mode proxies Python and bash into the container, injecting its key", async () => {
    const config = loadConfig({}, { host: "127.0.0.1", port: 0 });
    host = await startHostMode(config, manager, { log: silentLogger });
    const health = await fetch(`${host.url}/health`);
    expect(health.headers.get("x-coderunner-container")).toBe(NAME);
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

  test("responses stream through the proxy, and uploads stream in", async () => {
    const started = performance.now();
    const response = await fetch(`${host!.url}/execute/stream`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ command: "import time\nprint('first', flush=True)\ntime.sleep(1.5)\nprint('second')" }),
    });
    expect(response.status).toBe(200);
    const reader = response.body!.getReader();
    let text = "";
    let firstAt = 0;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
      if (!firstAt && text.includes("first")) firstAt = performance.now() - started;
    }
    const total = performance.now() - started;
    expect(text).toContain("second");
    expect(total - firstAt).toBeGreaterThan(1000); // "first" arrived while the run was still sleeping

    // A 3 MiB multipart upload through the proxy lands byte for byte like one sent to the container directly.
    const payload = new Uint8Array(3 * MiB).map((_, i) => (i * 7) % 256);
    const upload = async (baseURL: string, name: string, headers: Record<string, string> = {}) => {
      const form = new FormData();
      form.append("file", new Blob([payload]), name);
      form.append("remote_path", name);
      const response = await fetch(`${baseURL}/upload`, { method: "POST", body: form, headers });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };
    const endpoint = (await manager.endpoint())!;
    const direct = await upload(endpoint.baseURL, "direct.bin", { "x-api-key": endpoint.apiKey });
    const proxied = await upload(host!.url, "proxied.bin");
    expect(direct.status).toBe(200);
    expect(proxied.status).toBe(200);
    expect(proxied.body.size).toBe(payload.length);
    const check = await run("import hashlib\nprint(hashlib.sha256(open('proxied.bin','rb').read()).hexdigest() == hashlib.sha256(open('direct.bin','rb').read()).hexdigest())");
    expect(check.body.stdout).toBe("True\n");
  }, 120_000);

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

  test("a crash of the server inside is recovered by the restart policy", async () => {
    const before = (await docker.inspectContainer(NAME))!;
    // Kill the server from inside, half a second after this call has answered.
    const kill = await run(
      [
        "import os, subprocess",
        "pid = next(int(p) for p in os.listdir('/proc') if p.isdigit() and open(f'/proc/{p}/cmdline','rb').read() == b'/usr/local/bin/coderunner\\0serve\\0')",
        "subprocess.Popen(['bash', '-c', f'sleep 0.5; kill -9 {pid}'], start_new_session=True)",
        "print(pid)",
      ].join("\n"),
    );
    expect(kill.body.stdout).toMatch(/^\d+\n$/);
    const restarted = await until("the restart", async () => {
      const info = await docker.inspectContainer(NAME);
      return info && info.RestartCount > before.RestartCount ? info : undefined;
    });
    expect(restarted.Id).toBe(before.Id);
    const after = await until("code to run again", async () => {
      const result = await run("print('back')");
      return result.status === 200 ? result : undefined;
    }, 120_000);
    expect(after.body.stdout).toBe("back\n");
  }, 180_000);

  test("down stops it; up resumes the same container, files kept and code running again", async () => {
    await run("open('/home/coderunner/workspace/kept.txt', 'w').write('still here')");
    const { id } = (await manager.endpoint())!;
    expect(await manager.down()).toBe("stopped");
    expect((await docker.inspectContainer(NAME))!.State.Running).toBe(false);
    const whileDown = await run("print(1)");
    expect(whileDown.status).toBe(503);
    expect(whileDown.body.code).toBe("DOCKER_UNAVAILABLE");
    expect(await manager.down()).toBe("already stopped");

    const lines: string[] = [];
    const resumed = await manager.up({ onProgress: (line) => lines.push(line) });
    expect(resumed.action).toBe("started");
    expect(resumed.id).toBe(id);
    expect(lines.some((line) => line.startsWith("Waiting for CodeRunner to answer"))).toBe(true);
    const again = await run("print(open('/home/coderunner/workspace/kept.txt').read())");
    expect(again.body.stdout).toBe("still here\n");
    // The browser comes back too: Chromium in the resumed container loads the container's own docs page.
    const page = await post(`${host!.url}/v1/browser/interactions/navigate`, { url: "http://127.0.0.1:8223/docs", wait_timeout: 60_000 });
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

  test("the CLI: `coderunner` serves the container on a host port; Ctrl-C leaves the container running", async () => {
    await host?.stop();
    host = undefined;
    const env = { ...process.env, CODERUNNER_IMAGE: IMAGE, CODERUNNER_CONTAINER: NAME, CODERUNNER_PORT: "0", CODERUNNER_CONTAINER_PORT: "0" };
    const child = Bun.spawn([process.execPath, "src/cli.ts"], { env, stdout: "pipe", stderr: "pipe" });
    const reader = child.stdout.getReader();
    let out = "";
    while (!/ready on (http:\S+)/.test(out)) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`host mode exited: ${out}${await new Response(child.stderr).text()}`);
      out += new TextDecoder().decode(value);
    }
    const url = /ready on (http:\S+)/.exec(out)![1]!;
    const result = await post(`${url}/execute`, { command: "echo via cli", language: "bash" });
    expect(result.body.stdout).toBe("via cli\n");
    child.kill("SIGINT");
    expect(await child.exited).toBe(0);
    expect((await docker.inspectContainer(NAME))!.State.Running).toBe(true);

    const status = Bun.spawnSync([process.execPath, "src/cli.ts", "status", "--json"], { env });
    expect(status.exitCode).toBe(0);
    const report = JSON.parse(status.stdout.toString());
    expect(report.container).toMatchObject({ name: NAME, exists: true, state: "running", imageCurrent: true });

    const down = Bun.spawnSync([process.execPath, "src/cli.ts", "down", "--rm"], { env });
    expect(down.stdout.toString()).toContain(`Removed container ${NAME}`);
    expect(await docker.inspectContainer(NAME)).toBeUndefined();
  }, 180_000);

  test("the client imports a root filesystem tar as an image", async () => {
    const tag = `coderunner-test-import-${process.pid}`;
    await docker.importImage(tarStream([{ name: "hello.txt", data: "hi\n" }]), { repo: tag, tag: "t", changes: ['CMD ["/hello.txt"]'] });
    const image = await docker.inspectImage(`${tag}:t`);
    expect(image?.RepoTags).toContain(`${tag}:t`);
    expect(await docker.removeImage(`${tag}:t`)).toBe(true);
    expect(await docker.inspectImage(`${tag}:t`)).toBeUndefined();
  });
});
