/**
 * Sessions as sandboxes on the REAL Docker Engine, through the host's REST API: what one session's
 * code can do to another, to the server that runs it, to the host and to the network; the limits a
 * session asks for; the disk cap; routing of every route family; and what a host killed with
 * SIGKILL leaves behind. Each case here was measured failing when every session shared one
 * container. Own instance name, image tag and port 0: it never touches a user's CodeRunner.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { networkInterfaces, tmpdir } from "node:os";
import { join } from "node:path";
import { LABEL } from "../../src/docker/container-spec";
import { DockerClient } from "../../src/docker/docker-client";
import type { HostMode } from "../../src/host/host-mode";
import { engineAnswers, TEST_IMAGE } from "../helpers/image";
import { until } from "../helpers/poll";
import { startTestHost, type TestHost } from "../helpers/sandbox-host";

setDefaultTimeout(180_000);

const docker = new DockerClient();
const engineUp = await engineAnswers(docker);
const NAME = `crsb-${process.pid}`;
const MiB = 1024 * 1024;
/** The state directory of the host the CLI test starts. */
const stateHome = mkdtempSync(join(tmpdir(), "coderunner-sandboxes-state-"));

let h: TestHost;
let host: HostMode;
const call: TestHost["call"] = (...args) => h.call(...args);
const run: TestHost["run"] = (...args) => h.run(...args);
const newSession: TestHost["newSession"] = (...args) => h.newSession(...args);
const containerOf: TestHost["containerOf"] = (session) => h.containerOf(session);
const containersOfInstance: TestHost["containersOfInstance"] = (instance) => h.containersOfInstance(instance);

beforeAll(async () => {
  if (!engineUp) return;
  h = await startTestHost(NAME);
  host = h.host;
}, 600_000);

afterAll(async () => {
  if (!engineUp) return;
  await h?.stop(`${NAME}-cli`);
  rmSync(stateHome, { recursive: true, force: true });
});

