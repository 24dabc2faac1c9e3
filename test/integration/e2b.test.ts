/**
 * The unchanged E2B SDKs (`e2b`, `@e2b/code-interpreter` from npm) against a real CodeRunner host:
 * the three environment variables a user sets, then E2B code as E2B documents it. Every sandbox is a
 * CodeRunner session sandbox (its own container) on the real Docker Engine, from the test image.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { Sandbox } from "@e2b/code-interpreter";
import { CommandExitError, FileNotFoundError, type FilesystemEvent, InvalidArgumentError, NotFoundError, Sandbox as CoreSandbox } from "e2b";
import { join } from "node:path";
import { DockerClient } from "../../src/docker/docker-client";
import { engineAnswers } from "../helpers/image";
import { until } from "../helpers/poll";
import { startTestHost, type TestHost } from "../helpers/sandbox-host";

setDefaultTimeout(180_000);

const engineUp = await engineAnswers(new DockerClient());
let h: TestHost;
let base: string;
/** The sandbox most cases share (a sandbox start is a container start: seconds on a loaded machine). */
let sbx: Sandbox;
/** Sandbox starts may queue behind other containers on a busy Engine: the SDK's 60 s default is too short for a test. */
const slow = { requestTimeoutMs: 600_000 };
const opened: { kill(): Promise<unknown> }[] = [];

/** Waits for what a stream delivers: `check` holds, or the test fails after 30 s showing what came. */
const arrived = (check: () => boolean, shown: () => string) => until(() => `it to arrive; seen: ${shown()}`, check, { timeoutMs: 30_000, everyMs: 50 });

/** A sandbox killed after the suite, whatever happens. */
async function open<T extends { kill(): Promise<unknown> }>(sandbox: Promise<T>): Promise<T> {
  const made = await sandbox;
  opened.push(made);
  return made;
}

beforeAll(async () => {
  if (!engineUp) return;
  h = await startTestHost(`cre2b-${process.pid}`, { poolSize: 2, upTimeoutSeconds: 600 });
  base = `${h.host.url}/e2b`;
  // What README's "Use the E2B SDK locally" tells a user to set; the SDKs read them on every call.
  process.env.E2B_API_URL = base;
  process.env.E2B_SANDBOX_URL = base;
  process.env.E2B_API_KEY = "any-string";
  sbx = await open(Sandbox.create({ ...slow, metadata: { suite: "e2b", run: String(process.pid) } }));
}, 900_000);

afterAll(async () => {
  if (!engineUp) return;
  await Promise.allSettled(opened.map((sandbox) => sandbox.kill()));
  await h?.stop();
});

