/**
 * A confined sandbox against the REAL Docker Engine: the image built from the embedded context, and
 * containers created with `confinedContainer()`. Everything is proved through the REST API, the way
 * an agent's worst code would try it: reading the server's secrets, killing or tracing it, changing
 * the firewall, reaching metadata, the host and private addresses, and using the file routes to get
 * at what the sandbox user may not. One sandbox runs with egress off, a read-only root filesystem,
 * empty volumes and a uid and process budget of its own, as a host's session sandbox; one more with
 * a uid of its own on the image's own home; one unconfined container of the same image shows
 * nothing changed for it.
 * No test talks to the internet: a refused connection never leaves the sandbox.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, chownSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { confinedContainer, type ConfinedContainerOptions } from "../../src/confinement/container";
import { DockerClient } from "../../src/docker/docker-client";
import type { ContainerCreateBody } from "../../src/docker/docker-types";
import { engineAnswers, TEST_IMAGE, testImage } from "../helpers/image";
import { until } from "../helpers/poll";

const docker = new DockerClient();
const engineUp = await engineAnswers(docker);
const TEST_LABEL = "org.coderunner.test";
const RUN = `confine-${process.pid}`;
const IMAGE = TEST_IMAGE;
/** The uids the host gave the read-only sandbox and the one on the image's home, as it gives session sandboxes theirs. */
const LOCKED_UID = 234_567;
const OWN_UID = 234_568;
const MiB = 1024 * 1024;
/** An address the host passes as its own: refused although it is public. */
const HOST_ADDRESS = "198.51.100.7";

interface Sandbox {
  name: string;
  id: string;
  url: string;
  apiKey: string;
  /** Milliseconds from `start` to the first healthy /health. */
  startMs: number;
}

/**
 * The process budget of the sandboxes with a uid of their own. Threads count: Chromium with its ready
 * contexts and two kernels take ~175, so 192 left a navigation no room for its renderer.
 */
const BUDGET = 320;
const sandboxes: Record<"confined" | "locked" | "own" | "plain", Sandbox | undefined> = { confined: undefined, locked: undefined, own: undefined, plain: undefined };
const volumes = mkdtempSync(join(tmpdir(), "coderunner-confine-volumes-"));

async function healthy(url: string): Promise<Record<string, any> | undefined> {
  const response = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2000) });
  if (!response.ok) return undefined;
  const body = (await response.json()) as Record<string, any>;
  return body.status === "healthy" ? body : undefined;
}

async function startSandbox(role: string, options: { confined?: ConfinedContainerOptions; binds?: string[] }): Promise<Sandbox> {
  const apiKey = crypto.randomUUID().replaceAll("-", "");
  const confined = options.confined && confinedContainer(options.confined);
  const name = `coderunner-${RUN}-${role}`;
  const body: ContainerCreateBody = {
    Image: IMAGE,
    User: confined?.User,
    Env: [`CODERUNNER_API_KEY=${apiKey}`, "CODERUNNER_KERNEL_POOL_SIZE=1", ...(confined?.Env ?? [])],
    Labels: { [TEST_LABEL]: RUN },
    ExposedPorts: { "8223/tcp": {} },
    HostConfig: {
      PortBindings: { "8223/tcp": [{ HostIp: "127.0.0.1", HostPort: "" }] },
      Memory: 1536 * MiB,
      PidsLimit: 512,
      ShmSize: 256 * MiB,
      ...(confined?.HostConfig ?? { CapDrop: ["ALL"], SecurityOpt: ["no-new-privileges"] }),
      ...(options.binds ? { Binds: options.binds } : {}),
    },
  };
  const { Id } = await docker.createContainer(name, body);
  const started = performance.now();
  await docker.startContainer(Id);
  const info = (await docker.inspectContainer(Id))!;
  const port = info.NetworkSettings.Ports?.["8223/tcp"]?.[0]?.HostPort;
  const url = `http://127.0.0.1:${port}`;
  await until(`${name} to answer /health`, () => healthy(url), { timeoutMs: 120_000 });
  return { name, id: Id, url, apiKey, startMs: Math.round(performance.now() - started) };
}

async function call(sandbox: Sandbox, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const init: RequestInit = { method, headers: { "x-api-key": sandbox.apiKey, ...headers } };
  if (body instanceof FormData) init.body = body;
  else if (body !== undefined) {
    init.body = JSON.stringify(body);
    (init.headers as Record<string, string>)["content-type"] = "application/json";
  }
  const response = await fetch(`${sandbox.url}${path}`, init).catch(async (error) => {
    throw new Error(`${method} ${path} got no answer (${error}); ${await whyGone(sandbox)}`);
  });
  const text = await response.text();
  let parsed: any = text;
  try {
    parsed = JSON.parse(text);
  } catch {}
  return { status: response.status, body: parsed };
}

async function run(sandbox: Sandbox, command: string, language = "python", extra: Record<string, unknown> = {}) {
  const result = await call(sandbox, "POST", "/execute", { command, language, timeout: 60, ...extra });
  if (result.status !== 200) throw new Error(`execute answered ${result.status}: ${JSON.stringify(result.body)}`);
  return result.body as { stdout: string; stderr: string; status: string; state_lost: boolean; error?: { ename: string }; exit_code?: number };
}

/** Python's last printed line as JSON. */
async function probe(sandbox: Sandbox, code: string): Promise<any> {
  const result = await run(sandbox, code);
  const last = result.stdout.trim().split("\n").at(-1) ?? "";
  try {
    return JSON.parse(last);
  } catch {
    throw new Error(`probe printed no JSON: ${result.stdout}\n${result.stderr}`);
  }
}