describe.skipIf(!engineUp)("sessions are sandboxes", () => {
  test("each session runs in a container of its own; calls without one use the default sandbox", async () => {
    const a = await newSession();
    const b = await newSession();
    const hostname = (session?: string) => run(session, "import socket; print(socket.gethostname())").then((result) => result.stdout.trim());
    const [ha, hb, hd] = await Promise.all([hostname(a), hostname(b), hostname(undefined)]);
    expect(new Set([ha, hb, hd]).size).toBe(3);
    expect(ha).toBe(containerOf(a).id.slice(0, 12));
    const health = await call("GET", "/health");
    expect(health.body).toMatchObject({ status: "healthy", isolation: { mode: "sandbox per session", backend: "docker" } });
    expect(health.body.isolation.disk_cap.mechanism).toBe(process.getuid?.() === 0 ? "loop" : expect.any(String));
  });

  test("one session cannot find or read another's files", async () => {
    const a = await newSession();
    const b = await newSession();
    await run(a, "open('secret-of-a.txt', 'w').write('A only'); open('/tmp/secret-of-a.tmp', 'w').write('A only')");
    const found = await run(b, "find / -name 'secret-of-a*' 2>/dev/null; echo done", { language: "bash" });
    expect(found.stdout).toBe("done\n");
    const download = await call("POST", "/download", { filename: "/tmp/secret-of-a.tmp", session_id: b });
    expect(download.status).toBe(404);
  });

  test("code cannot read its server's key, environment or Jupyter token, nor kill it", async () => {
    const a = await newSession();
    await run(a, "kept = 'still here'");
    const b = await newSession();
    const key = host.manager.find(b)!.sandbox.address!.apiKey;
    const search = await run(
      b,
      [
        "import os, glob",
        `key = ${JSON.stringify(key)}.encode()`,
        "hits, readable = [], []",
        "for path in glob.glob('/proc/[0-9]*/environ') + glob.glob('/proc/[0-9]*/cmdline'):",
        "    try:",
        "        data = open(path, 'rb').read()",
        "    except OSError:",
        "        continue",
        "    if path.endswith('environ') and os.stat(path).st_uid != os.getuid(): readable.append(path)",
        "    if key in data: hits.append(path)",
        "for root in ['/tmp', '/run', '/home', '/app', '/var/tmp']:",
        "    for folder, _, files in os.walk(root):",
        "        for name in files:",
        "            try:",
        "                if key in open(os.path.join(folder, name), 'rb').read(4_000_000): hits.append(os.path.join(folder, name))",
        "            except OSError:",
        "                pass",
        "print('hits', hits)",
        "print('foreign environ readable', readable)",
      ].join("\n"),
    );
    expect(search.stdout).toContain("hits []");
    expect(search.stdout).toContain("foreign environ readable []");
    // Kill everything it can see, the server first among them.
    const killed = await run(
      b,
      "import os, signal\nme = os.getpid()\nfor pid in [int(p) for p in os.listdir('/proc') if p.isdigit()]:\n    if pid != me:\n        try: os.kill(pid, signal.SIGKILL)\n        except OSError: pass\nprint('tried')",
    );
    expect(killed.stdout).toBe("tried\n");
    expect((await call("GET", "/health")).body.status).toBe("healthy");
    // Its own kernel may be gone (it killed its own processes): the session says so and goes on.
    const after = await run(b, "print('alive')");
    expect(after.stdout).toBe("alive\n");
    expect((await run(a, "print(kept)")).stdout).toBe("still here\n");
    expect((await docker.inspectContainer(containerOf(b).id))!.State.Running).toBe(true);
  });

  test("each session's code runs as a uid of its own, named coderunner, within a process budget, in kernels, shells and Chromium", async () => {
    const [a, b] = [await newSession(), await newSession()];
    const identity = async (session: string) => {
      const python = await run(session, "import os, getpass, json\nprint(json.dumps([os.getuid(), os.getgid(), getpass.getuser(), os.path.expanduser('~'), [l for l in open('/proc/self/limits') if l.startswith('Max processes')][0].split()[2:4], os.getpriority(os.PRIO_PROCESS, 0)]))");
      const bash = await run(session, "id -u; whoami; echo ~; grep '^Max processes' /proc/self/limits | tr -s ' ' | cut -d' ' -f3,4", { language: "bash" });
      return { python: JSON.parse(python.stdout), bash: bash.stdout.trim().split("\n") };
    };
    const [ia, ib] = [await identity(a), await identity(b)];
    const uidA = ia.python[0] as number;
    expect(uidA).not.toBe(ib.python[0]);
    for (const [session, id] of [[a, ia], [b, ib]] as const) {
      const uid = id.python[0];
      expect(uid).toBeGreaterThanOrEqual(200_000);
      expect(uid).toBeLessThan(300_000);
      expect(containerOf(session).limits.pidsLimit).toBe(256);
      expect((await docker.inspectContainer(containerOf(session).id))!.Config.Labels?.[LABEL.uid]).toBe(String(uid));
      expect(id.python.slice(1)).toEqual([uid, "coderunner", "/home/coderunner", ["192", "192"], 19]);
      expect(id.bash).toEqual([String(uid), "coderunner", "/home/coderunner", "192 192"]);
    }
    // Chromium too: its processes belong to the session's uid, with the same budget.
    const browser = (await call("POST", "/v1/browser/sessions/", { sandbox_id: a })).body.session_id;
    expect((await call("POST", "/v1/browser/interactions/navigate", { session_id: browser, url: "data:text/html,<title>t</title>" })).body.title).toBe("t");
    const chromium = await run(
      a,
      "import os, json\nout = set()\nfor p in os.listdir('/proc'):\n    try:\n        if p.isdigit() and b'chromium' in open(f'/proc/{p}/cmdline','rb').read():\n            limit = [l for l in open(f'/proc/{p}/limits') if l.startswith('Max processes')][0].split()[2:4]\n            out.add((os.stat(f'/proc/{p}').st_uid, *limit))\n    except OSError: pass\nprint(json.dumps(sorted(out)))",
    );
    expect(JSON.parse(chromium.stdout)).toEqual([[uidA, "192", "192"]]);
  });

  test("code cannot signal another sandbox's processes, even given their PID on the host", async () => {
    const [a, b] = [await newSession(), await newSession()];
    await run(b, "kept = 'b'");
    const uidB = Number((await run(b, "import os; print(os.getuid())")).stdout);
    // The host sees every container's processes: B's kernel by its owner and command line.
    const hostPid = readdirSync("/proc")
      .filter((entry) => /^\d+$/.test(entry))
      .find((pid) => {
        try {
          return statSync(`/proc/${pid}`).uid === uidB && readFileSync(`/proc/${pid}/cmdline`, "latin1").includes("kernel-launcher");
        } catch {
          return false;
        }
      });
    expect(hostPid).toBeDefined();
    const tried = await run(a, `import os, signal\nout = []\nfor sig in (0, signal.SIGKILL):\n    try:\n        os.kill(${hostPid}, sig); out.append('SENT')\n    except OSError as e:\n        out.append(type(e).__name__)\nprint(os.getuid() != ${uidB}, out)`);
    expect(tried.stdout.trim()).toMatch(/^True \['(ProcessLookupError|PermissionError)', '(ProcessLookupError|PermissionError)'\]$/);
    expect((await run(b, "print(kept)")).stdout).toBe("b\n");
  });

  test("sandboxes reach neither the metadata address, nor the host's services, nor each other", async () => {
    const hostService = Bun.serve({ hostname: "0.0.0.0", port: 0, fetch: () => new Response("host secret") });
    try {
      const a = await newSession();
      const b = await newSession();
      const infoB = (await docker.inspectContainer(containerOf(b).id))!;
      const ipB = infoB.NetworkSettings.IPAddress || Object.values(infoB.NetworkSettings.Networks ?? {})[0]?.IPAddress;
      const gateway = infoB.NetworkSettings.Gateway || Object.values(infoB.NetworkSettings.Networks ?? {})[0]?.Gateway;
      const hostIP = Object.values(networkInterfaces()).flat().find((address) => address && !address.internal && address.family === "IPv4")!.address;
      const targets = [`169.254.169.254:80`, `${gateway}:${hostService.port}`, `${hostIP}:${hostService.port}`, `${ipB}:8223`];
      const probe = await run(
        a,
        [
          "import socket, time",
          `for target in ${JSON.stringify(targets)}:`,
          "    host, port = target.rsplit(':', 1)",
          "    started = time.monotonic()",
          "    try:",
          "        socket.create_connection((host, int(port)), timeout=5).close(); outcome = 'CONNECTED'",
          "    except OSError as error:",
          "        outcome = type(error).__name__",
          "    print(target, outcome, round(time.monotonic() - started, 1))",
          "import http.server, threading",
          "server = http.server.HTTPServer(('127.0.0.1', 0), http.server.SimpleHTTPRequestHandler)",
          "threading.Thread(target=server.handle_request, daemon=True).start()",
          "import urllib.request",
          "print('loopback', urllib.request.urlopen(f'http://127.0.0.1:{server.server_port}/', timeout=5).status)",
        ].join("\n"),
      );
      expect(probe.stdout).not.toContain("CONNECTED");
      expect(probe.stdout).toContain("loopback 200");
      for (const target of targets) expect(probe.stdout).toContain(target);
    } finally {
      hostService.stop(true);
    }
  });

  test("a sandbox with the internet switched off reaches nothing outside itself, DNS included", async () => {
    const id = await newSession({ allow_internet_access: false });
    expect(containerOf(id).egress).toBe(false);
    const probe = await run(
      id,
      "import socket\nfor target in [('1.1.1.1', 80), ('93.184.216.34', 443)]:\n    try:\n        socket.create_connection(target, timeout=5).close(); print('CONNECTED')\n    except OSError as error:\n        print(type(error).__name__)\ntry:\n    socket.getaddrinfo('example.com', 80); print('RESOLVED')\nexcept OSError as error:\n    print('dns', type(error).__name__)",
    );
    expect(probe.stdout).not.toContain("CONNECTED");
    expect(probe.stdout).not.toContain("RESOLVED");
    const usage = await call("GET", `/v1/sessions/usage/${id}`);
    expect(usage.body.sandbox.internet).toBe(false);
  });
});