describe.skipIf(!engineUp)("E2B SDKs against CodeRunner", () => {
  test("quickstart: state persists between runCode calls; info, list, timeout", async () => {
    const first = await sbx.runCode("x = 1");
    expect(first.error).toBeUndefined();
    const second = await sbx.runCode("x += 1; x");
    expect(second.text).toBe("2");
    expect(second.executionCount).toBe(2);
    expect(second.results[0]!.isMainResult).toBe(true);

    const info = await sbx.getInfo();
    expect(info).toMatchObject({ sandboxId: sbx.sandboxId, state: "running", metadata: { suite: "e2b" } });
    expect(info.cpuCount).toBeGreaterThan(0);
    expect(info.memoryMB).toBe(1024);
    expect(await sbx.isRunning()).toBe(true);

    const listed = await Sandbox.list({ query: { metadata: { run: String(process.pid) } } }).nextItems();
    expect(listed.map((item) => item.sandboxId)).toContain(sbx.sandboxId);
    expect(await Sandbox.list({ query: { metadata: { run: "no-such-run" } } }).nextItems()).toEqual([]);

    // Metrics: one sample of the sandbox's own figures, its limits as the totals.
    await sbx.runCode("sum(i * i for i in range(2_000_000))");
    const [metric] = await sbx.getMetrics();
    expect(metric!.timestamp).toBeInstanceOf(Date);
    expect(metric).toMatchObject({ cpuCount: 1, memTotal: 1024 * 1024 * 1024, diskTotal: 300 * 1024 * 1024 });
    expect(metric!.memUsed).toBeGreaterThan(10 * 1024 * 1024);
    expect(metric!.memUsed).toBeLessThan(metric!.memTotal);
    expect(metric!.cpuUsedPct).toBeGreaterThan(0);
    expect(metric!.cpuUsedPct).toBeLessThanOrEqual(100);
    if (h.host.backend.diskCap.mechanism === "loop") expect(metric!.diskUsed).toBeGreaterThan(0);

    await sbx.setTimeout(600_000);
    const later = await sbx.getInfo();
    expect(later.endAt.getTime()).toBeGreaterThan(info.endAt.getTime());
  });

  test("a new sandbox's code starts in the user's home, Python and bash alike, with the sandbox's envs set", async () => {
    const fresh = await open(Sandbox.create({ ...slow, envs: { GREETING: "hello" } }));
    const python = await fresh.runCode("import os\nopen('made-by-python.txt', 'w').write('py')\nprint(os.getcwd(), os.environ['GREETING'])");
    expect(python.logs.stdout.join("")).toBe("/home/coderunner hello\n");
    expect(await fresh.files.read("/home/user/made-by-python.txt")).toBe("py");
    const bash = await fresh.runCode("pwd; echo $GREETING", { language: "bash" });
    expect(bash.logs.stdout.join("")).toBe("/home/coderunner\nhello\n");
  });

  test("rich results: a matplotlib chart as PNG, HTML, JSON; errors are returned, not thrown; stdout and stderr stream", async () => {
    const chart = await sbx.runCode("import matplotlib.pyplot as plt\nplt.plot([1, 2, 3], [1, 4, 9])\nplt.show()");
    const png = chart.results.find((result) => result.png);
    expect(Buffer.from(png!.png!, "base64").subarray(1, 4).toString()).toBe("PNG");
    expect(png!.isMainResult).toBe(false);

    const html = await sbx.runCode("from IPython.display import HTML\nHTML('<table><tr><td>1</td></tr></table>')");
    expect(html.results[0]!.html).toContain("<table");
    const json = await sbx.runCode("from IPython.display import JSON, display\ndisplay(JSON({'k': [1, 2]}))");
    expect(json.results[0]!.json as unknown).toEqual({ k: [1, 2] });

    const out: string[] = [];
    const err: string[] = [];
    const logged = await sbx.runCode("import sys\nprint('to out')\nprint('to err', file=sys.stderr)", {
      onStdout: (message) => void out.push(message.line),
      onStderr: (message) => void err.push(message.line),
    });
    expect(out.join("")).toContain("to out");
    expect(err.join("")).toContain("to err");
    expect(logged.logs.stdout.join("")).toContain("to out");

    const failed = await sbx.runCode("1 / 0");
    expect(failed.error).toMatchObject({ name: "ZeroDivisionError", value: "division by zero" });
    expect(failed.error!.traceback).toContain("ZeroDivisionError");
  });

  test("bash and contexts: each context is its own kernel, restart clears it, remove ends it", async () => {
    const bash = await sbx.runCode("echo hi from $0; cd /tmp; pwd", { language: "bash" });
    expect(bash.logs.stdout.join("")).toContain("/tmp");
    expect((await sbx.runCode("pwd", { language: "bash" })).logs.stdout.join("").trim()).toBe("/tmp");

    await sbx.runCode("shared = 'main'");
    const context = await sbx.createCodeContext({ cwd: "/tmp" });
    expect(context).toMatchObject({ language: "python", cwd: "/tmp" });
    await sbx.runCode("own = 1", { context });
    expect((await sbx.runCode("'shared' in dir(), own, __import__('os').getcwd()", { context })).text).toBe("(False, 1, '/tmp')");
    expect((await sbx.listCodeContexts()).map((listed) => listed.id)).toContain(context.id);
    await sbx.restartCodeContext(context);
    expect((await sbx.runCode("own", { context })).error?.name).toBe("NameError");
    await sbx.removeCodeContext(context);
    expect((await sbx.listCodeContexts()).map((listed) => listed.id)).not.toContain(context.id);
    await expect(sbx.runCode("1", { context })).rejects.toThrow(/not found/i);
    await expect(sbx.runCode("1", { language: "r" })).rejects.toThrow(/python and bash/);

    // A bash context starts in its cwd too; a cwd that is no directory is refused, not run elsewhere.
    const shell = await sbx.createCodeContext({ language: "bash", cwd: "/home/user" });
    expect((await sbx.runCode("pwd", { context: shell })).logs.stdout.join("")).toBe("/home/coderunner\n");
    await sbx.removeCodeContext(shell);
    const missing = sbx.createCodeContext({ cwd: "/home/user/no-such-dir" });
    await expect(missing).rejects.toBeInstanceOf(NotFoundError);
    await expect(missing).rejects.toThrow(/cwd \W+\/home\/user\/no-such-dir\W+ is not an existing directory/);
    await expect(sbx.createCodeContext({ language: "bash", cwd: "/etc/hostname" })).rejects.toThrow(/not an existing directory/);
  });

  test("the data plane needs the sandbox's access token; unknown sandboxes and unsupported features say so", async () => {
    const headers = { "E2b-Sandbox-Id": sbx.sandboxId, "E2b-Sandbox-Port": "49999", "content-type": "application/json" };
    const refused = await fetch(`${base}/execute`, { method: "POST", headers, body: JSON.stringify({ code: "1" }) });
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({ code: 401, message: expect.stringContaining("X-Access-Token") });
    const unknown = await fetch(`${base}/health`, { headers: { ...headers, "E2b-Sandbox-Id": "nope" } });
    expect(unknown.status).toBe(502);
    await expect(sbx.createSnapshot()).rejects.toThrow(/not supported/);
    const bad = await fetch(`${base}/v2/sandboxes`, { method: "POST", headers: { "content-type": "application/json" }, body: "{" });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ code: 400 });
  });

  test("commands: foreground with callbacks and envs, non-zero exit as CommandExitError, background then kill, list", async () => {
    const out: string[] = [];
    const err: string[] = [];
    const ran = await sbx.commands.run("echo hello $WHO; echo oops >&2; pwd", { envs: { WHO: "e2b" }, onStdout: (data) => void out.push(data), onStderr: (data) => void err.push(data) });
    expect(ran).toMatchObject({ exitCode: 0, stdout: "hello e2b\n/home/coderunner\n", stderr: "oops\n" });
    expect(out.join("")).toContain("hello e2b");
    expect(err.join("")).toBe("oops\n");
    expect((await sbx.commands.run("pwd", { cwd: "/tmp" })).stdout).toBe("/tmp\n");

    const failed = await sbx.commands.run("echo partial; exit 3").catch((error: unknown) => error);
    expect(failed).toBeInstanceOf(CommandExitError);
    expect((failed as CommandExitError).exitCode).toBe(3);
    expect((failed as CommandExitError).stdout).toBe("partial\n");

    const background = await sbx.commands.run("echo started; sleep 600", { background: true });
    expect((await sbx.commands.list()).map((listed) => listed.pid)).toContain(background.pid);
    expect(await background.kill()).toBe(true);
    const ended = await background.wait().catch((error: unknown) => error);
    expect((ended as CommandExitError).exitCode).toBe(-1);
    expect((await sbx.commands.list()).map((listed) => listed.pid)).not.toContain(background.pid);
    expect(await sbx.commands.kill(999_999)).toBe(false);
    await expect(sbx.pty.create({ cols: 80, rows: 24, onData: () => undefined })).rejects.toThrow(/PTY.*not supported/);
  });

  test("files: write one and many, read, list, exists, getInfo, makeDir, rename, remove; /home/user is the sandbox user's home", async () => {
    expect(await sbx.files.write("/home/user/notes/a.txt", "alpha")).toMatchObject({ name: "a.txt", path: "/home/user/notes/a.txt" });
    expect(await sbx.files.read("/home/user/notes/a.txt")).toBe("alpha");
    expect((await sbx.commands.run("cat ~/notes/a.txt")).stdout).toBe("alpha");
    // /home/user exists in the sandbox too, for commands and code that name it.
    expect((await sbx.commands.run("cat /home/user/notes/a.txt && cd /home/user && pwd -P")).stdout).toBe("alpha/home/coderunner\n");
    expect((await sbx.runCode("open('/home/user/notes/a.txt').read() == 'alpha'")).text).toBe("True");
    const many = await sbx.files.write([
      { path: "/home/user/notes/b.txt", data: "beta" },
      { path: "relative.txt", data: new Blob(["gamma"]) },
    ]);
    expect(many.map((info) => info.path)).toEqual(["/home/user/notes/b.txt", "/home/user/relative.txt"]);
    expect(await sbx.files.read("relative.txt")).toBe("gamma");
    const listed = await sbx.files.list("/home/user/notes");
    expect(listed.map((entry) => [entry.name, entry.type, entry.path])).toEqual([
      ["a.txt", "file", "/home/user/notes/a.txt"],
      ["b.txt", "file", "/home/user/notes/b.txt"],
    ]);
    expect(await sbx.files.exists("/home/user/notes/a.txt")).toBe(true);
    expect(await sbx.files.exists("/home/user/nope")).toBe(false);
    expect(await sbx.files.getInfo("/home/user/notes/a.txt")).toMatchObject({ name: "a.txt", type: "file", size: 5 });
    expect(await sbx.files.makeDir("/home/user/made/deep")).toBe(true);
    expect(await sbx.files.makeDir("/home/user/made/deep")).toBe(false);
    expect(await sbx.files.rename("/home/user/notes/b.txt", "/home/user/made/b.txt")).toMatchObject({ path: "/home/user/made/b.txt" });
    await sbx.files.remove("/home/user/made");
    expect(await sbx.files.exists("/home/user/made")).toBe(false);
    await expect(sbx.files.read("/home/user/nope")).rejects.toThrow(/no such file/);
  });

  test("commands: stdin written and closed, a line read from it, 200 KB through it; connect to a running command; stdin to a finished or stdin-less command is an E2B error", async () => {
    const cat = await sbx.commands.run("cat", { background: true, stdin: true });
    await cat.sendStdin("hello\n");
    await sbx.commands.sendStdin(cat.pid, new TextEncoder().encode("world\n"));
    await cat.closeStdin();
    expect((await cat.wait()).stdout).toBe("hello\nworld\n");
    await expect(sbx.commands.sendStdin(cat.pid, "late")).rejects.toBeInstanceOf(NotFoundError);
    await expect(sbx.commands.closeStdin(cat.pid)).rejects.toBeInstanceOf(NotFoundError);

    const greet = await sbx.commands.run('read name; echo "hi $name"', { background: true, stdin: true });
    await greet.sendStdin("e2b\n");
    expect((await greet.wait()).stdout).toBe("hi e2b\n");

    const count = await sbx.commands.run("wc -c", { background: true, stdin: true });
    await count.sendStdin("x".repeat(200_000));
    await count.closeStdin();
    expect((await count.wait()).stdout.trim()).toBe("200000");

    const earlier: string[] = [];
    const ticker = await sbx.commands.run("for i in $(seq 1 300); do echo tick $i; sleep 0.1; done", { background: true, onStdout: (data) => void earlier.push(data) });
    await expect(ticker.sendStdin("x")).rejects.toThrow(/stdin is not open/);
    await arrived(() => earlier.join("").includes("tick 2\n"), () => earlier.join(""));
    // Lines out before connecting (the original handle still gets every line).
    const before = earlier.join("").split("\n").filter(Boolean);
    const seen: string[] = [];
    const joined = await sbx.commands.connect(ticker.pid, { onStdout: (data) => void seen.push(data) });
    expect(joined.pid).toBe(ticker.pid);
    await arrived(() => seen.join("").split("\n").length > 3, () => seen.join(""));
    // Output from the moment of connecting on, not the lines already gone by.
    const after = seen.join("").split("\n").filter(Boolean);
    expect(after.filter((line) => before.includes(line))).toEqual([]);
    expect(await joined.kill()).toBe(true);
    expect(((await joined.wait().catch((error: unknown) => error)) as CommandExitError).exitCode).toBe(-1);
    await expect(sbx.commands.connect(ticker.pid)).rejects.toBeInstanceOf(NotFoundError);
  });

  test("files.watchDir: create, write, rename, remove events, recursive or not, stop; a missing directory or a file is an E2B error", async () => {
    await sbx.files.makeDir("/home/user/watched/sub");
    const events: FilesystemEvent[] = [];
    const shown = () => JSON.stringify(events.map((event) => [event.type, event.name]));
    const has = (type: string, name: string) => events.some((event) => event.type === type && event.name === name);
    const handle = await sbx.files.watchDir("/home/user/watched", (event) => void events.push(event));
    await sbx.files.write("/home/user/watched/a.txt", "one");
    await sbx.commands.run("cd /home/user/watched && echo more >> a.txt && mv a.txt b.txt && rm b.txt && touch sub/deep.txt");
    await arrived(() => has("remove", "b.txt"), shown);
    for (const [type, name] of [["create", "a.txt"], ["write", "a.txt"], ["rename", "a.txt"], ["create", "b.txt"]]) expect(has(type!, name!)).toBe(true);
    expect(events.some((event) => event.name.startsWith("sub/"))).toBe(false);
    // E2B's own example: write a file, see WRITE.
    await sbx.files.write("/home/user/watched/c.txt", "hello");
    await arrived(() => has("write", "c.txt"), shown);
    expect(has("create", "c.txt")).toBe(true);
    await handle.stop();
    const before = events.length;
    await sbx.files.write("/home/user/watched/after-stop.txt", "x");
    await Bun.sleep(300);
    expect(events.length).toBe(before);

    const deep: FilesystemEvent[] = [];
    const recursive = await sbx.files.watchDir("/home/user/watched", (event) => void deep.push(event), { recursive: true });
    await sbx.files.write("/home/user/watched/sub/deeper.txt", "x");
    await sbx.files.makeDir("/home/user/watched/new");
    await arrived(() => deep.some((event) => event.name === "new" && event.type === "create"), () => JSON.stringify(deep));
    await sbx.commands.run("touch /home/user/watched/new/inside.txt");
    await arrived(() => deep.some((event) => event.name === "new/inside.txt" && event.type === "create"), () => JSON.stringify(deep));
    expect(deep.some((event) => event.name === "sub/deeper.txt" && event.type === "create")).toBe(true);
    await recursive.stop();

    await expect(sbx.files.watchDir("/home/user/no-such-dir", () => undefined)).rejects.toBeInstanceOf(FileNotFoundError);
    await expect(sbx.files.watchDir("/home/user/watched/sub/deeper.txt", () => undefined)).rejects.toBeInstanceOf(InvalidArgumentError);
    await sbx.files.remove("/home/user/watched");
  });

  test("pause freezes a sandbox, memory and all; its data plane then says so; connect resumes it where it was", async () => {
    await sbx.runCode("paused_value = 41");
    const counter = await sbx.commands.run("while true; do echo tick >> ~/ticks; sleep 0.05; done", { background: true });
    const ticks = async () => Number((await sbx.commands.run("cat ~/ticks 2>/dev/null | wc -l")).stdout.trim());
    await until("the counter's first tick", async () => (await ticks()) > 0);
    await sbx.setTimeout(2000);
    expect(await sbx.pause()).toBe(true);
    expect((await sbx.getInfo()).state).toBe("paused");
    expect(await sbx.pause()).toBe(false);
    const query = (state: "running" | "paused") => Sandbox.list({ query: { state: [state], metadata: { run: String(process.pid) } } }).nextItems();
    expect((await query("paused")).map((item) => item.sandboxId)).toEqual([sbx.sandboxId]);
    expect((await query("running")).map((item) => item.sandboxId)).not.toContain(sbx.sandboxId);
    await expect(sbx.runCode("1")).rejects.toThrow(/paused/);
    // Its 2 s timeout does not run out while it is paused (the host's sweep runs every second).
    await Bun.sleep(3000);
    expect((await sbx.getInfo()).state).toBe("paused");
    const resumed = await Sandbox.connect(sbx.sandboxId, { timeoutMs: 600_000 });
    expect((await sbx.getInfo()).state).toBe("running");
    expect((await resumed.runCode("paused_value + 1")).text).toBe("42");
    // The background command was frozen, not killed: it goes on counting.
    const before = await ticks();
    await Bun.sleep(500);
    expect(await ticks()).toBeGreaterThan(before);
    await counter.kill();
  });

  test("onTimeout pause: the timeout pauses instead of killing; autoResume wakes it on its next call; a paused sandbox can be killed", async () => {
    const napper = await open(Sandbox.create({ ...slow, timeoutMs: 2000, lifecycle: { onTimeout: "pause", autoResume: true } }));
    await napper.runCode("kept = 'here'");
    expect((await napper.getInfo()).lifecycle).toEqual({ onTimeout: "pause", autoResume: true });
    await until("its timeout to pause it", async () => (await napper.getInfo()).state === "paused", { timeoutMs: 20_000, everyMs: 200 });
    expect((await napper.runCode("kept")).text).toBe("'here'");
    expect((await napper.getInfo()).state).toBe("running");
    expect(await napper.pause()).toBe(true);
    await napper.kill();
    expect(await napper.isRunning()).toBe(false);
    await expect(Sandbox.connect(napper.sandboxId)).rejects.toThrow(/not found/i);
  });

  test("two sandboxes cannot see each other's files; kill, then connect is not found", async () => {
    const other = await open(CoreSandbox.create({ ...slow }));
    await sbx.files.write("/home/user/mine.txt", "A");
    expect(await other.files.exists("/home/user/mine.txt")).toBe(false);
    await other.files.write("/home/user/theirs.txt", "B");
    expect(await sbx.files.exists("/home/user/theirs.txt")).toBe(false);
    expect(await sbx.commands.run("cat ~/theirs.txt").catch((error: unknown) => error)).toBeInstanceOf(CommandExitError);
    await other.kill();
    expect(await other.isRunning()).toBe(false);
    await expect(CoreSandbox.connect(other.sandboxId)).rejects.toThrow(/not found/i);
    expect(await CoreSandbox.kill(other.sandboxId)).toBe(false);
  });

  test("under Node: an agent script using the unchanged SDKs, pointed here by the three variables alone", async () => {
    // The SDKs' code is the same under Node, but Node's fetch (undici) is not Bun's: streamed NDJSON and
    // Connect streams are read by another HTTP client.
    // Spawned, not spawnSync: the host answering it runs in this process.
    const node = Bun.spawn(["node", join(import.meta.dir, "e2b-node/agent.mjs")], {
      cwd: join(import.meta.dir, "../.."),
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", E2B_API_URL: base, E2B_SANDBOX_URL: base, E2B_API_KEY: "any-string" },
      stdout: "pipe",
      stderr: "pipe",
      timeout: 170_000,
    });
    const [stdout, stderr, exitCode] = await Promise.all([new Response(node.stdout).text(), new Response(node.stderr).text(), node.exited]);
    expect(exitCode, stderr).toBe(0);
    expect(JSON.parse(stdout)).toEqual({
      state: "2",
      streamed: ["stderr err", "stdout out"],
      result: "{'a': 1}",
      error: "ZeroDivisionError",
      command: { exitCode: 0, stdout: "line 1\nline 2\nline 3\n/home/coderunner\n", streamed: "line 1\nline 2\nline 3\n/home/coderunner\n" }, // the home E2B calls /home/user
      exit: 3,
      killed: true,
      file: "written by node",
      listed: true,
      after: "SandboxNotFoundError",
    });
  });

  test("a sandbox whose timeout passes is removed; its data plane then answers as E2B's does for a sandbox that is gone", async () => {
    await sbx.setTimeout(1000);
    // The host's sweep removes it once the timeout passes (it checks every second).
    await until("the sweep to remove it", async () => !(await sbx.isRunning()), { timeoutMs: 30_000, everyMs: 200 });
    await expect(sbx.runCode("1")).rejects.toThrow(/sandbox timeout/);
    await expect(Sandbox.connect(sbx.sandboxId)).rejects.toThrow(/not found/i);
  });

  test("a host that restarts knows its E2B sandboxes again: the same id, access token, contexts, timeout and state", async () => {
    const keeper = await open(Sandbox.create({ ...slow, timeoutMs: 600_000 }));
    await keeper.runCode("survivor = 'yes'");
    const context = await keeper.createCodeContext();
    await keeper.runCode("in_context = 7", { context });
    const { endAt } = await keeper.getInfo();
    await h.restart();
    // The same port, so the SDK's object goes on as it was.
    expect((await keeper.runCode("survivor")).text).toBe("'yes'");
    expect((await keeper.runCode("in_context", { context })).text).toBe("7");
    expect((await keeper.getInfo()).endAt).toEqual(endAt);
    expect(await keeper.files.exists("/home/user")).toBe(true);
  });
});