async function upload(sandbox: Sandbox, remotePath: string, content: string | Uint8Array<ArrayBuffer>, extra: Record<string, string> = {}) {
  const form = new FormData();
  form.append("file", new Blob([content]), "payload.bin");
  form.append("remote_path", remotePath);
  for (const [name, value] of Object.entries(extra)) form.append(name, value);
  return call(sandbox, "POST", "/upload", form);
}

const download = (sandbox: Sandbox, filename: string) => call(sandbox, "POST", "/download", { filename });

/** Why a sandbox stopped answering: its container's state and the last lines it printed. */
async function whyGone(sandbox: Sandbox): Promise<string> {
  const state = (await docker.inspectContainer(sandbox.id).catch(() => undefined))?.State;
  const logs = Bun.spawnSync(["docker", "logs", "--tail", "40", sandbox.name]);
  return `container ${JSON.stringify(state)}; last output:\n${logs.stdout.toString()}${logs.stderr.toString()}`;
}

/** `docker exec` as root (the only way to look past the sandbox's own rules); `privileged` to read any process's memory figures. */
function dockerExec(sandbox: Sandbox, argv: string[], privileged = false): { code: number; stdout: string; stderr: string } {
  const result = Bun.spawnSync(["docker", "exec", ...(privileged ? ["--privileged"] : []), "-u", "0", sandbox.name, ...argv]);
  return { code: result.exitCode, stdout: result.stdout.toString(), stderr: result.stderr.toString() };
}

/** Python that finds the server, tini and Jupyter in /proc, by command line and owner. */
const FIND_SERVER = `
import os, json
def procs():
    for p in os.listdir('/proc'):
        if not p.isdigit(): continue
        try:
            cmd = open(f'/proc/{p}/cmdline','rb').read().split(b'\\0')
            uid = int([l for l in open(f'/proc/{p}/status') if l.startswith('Uid:')][0].split()[1])
        except OSError:
            continue
        yield int(p), uid, [c.decode() for c in cmd if c]
server = next(p for p, uid, cmd in procs() if cmd[:2] == ['/usr/local/bin/coderunner', 'serve'])
jupyter = next(p for p, uid, cmd in procs() if '-m' in cmd and 'jupyter_server' in cmd)
`;

async function removeTestContainers() {
  for (const container of await docker.listContainers({ all: true, filters: { label: [`${TEST_LABEL}=${RUN}`] } })) {
    await docker.removeContainer(container.Id, { force: true });
  }
}