describe.skipIf(!engineUp)("every route family reaches the session's own sandbox", () => {
  test("execute, async tasks, streaming, status, usage, list", async () => {
    const id = await newSession({ metadata: { purpose: "routes" }, env: { GREETING: "hello" } });
    expect((await run(id, "import os; v = os.environ['GREETING']; print(v)")).stdout).toBe("hello\n");
    expect((await run(id, "echo $GREETING; cd /tmp", { language: "bash" })).stdout).toBe("hello\n");
    expect((await run(id, "pwd", { language: "bash" })).stdout).toBe("/tmp\n");
    const task = await call("POST", "/execute_async", { command: "import time; time.sleep(0.5); print(v * 2)", session_id: id });
    expect(task.body.task_id.startsWith(`${id}.`)).toBe(true);
    const polled = await until("the task to complete", async () => {
      const view = (await call("GET", `/v1/executions/${task.body.task_id}`)).body;
      return view.is_complete ? view : undefined;
    });
    expect(polled).toMatchObject({ status: "completed", serialized_stdout: "hellohello\n" });
    const stream = await fetch(`${host.url}/execute/stream`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ session_id: id, command: "print(v)" }) });
    expect(await stream.text()).toContain("hello");
    expect((await call("GET", `/v1/sessions/status/${id}`)).body).toMatchObject({ session_id: id, vm_status: "active" });
    expect((await call("GET", `/sessions/${id}`)).body.session_id).toBe(id);
    const listed = await call("GET", `/v1/sessions/sandboxes?metadata=${encodeURIComponent(JSON.stringify({ purpose: "routes" }))}`);
    expect(listed.body.map((entry: any) => entry.sandbox_id)).toEqual([id]);
    expect((await call("GET", "/sessions")).body.sessions.some((session: any) => session.session_id === id)).toBe(true);
  });

  test("the default sandbox's async results outlive a restart of its container (the server's data is on its disk)", async () => {
    const task = await call("POST", "/execute_async", { command: "print('kept across the restart')" });
    const done = await until("the task to finish", async () => {
      const polled = (await call("GET", `/v1/executions/${task.body.task_id}`)).body;
      return polled.is_complete && polled;
    });
    expect(done.status).toBe("completed");
    const [defaultSandbox] = (await containersOfInstance(NAME)).filter((container) => container.Labels?.[LABEL.role] === "default");
    await docker.restartContainer(defaultSandbox!.Id, { timeoutSeconds: 10 });
    const after = await until(
      "the restarted default sandbox to answer for the task",
      async () => {
        // Until the restarted server answers at all (the host says 503 meanwhile); a 404 is the failure.
        const polled = await call("GET", `/v1/executions/${task.body.task_id}`);
        return [200, 404].includes(polled.status) && polled;
      },
      { timeoutMs: 120_000, everyMs: 250 },
    );
    expect(after.body).toMatchObject({ status: "completed", serialized_stdout: "kept across the restart\n" });
  });

  test("files: uploads (session_id before or after the file), downloads byte for byte, listing", async () => {
    const id = await newSession();
    const payload = new Uint8Array(3 * MiB).map((_, i) => (i * 7) % 256);
    for (const [fieldFirst, name] of [
      [true, "first.bin"],
      [false, "after.bin"],
    ] as const) {
      const form = new FormData();
      if (fieldFirst) form.append("session_id", id);
      form.append("file", new Blob([payload]), name);
      form.append("remote_path", `data/${name}`);
      if (!fieldFirst) form.append("session_id", id);
      const uploaded = await call("POST", "/upload", form);
      expect(uploaded.status).toBe(200);
      expect(uploaded.body.size).toBe(payload.length);
    }
    const check = await run(id, "import hashlib\nprint(hashlib.sha256(open('data/first.bin','rb').read()).hexdigest() == hashlib.sha256(open('data/after.bin','rb').read()).hexdigest(), len(open('data/after.bin','rb').read()))");
    expect(check.stdout).toBe(`True ${payload.length}\n`);
    const download = await call("POST", "/download", `filename=data/after.bin&session_id=${id}`, { "content-type": "application/x-www-form-urlencoded" });
    expect(download.status).toBe(200);
    expect(new Uint8Array(Buffer.from(download.body.content, "base64"))).toEqual(payload);
    const listing = await call("GET", `/files?session_id=${id}&path=data`);
    expect(listing.body.entries.map((entry: any) => entry.name).sort()).toEqual(["after.bin", "first.bin"]);
    // The default sandbox has none of it.
    expect((await call("POST", "/download", { filename: "data/after.bin" })).status).toBe(404);
  });

  test("the browser: a browser session made for a session lives in its sandbox", async () => {
    const id = await newSession();
    const created = await call("POST", "/v1/browser/sessions/", { sandbox_id: id, viewport_width: 800, viewport_height: 600 });
    expect(created.status).toBe(200);
    const browser = created.body.session_id as string;
    expect(browser.startsWith(`${id}.`)).toBe(true);
    // A page served inside the sandbox, on its own loopback: only this sandbox's browser can see it.
    await run(id, "import subprocess\nopen('page.html','w').write('<title>inside</title><button id=b>go</button>')\nsubprocess.Popen(['python3', '-m', 'http.server', '8765', '--bind', '127.0.0.1'], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\nimport socket, time\nfor _ in range(200):\n    try:\n        socket.create_connection(('127.0.0.1', 8765), 0.1).close(); break\n    except OSError: time.sleep(0.05)");
    const navigated = await call("POST", "/v1/browser/interactions/navigate", { session_id: browser, url: "http://127.0.0.1:8765/page.html" });
    expect(navigated.body).toMatchObject({ success: true, title: "inside" });
    expect((await call("POST", "/v1/browser/interactions/click", { session_id: browser, selector: "#b" })).status).toBe(200);
    const listed = await call("GET", "/v1/browser/sessions/");
    expect(listed.body.sessions.map((session: any) => session.session_id)).toContain(browser);
    expect((await call("DELETE", `/v1/browser/sessions/${browser}`)).body).toEqual({ success: true });
    expect((await call("POST", "/v1/browser/sessions/", { sandbox_id: "nobody" })).status).toBe(404);
  });

  test("MCP with the official client: create_session makes a sandbox, tools run in it, close_session removes it", async () => {
    const client = new Client({ name: "coderunner-sandbox-test", version: "1.0.0" });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${host.url}/mcp`)));
    try {
      // A sandbox boots in seconds, or in tens of them on a loaded machine: more than the client's 60 s default is allowed.
      const created = (await client.callTool({ name: "create_session", arguments: {} }, undefined, { timeout: 180_000 })) as { content: { text: string }[] };
      const id = JSON.parse(created.content[0]!.text).session_id as string;
      const sandbox = containerOf(id);
      const ran = (await client.callTool({ name: "execute_python", arguments: { code: "import socket; print(socket.gethostname())", session_id: id } })) as { content: { text: string }[] };
      expect(ran.content[0]!.text.trim()).toBe(sandbox.id.slice(0, 12));
      await client.callTool({ name: "close_session", arguments: { session_id: id } });
      expect(await docker.inspectContainer(sandbox.id)).toBeUndefined();
    } finally {
      await client.close();
    }
  });

  test("kill and delete end the sandbox; unknown ids are 404 with {detail, code}", async () => {
    const id = await newSession();
    const container = containerOf(id).id;
    expect((await call("POST", "/kill", { session_id: id })).body).toEqual({ success: true, session_id: id });
    expect(await docker.inspectContainer(container)).toBeUndefined();
    expect((await call("GET", `/v1/sessions/status/${id}`)).status).toBe(410);
    for (const [method, path, body] of [
      ["POST", "/execute", { command: "1", session_id: "no-such-session" }],
      ["GET", "/v1/executions/no-such-session.task", undefined],
      ["GET", "/v1/sessions/usage/no-such-session", undefined],
      ["DELETE", "/sessions/no-such-session", undefined],
    ] as const) {
      const response = await call(method, path, body);
      expect(response.status).toBe(404);
      expect(typeof response.body.detail).toBe("string");
      expect(typeof response.body.code).toBe("string");
    }
  });
});

describe.skipIf(!engineUp)("the host process", () => {
  const CLI_NAME = `${NAME}-cli`;
  const env = () => ({
    ...process.env,
    XDG_STATE_HOME: stateHome,
    CODERUNNER_IMAGE: TEST_IMAGE,
    CODERUNNER_CONTAINER: CLI_NAME,
    CODERUNNER_PORT: "0",
    CODERUNNER_CONTAINER_PORT: "0",
    CODERUNNER_POOL_SIZE: "1",
    CODERUNNER_MEMORY_MB: "1024",
    CODERUNNER_CPUS: "1",
    CODERUNNER_DISK_MB: "300",
  });
  const startCLI = async () => {
    const child = Bun.spawn([process.execPath, "src/cli.ts"], { env: env(), stdout: "pipe", stderr: "pipe" });
    const reader = child.stdout.getReader();
    let out = "";
    while (!/ready on (http:\S+)/.test(out)) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`the host exited: ${out}${await new Response(child.stderr).text()}`);
      out += new TextDecoder().decode(value);
    }
    return { child, url: /ready on (http:\S+)/.exec(out)![1]! };
  };
  const post = async (base: string, path: string, body: unknown) =>
    (await fetch(`${base}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) })).json() as Promise<any>;

  test("killed with SIGKILL and started again, the host finds its sessions; down leaves no container, disk or mount", async () => {
    const first = await startCLI();
    const { session_id: id } = await post(first.url, "/v1/sessions/session", {});
    expect((await post(first.url, "/execute", { session_id: id, command: "survivor = 'yes'" })).status).toBe("ok");
    // A start under way when the host dies (pool of one already taken): it must not be left behind.
    const inFlight = fetch(`${first.url}/v1/sessions/session`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" }).catch(() => undefined);
    await Bun.sleep(300);
    first.child.kill("SIGKILL");
    await first.child.exited;
    await inFlight;

    const second = await startCLI();
    try {
      expect((await post(second.url, "/execute", { session_id: id, command: "print(survivor)" })).stdout).toBe("yes\n");
      const containers = await containersOfInstance(CLI_NAME);
      // The default sandbox, the session's, and at most one warm one: nothing half-made survived.
      expect(containers.length).toBeLessThanOrEqual(3);
      const status = Bun.spawnSync([process.execPath, "src/cli.ts", "status", "--json"], { env: env() });
      const report = JSON.parse(status.stdout.toString());
      expect(report.host.running).toBe(true);
      expect(report.container).toMatchObject({ name: CLI_NAME, state: "running" });
      expect(report.sandboxes.length).toBeGreaterThanOrEqual(1);
    } finally {
      const down = Bun.spawnSync([process.execPath, "src/cli.ts", "down", "--rm"], { env: env() });
      expect(down.stdout.toString()).toContain(`Removed the default sandbox ${CLI_NAME}`);
      await second.child.exited;
    }
    expect(await containersOfInstance(CLI_NAME)).toHaveLength(0);
    const disks = join(stateHome, "coderunner", "disks");
    expect(existsSync(disks) ? readdirSync(disks).filter((entry) => entry.startsWith(CLI_NAME)) : []).toHaveLength(0);
    expect(readFileSync("/proc/self/mountinfo", "utf8")).not.toContain(CLI_NAME);
  }, 300_000);
});