describe.skipIf(!engineUp)("a confined sandbox on a real Docker Engine", () => {
  beforeAll(async () => {
    await removeTestContainers();
    await testImage(docker);
    // Empty volumes as a host would make them: some owned by root, /tmp by the image's user (and private).
    const bind = (name: string, uid: number, mode: number) => {
      const dir = join(volumes, name);
      Bun.spawnSync(["mkdir", "-p", dir]);
      chownSync(dir, uid, uid);
      chmodSync(dir, mode);
      return dir;
    };
    const binds = [`${bind("home", 0, 0o755)}:/home/coderunner`, `${bind("tmp", 1000, 0o700)}:/tmp`, `${bind("var-tmp", 0, 0o755)}:/var/tmp`, `${bind("app", 0, 0o755)}:/app`];
    [sandboxes.confined, sandboxes.locked, sandboxes.own, sandboxes.plain] = await Promise.all([
      startSandbox("confined", { confined: { egress: true, denyCIDRs: [HOST_ADDRESS] } }),
      startSandbox("locked", { confined: { egress: false, denyCIDRs: [], readonlyRootfs: true, sandboxUid: LOCKED_UID, userProcesses: BUDGET }, binds }),
      startSandbox("own", { confined: { egress: true, denyCIDRs: [], sandboxUid: OWN_UID, userProcesses: BUDGET } }),
      startSandbox("plain", {}),
    ]);
    console.log(
      `container start to healthy /health: confined ${sandboxes.confined!.startMs} ms, read-only + egress off ${sandboxes.locked!.startMs} ms, unconfined ${sandboxes.plain!.startMs} ms`,
    );
  }, 30 * 60_000);

  afterAll(async () => {
    await removeTestContainers();
    rmSync(volumes, { recursive: true, force: true });
  });

  test("/health says how the sandbox is isolated; the unconfined container of the same image is unchanged", async () => {
    const confined = (await healthy(sandboxes.confined!.url))!;
    expect(confined.isolation).toEqual({
      mode: "container",
      user_uid: 1000,
      server_uid: 990,
      egress: "on",
      firewall: "nftables",
      server_capabilities: ["KILL", "SETGID", "SETUID"],
      user_capabilities: [],
      host_networks_refused: 1, // counted, not listed: /health needs no key
      boot_ms: expect.any(Number),
    });
    console.log(`confined boot (firewall, directories, exec): ${confined.isolation.boot_ms} ms`);
    expect((await healthy(sandboxes.locked!.url))!.isolation).toMatchObject({ mode: "container", egress: "off", firewall: "nftables", user_uid: LOCKED_UID, user_process_limit: BUDGET });
    const plain = (await healthy(sandboxes.plain!.url))!;
    expect(plain.isolation).toMatchObject({ mode: "process", user_uid: 1000, server_uid: 1000, firewall: "none", server_capabilities: [] });
    expect(await probe(sandboxes.plain!, "import os, json\nprint(json.dumps([os.getuid(), os.path.exists('/run/coderunner/boot.json')]))")).toEqual([1000, false]);
  });

  test("code runs as uid 1000 with no capability, in Python and in bash", async () => {
    const python = await probe(
      sandboxes.confined!,
      "import os, json\nst = dict(l.split(':\\t') for l in open('/proc/self/status').read().splitlines() if ':\\t' in l)\nprint(json.dumps([os.getuid(), os.geteuid(), os.getgid(), os.getgroups(), st['CapPrm'], st['CapEff'], st['CapAmb'], st['NoNewPrivs'], open('/proc/self/oom_score_adj').read().strip()]))",
    );
    expect(python).toEqual([1000, 1000, 1000, [], "0000000000000000", "0000000000000000", "0000000000000000", "1", "1000"]);
    const bash = await run(sandboxes.confined!, "id -u; id -G; grep -E '^Cap(Prm|Eff|Amb)' /proc/self/status | cut -f2; cat /proc/self/oom_score_adj", "bash");
    expect(bash.stdout).toBe("1000\n1000\n0000000000000000\n0000000000000000\n0000000000000000\n1000\n");
  });

  test("no process of the sandbox keeps a capability beyond the server's three; none runs as root", async () => {
    // The tree under PID 1 (docker exec'd processes, such as the health check, are not in it).
    const tree = await probe(
      sandboxes.confined!,
      `${FIND_SERVER}
def field(p, name):
    return next(l.split()[1] for l in open(f'/proc/{p}/status') if l.startswith(name + ':'))
kids = {}
for p, uid, cmd in procs():
    try: kids.setdefault(int(open(f'/proc/{p}/stat').read().rsplit(')', 1)[1].split()[1]), []).append(p)
    except OSError: pass
seen, todo = [], [1]
while todo:
    p = todo.pop(); seen.append(p); todo += kids.get(p, [])
out = []
for p in seen:
    try: out.append([p, int(field(p, 'Uid')), field(p, 'CapEff'), field(p, 'CapBnd'), field(p, 'CapAmb')])
    except (OSError, StopIteration): pass
print(json.dumps({'server': server, 'procs': out}))`,
    );
    const byPid = new Map<number, [number, string, string, string]>(tree.procs.map((p: any[]) => [p[0], p.slice(1)]));
    expect(byPid.get(1)).toEqual([990, "00000000000000e0", "00000000000000e0", "00000000000000e0"]); // tini
    expect(byPid.get(tree.server)).toEqual([990, "00000000000000e0", "00000000000000e0", "00000000000000e0"]);
    expect(tree.procs.length).toBeGreaterThan(4);
    for (const [pid, uid, eff, bnd, amb] of tree.procs) {
      expect([pid, uid === 0]).toEqual([pid, false]);
      expect([pid, BigInt(`0x${bnd}`) & ~0xe0n]).toEqual([pid, 0n]);
      if (uid === 1000) expect([pid, eff, amb]).toEqual([pid, "0000000000000000", "0000000000000000"]);
    }
  });

  test("code cannot read the server's environment, Jupyter's token or its state, in Python and bash", async () => {
    const python = await probe(
      sandboxes.confined!,
      `${FIND_SERVER}
import glob
cmd = open(f'/proc/{jupyter}/cmdline').read().split('\\0')
config = next(c.split('=', 1)[1] for c in cmd if c.startswith('--config='))
out = {}
for name, path in [('server', f'/proc/{server}/environ'), ('tini', '/proc/1/environ'), ('jupyter', f'/proc/{jupyter}/environ'), ('config', config), ('state', '/run/coderunner/server'), ('mem', f'/proc/{server}/mem')]:
    try:
        (os.listdir if name == 'state' else (lambda p: open(p, 'rb').read(1)))(path); out[name] = 'READ'
    except OSError as e:
        out[name] = e.errno
out['key_in_env'] = any('CODERUNNER_API_KEY' in k or 'TOKEN' in k for k in os.environ)
out['tmp_leftovers'] = glob.glob('/tmp/coderunner-jupyter-*')
print(json.dumps(out))`,
    );
    expect(python).toEqual({ server: 13, tini: 13, jupyter: 13, config: 13, state: 13, mem: 13, key_in_env: false, tmp_leftovers: [] });
    const bash = await run(
      sandboxes.confined!,
      "server=$(pgrep -fx '/usr/local/bin/coderunner serve'); echo $server; cat /proc/$server/environ >/dev/null 2>&1 && echo LEAK; cat /proc/1/environ >/dev/null 2>&1 && echo LEAK; ls /run/coderunner/server >/dev/null 2>&1 && echo LEAK; env | grep -c CODERUNNER_API_KEY",
      "bash",
    );
    expect(bash.stdout).toMatch(/^\d+\n0\n$/);
  });

  test("code cannot kill, signal or trace the server; it keeps answering", async () => {
    const python = await probe(
      sandboxes.confined!,
      `${FIND_SERVER}
import ctypes, signal
libc = ctypes.CDLL(None, use_errno=True)
out = {}
for name, pid in [('server', server), ('tini', 1), ('jupyter', jupyter)]:
    for sig in (signal.SIGKILL, signal.SIGSTOP, signal.SIGTERM):
        try:
            os.kill(pid, sig); out[f'{name}-{sig.name}'] = 'SENT'
        except OSError as e:
            out[f'{name}-{sig.name}'] = e.errno
    out[f'{name}-ptrace'] = libc.ptrace(16, pid, 0, 0) == 0 or ctypes.get_errno()  # PTRACE_ATTACH
print(json.dumps(out))`,
    );
    expect(Object.keys(python)).toHaveLength(12);
    for (const [what, errno] of Object.entries(python)) expect([what, errno]).toEqual([what, 1]); // EPERM
    const bash = await run(sandboxes.confined!, "kill -9 $(pgrep -fx '/usr/local/bin/coderunner serve') 1 2>&1; echo status=$?", "bash");
    expect(bash.stdout).toContain("Operation not permitted");
    expect(bash.stdout).toContain("status=1");
    expect(await healthy(sandboxes.confined!.url)).toBeDefined();
    expect((await run(sandboxes.confined!, "print('still here')")).stdout).toBe("still here\n");
  });

  test("kernel specs and Python start-up hooks planted in the home never run with the server's rights", async () => {
    const sandbox = sandboxes.confined!;
    // What Jupyter or the launcher would pick up if they looked where the sandbox user writes.
    const hook = "import os\nopen('/tmp/hook-ran', 'a').write('%d %s\\n' % (os.getuid(), [l.split()[1] for l in open('/proc/self/status') if l.startswith('CapEff')][0]))\n";
    const spec = { argv: ["/bin/sh", "-c", "id -u > /tmp/spec-ran; exec /usr/bin/python3 -m ipykernel_launcher -f {connection_file}"], display_name: "evil", language: "python" };
    const planted = await run(
      sandbox,
      [
        "import os, site",
        `hook = ${JSON.stringify(hook)}`,
        "os.makedirs(site.getusersitepackages(), exist_ok=True)",
        "open(os.path.join(site.getusersitepackages(), 'usercustomize.py'), 'w').write(hook)",
        "open(os.path.join(site.getusersitepackages(), 'zz-hook.pth'), 'w').write('import usercustomize\\n')",
        "spec = os.path.expanduser('~/.local/share/jupyter/kernels/python3')",
        "os.makedirs(spec, exist_ok=True)",
        `open(os.path.join(spec, 'kernel.json'), 'w').write(${JSON.stringify(JSON.stringify(spec))})`,
        "print(open(os.path.join(site.getusersitepackages(), 'usercustomize.py')).read().count(chr(10)))",
      ].join("\n"),
    );
    expect(planted.stdout).toBe("2\n");
    // New kernels start: the session's, and the pool's replacement.
    const { body } = await call(sandbox, "POST", "/sessions", {});
    const fresh = await run(sandbox, "import sys\nprint(sys.argv[0])", "python", { session_id: body.session_id });
    expect(fresh.stdout).toBe("/usr/local/lib/coderunner/kernel-launcher.py\n");
    // The pool's replacement starts in the background: wait for its trace rather than race it.
    const lines = await until("a kernel started after the planting", async () => {
      const traces = await run(sandbox, "cat /tmp/hook-ran 2>/dev/null; echo; cat /tmp/spec-ran 2>/dev/null || echo no-spec", "bash");
      const found = traces.stdout.trim().split("\n").filter(Boolean);
      return found.length > 1 ? found : undefined;
    }, { timeoutMs: 30_000 });
    expect(lines.at(-1)).toBe("no-spec");
    // The hook does run (so this test can see one that ran elsewhere), but only inside kernels, as the sandbox user with nothing.
    expect(lines.length).toBeGreaterThan(1);
    for (const line of lines.slice(0, -1)) expect(line).toBe("1000 0000000000000000");
    await call(sandbox, "DELETE", `/sessions/${body.session_id}`);
 }, 60_000);

  test("code cannot see or change the firewall; the rules are there when root looks", async () => {
    const bash = await run(sandboxes.confined!, "nft list ruleset 2>&1; echo list=$?; nft flush ruleset 2>&1; echo flush=$?; nft delete table inet coderunner 2>&1; echo delete=$?", "bash");
    expect(bash.stdout).toMatch(/list=1\n/);
    expect(bash.stdout).toMatch(/flush=1\n/);
    expect(bash.stdout).toMatch(/delete=1\n/);
    const rules = dockerExec(sandboxes.confined!, ["nft", "list", "table", "inet", "coderunner"]);
    expect(rules.code).toBe(0);
    expect(rules.stdout).toContain(HOST_ADDRESS);
    expect(rules.stdout).toContain("169.254.0.0/16");
    expect(rules.stdout).toContain("tcp dport 8223 accept");
  });

  test("metadata, the Docker gateway, private addresses and the host's own are refused at once; loopback works", async () => {
    const result = await probe(
      sandboxes.confined!,
      `import socket, time, json, threading, http.server, urllib.request
gateway = next(socket.inet_ntoa(bytes.fromhex(f[2])[::-1]) for f in (l.split() for l in open('/proc/net/route').readlines()[1:]) if f[1] == '00000000')
def connect(host, port):
    t = time.monotonic()
    try:
        socket.create_connection((host, port), timeout=10).close(); r = 'connected'
    except OSError as e:
        r = e.errno
    return [r, round(time.monotonic() - t, 3)]
out = {h: connect(h, p) for h, p in [('169.254.169.254', 80), (gateway, 80), (gateway, 2375), ('10.0.0.1', 443), ('192.168.1.1', 80), ('100.64.0.1', 80), ('${HOST_ADDRESS}', 80)]}
srv = http.server.HTTPServer(('127.0.0.1', 0), http.server.SimpleHTTPRequestHandler)
threading.Thread(target=srv.serve_forever, daemon=True).start()
out['loopback'] = urllib.request.urlopen(f'http://127.0.0.1:{srv.server_port}/').status
try:
    urllib.request.urlopen('http://127.0.0.1:8223/execute', data=b'{}'); out['api'] = 'open'
except urllib.error.HTTPError as e:
    out['api'] = e.code
out['gateway'] = gateway
print(json.dumps(out))`,
    );
    expect(result.gateway).toMatch(/^172\.|^10\.|^192\.168\./);
    const { gateway: _g, loopback, api, ...refused } = result;
    expect(loopback).toBe(200);
    expect(api).toBe(401); // the server's API inside the sandbox still wants the key
    for (const [host, [outcome, seconds]] of Object.entries(refused as Record<string, [unknown, number]>)) {
      expect([host, outcome]).toEqual([host, 111]); // ECONNREFUSED: a reset from the sandbox's own firewall
      expect(seconds).toBeLessThan(1);
    }
  });

  test("timeouts still interrupt Python and bash, and killing its own kernel or shell is reported as before", async () => {
    const python = await run(sandboxes.confined!, "import time\nx = 41\ntime.sleep(30)", "python", { timeout: 1 });
    expect(python.status).toBe("timeout");
    expect(python.state_lost).toBe(false);
    expect((await run(sandboxes.confined!, "print(x + 1)")).stdout).toBe("42\n");
    const bash = await run(sandboxes.confined!, "export KEPT=yes; sleep 30", "bash", { timeout: 1 });
    expect(bash.status).toBe("timeout");
    expect((await run(sandboxes.confined!, "echo $KEPT", "bash")).stdout).toBe("yes\n");

    const died = await run(sandboxes.confined!, "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)");
    expect(died).toMatchObject({ status: "error", state_lost: true });
    expect(died.error?.ename).toBe("KernelDied");
    expect((await run(sandboxes.confined!, "print('x' in globals())")).stdout).toBe("False\n");
    const shell = await run(sandboxes.confined!, "echo bye; kill -9 $$", "bash");
    expect(shell).toMatchObject({ stdout: "bye\n", status: "error", state_lost: true });
    expect((await run(sandboxes.confined!, "echo fresh", "bash")).stdout).toBe("fresh\n");
  });

  test("a timeout shorter than the kernel takes to pick up the cell still stops it, its state kept", async () => {
    const { body } = await call(sandboxes.confined!, "POST", "/v1/sessions/session", {});
    const session = body.session_id as string;
    await run(sandboxes.confined!, "pass", "python", { session_id: session });
    // 0.31 s less the stop's reserve and the answer's margin: the SIGINT goes ~10 ms after the request.
    const early = await run(sandboxes.confined!, "import time\nx = 5\ntime.sleep(30)", "python", { session_id: session, timeout: 0.31 });
    expect(early.status).toBe("timeout");
    expect(await run(sandboxes.confined!, "print(x)", "python", { session_id: session })).toMatchObject({ stdout: "5\n", state_lost: false });
    await call(sandboxes.confined!, "DELETE", `/sessions/${session}`);
  });

  test("closing a session ends its shell's background jobs (the server may signal the sandbox user)", async () => {
    const { body } = await call(sandboxes.confined!, "POST", "/sessions", { language: "bash" });
    const session = body.session_id as string;
    const job = (await run(sandboxes.confined!, "sleep 300 >/dev/null 2>&1 & echo $!", "bash", { session_id: session })).stdout.trim();
    expect((await call(sandboxes.confined!, "DELETE", `/sessions/${session}`)).status).toBe(200);
    const gone = await until("the job to end", async () => ((await run(sandboxes.confined!, `kill -0 ${job} 2>/dev/null && echo alive || echo gone`, "bash")).stdout === "gone\n" ? true : undefined), { timeoutMs: 10_000 });
    expect(gone).toBe(true);
  });

  test("what a session's Python left running in a session of its own is in its usage, and ends with it", async () => {
    const { body } = await call(sandboxes.confined!, "POST", "/v1/sessions/session", {});
    const session = body.session_id as string;
    const pid = (await run(sandboxes.confined!, "import subprocess\nprint(subprocess.Popen(['sleep', '1003'], start_new_session=True).pid)", "python", { session_id: session })).stdout.trim();
    const usage = await call(sandboxes.confined!, "GET", `/v1/sessions/usage/${session}`);
    expect(usage.body.processes).toEqual([expect.objectContaining({ pid: Number(pid), command: "sleep 1003" })]);
    expect((await call(sandboxes.confined!, "DELETE", `/sessions/${session}`)).status).toBe(200);
    const gone = await until("the process to end", async () => ((await run(sandboxes.confined!, `kill -0 ${pid} 2>/dev/null && echo alive || echo gone`, "bash")).stdout === "gone\n" ? true : undefined), { timeoutMs: 10_000 });
    expect(gone).toBe(true);
  });

  test("uploads land as the sandbox user; /app and /tmp work; system files and the server's state are refused", async () => {
    const sandbox = sandboxes.confined!;
    const bytes = new Uint8Array(2 * MiB + 3).map((_, i) => (i * 13) % 256);
    const up = await upload(sandbox, "data/blob.bin", bytes);
    expect(up.status).toBe(200);
    expect(up.body.size).toBe(bytes.length);
    expect(await probe(sandbox, "import os, json, hashlib\np = 'data/blob.bin'\nprint(json.dumps([os.stat(p).st_uid, os.stat(p).st_gid, os.stat('data').st_uid, os.path.getsize(p)]))")).toEqual([1000, 1000, 1000, bytes.length]);
    const back = await download(sandbox, "data/blob.bin");
    expect(Buffer.from(back.body.content, "base64").equals(Buffer.from(bytes))).toBe(true);

    expect((await upload(sandbox, "/app/x.csv", "a,b\n1,2\n")).body).toMatchObject({ success: true, path: "/app/x.csv" });
    expect((await run(sandbox, "print(open('/app/x.csv').read().splitlines()[1])")).stdout).toBe("1,2\n");
    expect((await upload(sandbox, "/tmp/in/t.txt", "t")).status).toBe(200);
    const listing = await call(sandbox, "GET", "/files?path=/app");
    expect(listing.body.entries.map((entry: { name: string }) => entry.name)).toContain("x.csv");

    const passwd = await upload(sandbox, "/etc/passwd", "root::0:0::/root:/bin/sh\n");
    expect(passwd.status).toBe(403);
    expect(passwd.body.code).toBe("FORBIDDEN");
    expect(passwd.body.detail).toContain("Permission denied");
    expect((await run(sandbox, "head -c 5 /etc/passwd", "bash")).stdout).toBe("root:");
    expect((await download(sandbox, "/etc/shadow")).status).toBe(403);
    expect((await download(sandbox, "/nope/never")).body.code).toBe("FILE_NOT_FOUND");
    expect((await upload(sandbox, "../escape.txt", "x")).body.code).toBe("INVALID_PATH");
  });

  test("a symlink in the workspace pointing at the server's state gives a clear 403, not the file", async () => {
    const sandbox = sandboxes.confined!;
    await run(sandbox, "ln -sfn /run/coderunner/server state; ln -sfn /run/coderunner/server/tmp/x.txt state-file; ln -sfn /proc/1/environ env", "bash");
    for (const attempt of [download(sandbox, "state-file"), download(sandbox, "env"), call(sandbox, "GET", "/files?path=state"), upload(sandbox, "state/planted.txt", "x"), upload(sandbox, "state-file", "x")]) {
      const answer = await attempt;
      expect([answer.status, answer.body.code]).toEqual([403, "FORBIDDEN"]);
    }
  });

  test("Chromium runs as the sandbox user and still loads data: URLs and pages served inside the sandbox", async () => {
    const sandbox = sandboxes.confined!;
    const page = await call(sandbox, "POST", "/v1/browser/interactions/navigate", { url: "data:text/html,<title>inline</title><h1>hi</h1>", wait_timeout: 60_000 });
    expect(page.status).toBe(200);
    expect(page.body.title).toBe("inline");
    // A page served by the session's own kernel, on the sandbox's loopback.
    const port = await probe(
      sandbox,
      "import os, json, threading, functools, http.server\nos.makedirs('site', exist_ok=True)\nopen('site/index.html', 'w').write('<title>served inside</title>')\nsite = http.server.ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(http.server.SimpleHTTPRequestHandler, directory='site'))\nthreading.Thread(target=site.serve_forever, daemon=True).start()\nprint(json.dumps(site.server_port))",
    );
    const served = await call(sandbox, "POST", "/v1/browser/interactions/navigate", { url: `http://127.0.0.1:${port}/`, wait_timeout: 60_000 });
    expect(served.body).toMatchObject({ success: true, title: "served inside", http_status: 200 });
    const owners = await probe(
      sandbox,
      "import os, json\nowners = set()\nfor p in os.listdir('/proc'):\n    try:\n        if p.isdigit() and b'chromium' in open(f'/proc/{p}/cmdline','rb').read(): owners.add(os.stat(f'/proc/{p}').st_uid)\n    except OSError: pass\nprint(json.dumps(sorted(owners)))",
    );
    expect(owners).toEqual([1000]);
    const refused = await call(sandbox, "POST", "/v1/browser/interactions/navigate", { url: "http://169.254.169.254/latest/meta-data/", wait_timeout: 10_000 });
    expect(refused.status).toBe(502);
 }, 120_000);

  test("a page's download lands as the sandbox user's file, and a file input takes the user's file", async () => {
    const sandbox = sandboxes.confined!;
    const [port, mine] = await probe(
      sandbox,
      "import os, json, threading, functools, http.server\nos.makedirs('dl', exist_ok=True)\nopen('dl/index.html', 'w').write('<a id=get href=data.txt download>get</a><input type=file id=pick onchange=\"document.getElementById(\\'picked\\').textContent = this.files[0].name + \\':\\' + this.files[0].size\"><p id=picked></p>')\nopen('dl/data.txt', 'w').write('from the sandbox')\nopen('mine.txt', 'w').write('12345')\nsite = http.server.ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(http.server.SimpleHTTPRequestHandler, directory='dl'))\nthreading.Thread(target=site.serve_forever, daemon=True).start()\nprint(json.dumps([site.server_port, os.path.abspath('mine.txt')]))",
    );
    const session_id = (await call(sandbox, "POST", "/v1/browser/sessions/", {})).body.session_id;
    expect((await call(sandbox, "POST", "/v1/browser/interactions/navigate", { session_id, url: `http://127.0.0.1:${port}/`, wait_timeout: 60_000 })).status).toBe(200);
    const clicked = await call(sandbox, "POST", "/v1/browser/interactions/click", { session_id, selector: "#get" });
    expect(clicked.status).toBe(200);
    const download = clicked.body.downloads?.[0];
    expect(download).toMatchObject({ filename: "data.txt", status: "completed", size: 16 });
    const seen = await probe(sandbox, `import os, json\np = ${JSON.stringify(download.path)}\nprint(json.dumps([open(p).read(), os.stat(p).st_uid]))`);
    expect(seen).toEqual(["from the sandbox", 1000]);
    const uploaded = await call(sandbox, "POST", "/v1/browser/interactions/upload", { session_id, selector: "#pick", paths: [mine] });
    expect(uploaded.status).toBe(200);
    expect((await call(sandbox, "POST", "/v1/browser/interactions/extract", { session_id, selector: "#picked" })).body.elements[0].text).toBe("mine.txt:5");
    const refused = await call(sandbox, "POST", "/v1/browser/interactions/upload", { session_id, selector: "#pick", paths: ["/etc/passwd"] });
    expect([refused.status, refused.body.code]).toEqual([400, "INVALID_PATH"]);
  }, 120_000);

  test("egress off: nothing outside answers, DNS included, and refusals are immediate; loopback still works", async () => {
    const result = await probe(
      sandboxes.locked!,
      `import socket, time, json
def attempt(fn):
    t = time.monotonic()
    try:
        fn(); r = 'ok'
    except OSError as e:
        r = e.errno if e.errno is not None else type(e).__name__
    return [r, round(time.monotonic() - t, 3)]
def tcp(host, port): return lambda: socket.create_connection((host, port), timeout=10).close()
def udp_dns(host):
    def go():
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(5); s.connect((host, 53)); s.send(b'\\0' * 12); s.recv(512)
    return go
ns = [l.split()[1] for l in open('/etc/resolv.conf') if l.startswith('nameserver')][0]
srv = socket.socket(); srv.bind(('127.0.0.1', 0)); srv.listen()
print(json.dumps({'public': attempt(tcp('1.1.1.1', 443)), 'public-udp': attempt(udp_dns('8.8.8.8')), 'resolver': attempt(udp_dns(ns)), 'resolver-tcp': attempt(tcp(ns, 53)), 'resolve': attempt(lambda: socket.getaddrinfo('example.com', 443)), 'loopback': attempt(tcp('127.0.0.1', srv.getsockname()[1]))}))`,
    );
    expect(result.loopback[0]).toBe("ok");
    expect(result.public[0]).toBe(111);
    expect(result["resolver-tcp"][0]).toBe(111);
    // UDP: the rejected datagram fails its send() at once (EPERM) or the ICMP answer fails the socket (EHOSTUNREACH).
    for (const key of ["public-udp", "resolver"]) expect([key, [1, 113].includes(result[key][0])]).toEqual([key, true]);
    expect(result.resolve[0]).not.toBe("ok");
    for (const [key, [, seconds]] of Object.entries(result as Record<string, [unknown, number]>)) expect([key, seconds < 2]).toEqual([key, true]);
  });

  test("a read-only root with empty volumes: the boot fills them, code writes only there, and everything works", async () => {
    const sandbox = sandboxes.locked!;
    const state = await probe(
      sandbox,
      `import os, json, stat
out = {}
for path in ['/home/coderunner', '/home/coderunner/workspace', '/app', '/tmp', '/var/tmp']:
    st = os.stat(path); out[path] = [st.st_uid, oct(stat.S_IMODE(st.st_mode))]
for path in ['/etc/x', '/usr/local/x', '/opt/x', '/x', '/run/x']:
    try:
        open(path, 'w'); out[path] = 'WROTE'
    except OSError as e:
        out[path] = e.errno
for path in ['/home/coderunner/h', '/app/a', '/tmp/t', '/var/tmp/v', 'w']:
    open(path, 'w').write('ok'); out[path] = 'ok'
out['mpl'] = sorted(os.listdir(os.path.expanduser('~/.cache/matplotlib')))
print(json.dumps(out))`,
    );
    expect(state["/home/coderunner"][0]).toBe(LOCKED_UID);
    expect(state["/home/coderunner/workspace"][0]).toBe(LOCKED_UID);
    expect(state["/app"][0]).toBe(LOCKED_UID);
    expect(state["/tmp"][1]).toBe("0o1777");
    expect(state["/var/tmp"][1]).toBe("0o1777");
    for (const path of ["/etc/x", "/usr/local/x", "/opt/x", "/x"]) expect([path, state[path]]).toEqual([path, 30]); // EROFS
    expect(state["/run/x"]).toBe(13); // the /run tmpfs belongs to root
    for (const path of ["/home/coderunner/h", "/app/a", "/tmp/t", "/var/tmp/v", "w"]) expect(state[path]).toBe("ok");
    expect(state.mpl).toContain("fontlist-v330.json");

    const readOnly = await upload(sandbox, "/usr/local/planted", "x");
    expect(readOnly.status).toBe(403);
    expect(readOnly.body.detail).toContain("read-only filesystem");
    expect((await upload(sandbox, "/app/in.txt", "in")).status).toBe(200);
    expect((await download(sandbox, "/app/in.txt")).body.content).toBe(Buffer.from("in").toString("base64"));
    const plot = await run(sandbox, "import matplotlib.pyplot as plt\nplt.plot([1, 2]); plt.show()");
    expect(plot.status).toBe("ok");
    expect((await run(sandbox, "echo $HOME; touch ~/.bashrc-test && echo ok", "bash")).stdout).toBe("/home/coderunner\nok\n");
    const page = await call(sandbox, "POST", "/v1/browser/interactions/navigate", { url: "data:text/html,<title>ro</title>", wait_timeout: 60_000 });
    expect(page.body.title, JSON.stringify(page.body)).toBe("ro");
 }, 120_000);

  test("a uid of its own is coderunner to everything, with its process budget, in kernels, shells, file helpers and Chromium", async () => {
    for (const [sandbox, uid] of [[sandboxes.locked!, LOCKED_UID], [sandboxes.own!, OWN_UID]] as const) {
      const python = await probe(
        sandbox,
        "import os, json, getpass, pwd, grp\nlimit = [l.split()[2:4] for l in open('/proc/self/limits') if l.startswith('Max processes')][0]\nprint(json.dumps([os.getuid(), os.getgid(), os.getgroups(), getpass.getuser(), pwd.getpwuid(os.getuid()).pw_name, pwd.getpwnam('coderunner').pw_uid, grp.getgrgid(os.getgid()).gr_name, os.path.expanduser('~'), limit, os.getpriority(os.PRIO_PROCESS, 0)]))",
      );
      expect(python).toEqual([uid, uid, [], "coderunner", "coderunner", uid, "coderunner", "/home/coderunner", [String(BUDGET), String(BUDGET)], 19]);
      const bash = await run(sandbox, "id; whoami; echo ~; cd ~ && pwd; grep '^Max processes' /proc/self/limits | tr -s ' '", "bash");
      expect(bash.stdout).toBe(`uid=${uid}(coderunner) gid=${uid}(coderunner) groups=${uid}(coderunner)\ncoderunner\n/home/coderunner\n/home/coderunner\nMax processes ${BUDGET} ${BUDGET} processes \n`);
      // A file helper writes as that uid; the budget is the user's, whatever raises it: not the user.
      expect((await upload(sandbox, "/app/own.txt", "x")).status).toBe(200);
      expect(await probe(sandbox, "import os, json, resource\ntry:\n    resource.setrlimit(resource.RLIMIT_NPROC, (10000, 10000)); r = 'RAISED'\nexcept ValueError as e:\n    r = 'refused'\nprint(json.dumps([os.stat('/app/own.txt').st_uid, r]))")).toEqual([uid, "refused"]);
      const page = await call(sandbox, "POST", "/v1/browser/interactions/navigate", { url: "data:text/html,<title>own</title>", wait_timeout: 60_000 });
      expect(page.body.title, `uid ${uid}: ${JSON.stringify(page.body)}`).toBe("own");
      const chromium = await probe(
        sandbox,
        "import os, json\nout = set()\nfor p in os.listdir('/proc'):\n    try:\n        if p.isdigit() and b'chromium' in open(f'/proc/{p}/cmdline','rb').read():\n            out.add((os.stat(f'/proc/{p}').st_uid, *[l.split()[2] for l in open(f'/proc/{p}/limits') if l.startswith('Max processes')]))\n    except OSError: pass\nprint(json.dumps(sorted(out)))",
      );
      expect(chromium).toEqual([[uid, String(BUDGET)]]);
    }
    // On the image's own home (no volume), the boot gave it, and what the image put there, to the uid.
    const home = await probe(
      sandboxes.own!,
      "import os, json\nhome = os.path.expanduser('~')\nowners = {os.stat(os.path.join(d, f)).st_uid for d, dirs, files in os.walk(home) for f in dirs + files}\nopen(os.path.join(home, 'w.txt'), 'w').write('ok')\nprint(json.dumps([os.stat(home).st_uid, os.stat('/app').st_uid, sorted(owners), os.path.exists(home + '/.cache/matplotlib/fontlist-v330.json')]))",
    );
    expect(home).toEqual([OWN_UID, OWN_UID, [OWN_UID], true]);
 }, 180_000);

  test("a restarted sandbox boots confined again, its files kept", async () => {
    const sandbox = sandboxes.confined!;
    await run(sandbox, "open('/home/coderunner/workspace/kept.txt', 'w').write('kept')");
    await docker.restartContainer(sandbox.id, { timeoutSeconds: 10 });
    const info = (await docker.inspectContainer(sandbox.id))!;
    sandbox.url = `http://127.0.0.1:${info.NetworkSettings.Ports?.["8223/tcp"]?.[0]?.HostPort}`;
    const health = await until("the restarted sandbox", () => healthy(sandbox.url));
    expect(health.isolation.mode).toBe("container");
    expect((await run(sandbox, "print(open('/home/coderunner/workspace/kept.txt').read())")).stdout).toBe("kept\n");
  }, 180_000);

  test("figures: one small download, confined against unconfined, and idle memory", async () => {
    const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
    const timeDownloads = async (sandbox: Sandbox) => {
      await upload(sandbox, "small.txt", "x".repeat(1000));
      const times: number[] = [];
      for (let i = 0; i < 41; i++) {
        const started = performance.now();
        const answer = await download(sandbox, "small.txt");
        times.push(performance.now() - started);
        expect(answer.status).toBe(200);
      }
      return median(times);
    };
    // Interleaved, so both see the same machine load.
    const plain: number[] = [];
    const confined: number[] = [];
    for (let round = 0; round < 3; round++) {
      plain.push(await timeDownloads(sandboxes.plain!));
      confined.push(await timeDownloads(sandboxes.confined!));
    }
    console.log(`small download, median: unconfined ${median(plain).toFixed(2)} ms, confined ${median(confined).toFixed(2)} ms`);
    expect(median(confined)).toBeLessThan(median(plain) + 50);

    // Read from this machine's /proc (the host sees every process of a container; inside, nobody may read the others').
    const processes = (sandbox: Sandbox) =>
      Bun.spawnSync(["docker", "top", sandbox.name, "-eo", "pid,uid,args"]).stdout.toString().split("\n").slice(1).filter(Boolean).map((line) => {
        const [pid, uid, ...args] = line.trim().split(/\s+/);
        return { pid: Number(pid), uid: Number(uid), args: args.join(" ") };
      });
    const pssMB = (pids: number[]) =>
      Math.round(pids.reduce((sum, pid) => sum + Number(/^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "latin1"))?.[1] ?? 0), 0) / 1024);
    for (const [label, sandbox] of [["confined", sandboxes.confined!], ["unconfined", sandboxes.plain!]] as const) {
      const all = processes(sandbox);
      const of = (match: (args: string) => boolean) => pssMB(all.filter((p) => match(p.args)).map((p) => p.pid));
      console.log(
        `idle PSS (${label}): coderunner serve ${of((a) => a === "/usr/local/bin/coderunner serve")} MB, Jupyter Server ${of((a) => a.includes("jupyter_server"))} MB, each kernel ${Math.round(of((a) => a.includes("kernel-launcher")) / Math.max(1, all.filter((p) => p.args.includes("kernel-launcher")).length))} MB, file helper ${of((a) => a.startsWith("/usr/bin/perl -e"))} MB, tini ${of((a) => a.startsWith("/usr/bin/tini"))} MB`,
      );
    }
  }, 300_000);
});
