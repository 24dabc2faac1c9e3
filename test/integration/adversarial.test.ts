/**
 * What an agent's worst code does to a sandbox, against the REAL Docker Engine, through the host's
 * REST API: fork and thread bombs, a memory bomb, output floods, an infinite loop, a run that
 * ignores the interrupt, a disk fill, processes left behind, and a session killing every process it
 * can see.
 * Each case asserts that the host answers /health, that another session (the victim) keeps its
 * state, that the offending session says clearly what happened and goes on (its files kept, its
 * container never restarted), and, at the end, that nothing is orphaned. Own instance name and
 * port 0: it never touches a user's CodeRunner.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { DockerClient } from "../../src/docker/docker-client";
import { engineAnswers } from "../helpers/image";
import { startTestHost, type TestHost } from "../helpers/sandbox-host";

setDefaultTimeout(180_000);

const engineUp = await engineAnswers(new DockerClient());
const NAME = `crad-${process.pid}`;
const MiB = 1024 * 1024;

let h: TestHost;
/** A session that is never attacked: its state must survive every case. */
let victim: string;
const call: TestHost["call"] = (...args) => h.call(...args);
const run: TestHost["run"] = (...args) => h.run(...args);
const newSession: TestHost["newSession"] = (...args) => h.newSession(...args);
const containerOf: TestHost["containerOf"] = (session) => h.containerOf(session);
const docker = { inspectContainer: (id: string) => h.docker.inspectContainer(id) };

beforeAll(async () => {
  if (!engineUp) return;
  h = await startTestHost(NAME);
  victim = await newSession();
  await run(victim, "x = 41");
}, 600_000);

afterAll(async () => {
  if (!engineUp) return;
  await h?.stop();
});

/** The sandbox container's start time and restart count: a container whose server died and came back shows it here. */
const startsOf = async (session: string) => {
  const state = (await docker.inspectContainer(containerOf(session).id))!;
  return { running: state.State.Running, startedAt: state.State.StartedAt, restarts: state.RestartCount };
};

/**
 * Runs `attack` in a fresh session while the victim answers; afterwards the host is healthy, the
 * victim's state is kept, and the attacking session goes on with its files, in the same container.
 */
async function survives(attack: string, options: { language?: string; timeout?: number } = {}) {
  // Seconds each step took, printed by the cases: a slow step on a loaded machine is then named.
  const steps: string[] = [];
  let last = performance.now();
  const step = (name: string) => {
    steps.push(`${name} ${((performance.now() - last) / 1000).toFixed(1)}`);
    last = performance.now();
  };
  const a = await newSession();
  await run(a, "open('kept.txt', 'w').write('still here')");
  const before = await startsOf(a);
  const started = performance.now();
  const attacked = call("POST", "/execute", { session_id: a, timeout: options.timeout ?? 10, language: options.language ?? "python", command: attack });
  await Bun.sleep(1500);
  const during = await run(victim, "print(x + 1)");
  expect(during.stdout, JSON.stringify(during)).toBe("42\n");
  const result = await attacked;
  expect(result.status, JSON.stringify(result.body)).toBe(200);
  const seconds = (performance.now() - started) / 1000;
  expect((await call("GET", "/health")).body.status).toBe("healthy");
  const later = await run(victim, "print(x)");
  expect(later.stdout, JSON.stringify(later)).toBe("41\n");
  step("attack");
  const after = await run(a, "print('after the attack')");
  step("next run");
  if (after.stdout !== "after the attack\n") console.log(Bun.spawnSync(["docker", "logs", "--tail", "40", containerOf(a).id]).stderr.toString());
  expect(after.stdout, JSON.stringify({ attack: result.body, after })).toBe("after the attack\n");
  const kept = await run(a, "print(open('kept.txt').read())");
  expect(kept.stdout, JSON.stringify(kept)).toBe("still here\n");
  expect(await startsOf(a)).toEqual(before);
  step("checks");
  return { a, result: result.body, after, seconds, steps };
}


describe.skipIf(!engineUp)("an agent's worst code costs at most its own run", () => {
  test("a fork bomb in one session leaves the others running, their state kept; its own session goes on", async () => {
    const { a, result, seconds, steps } = await survives("import os\nwhile True:\n    try: os.fork()\n    except OSError: pass");
    expect(result.status).toBe("timeout");
    console.log(`fork bomb (timeout 10 s) answered after ${seconds.toFixed(1)} s, state_lost ${result.state_lost}; steps (s): ${steps.join(", ")}`);
    // Nothing the run forked keeps the budget: a shell and a file helper start at once.
    const afterwards = performance.now();
    const shell = await run(a, "echo shell ok", { language: "bash" });
    expect(shell.stdout, JSON.stringify(shell)).toBe("shell ok\n");
    const listing = await call("GET", `/files?session_id=${a}&path=.`);
    expect(listing.status, JSON.stringify(listing.body)).toBe(200);
    // ps forks: it runs only if the bomb's processes (zombies included) gave the budget back.
    const left = await run(a, "ps -eo uid=,stat=,ppid=,comm= | awk -v me=$(id -u) '$1 == me'", { language: "bash" });
    expect(left.exit_code, JSON.stringify(left)).toBe(0);
    expect(left.stdout.trim().split("\n").length, left.stdout).toBeLessThan(10);
    console.log(`fork bomb: shell, listing and ps took ${((performance.now() - afterwards) / 1000).toFixed(1)} s`);
    // Closing the bombed session removes its container and every process in it.
    const id = containerOf(a).id;
    expect((await call("DELETE", `/sessions/${a}`)).body).toEqual({ success: true });
    expect(await docker.inspectContainer(id)).toBeUndefined();
    expect((await call("POST", "/execute", { command: "1", session_id: a })).status).toBe(410);
  });

  test("a thread bomb costs only its own run; the kernel keeps its state", async () => {
    const { a, result, after, steps } = await survives("import threading, time\nkept = 'yes'\nwhile True:\n    try: threading.Thread(target=time.sleep, args=(100,)).start()\n    except RuntimeError: pass");
    console.log(`thread bomb: steps (s): ${steps.join(", ")}; the next run's state_lost ${after.state_lost}`);
    expect(result).toMatchObject({ status: "timeout", state_lost: false });
    const kept = await run(a, "print(kept)");
    expect(kept.stdout, JSON.stringify({ attack: result, after, kept })).toBe("yes\n");
  });

  test("memory_mb and vcpu_count are the sandbox's limits; a memory bomb costs only its own kernel", async () => {
    const id = await newSession({ memory_mb: 512, vcpu_count: 0.5 });
    const inspected = (await docker.inspectContainer(containerOf(id).id))!;
    expect(inspected.HostConfig.Memory).toBe(512 * MiB);
    expect(inspected.HostConfig.NanoCpus).toBe(0.5e9);
    const inside = await run(
      id,
      "cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes; cat /sys/fs/cgroup/cpu.max 2>/dev/null || echo $(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us) $(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us)",
      { language: "bash" },
    );
    expect(inside.stdout.trim().split("\n")).toEqual([String(512 * MiB), "50000 100000"]);
    const usage = await call("GET", `/v1/sessions/usage/${id}`);
    expect(usage.body.sandbox).toMatchObject({ memory_limit_mb: 512, cpu_limit: 0.5 });
    expect(usage.body.memory_bytes).toBeGreaterThan(10 * MiB);
    const other = await newSession();
    await run(other, "y = 7");
    const bomb = await run(id, "blocks = []\nwhile True:\n    blocks.append(bytearray(50 * 1024 * 1024))", { timeout: 60 });
    expect(bomb.status).not.toBe("ok");
    expect((await call("GET", "/health")).body.status).toBe("healthy");
    expect((await run(id, "print('after the bomb')")).stdout).toBe("after the bomb\n");
    expect((await run(other, "print(y)")).stdout).toBe("7\n");
  });

  test("past the disk cap writes fail inside the sandbox, and the host's disk holds only what was written", async () => {
    const id = await newSession();
    const result = await run(id, "dd if=/dev/zero of=big bs=1M count=400 2>&1 | grep -v records; touch /usr/local/evil 2>&1; echo end", { language: "bash" });
    expect(result.stdout).toContain("No space left on device");
    expect(result.stdout).toMatch(/Read-only file system|Permission denied/);
    if (h.host.backend.diskCap.mechanism === "loop") {
      const image = join(h.diskDir, `${containerOf(id).name}.img`);
      const allocated = Number(Bun.spawnSync(["du", "-B1", image]).stdout.toString().split("\t")[0]);
      expect(allocated).toBeLessThan(320 * MiB);
    }
    // Space comes back when the file goes.
    expect((await run(id, "rm big && echo x > small && cat small", { language: "bash" })).stdout).toBe("x\n");
  });


  test("an infinite loop is interrupted at its timeout; the session keeps its variables", async () => {
    const { a, result, seconds } = await survives("spin = 'kept'\nwhile True:\n    pass", { timeout: 3 });
    expect(result).toMatchObject({ status: "timeout", state_lost: false });
    expect((await run(a, "print(spin)")).stdout).toBe("kept\n");
    console.log(`infinite loop (timeout 3 s) answered after ${seconds.toFixed(2)} s`);
  });

  test("a run that ignores the interrupt is answered by its deadline; the next run says the kernel was replaced", async () => {
    const { result, after, seconds } = await survives("import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    time.sleep(1)", { timeout: 3 });
    expect(result).toMatchObject({ status: "timeout", state_lost: false });
    expect(result.stderr).toContain("could not wait for the Python kernel to stop");
    expect(after.state_lost).toBe(true);
    expect(after.stderr).toContain("so its Python kernel was replaced");
    console.log(`a run ignoring the interrupt (timeout 3 s) answered after ${seconds.toFixed(2)} s`);
  });

  test("an output flood answers the first MiB, truncated, and keeps the session's state, in Python and bash", async () => {
    const { a, result } = await survives("kept = 'yes'\nwhile True:\n    print('x' * 10000)", { timeout: 5 });
    expect(result).toMatchObject({ status: "timeout", truncated: true, state_lost: false });
    expect(result.stdout.length).toBeGreaterThan(1_000_000);
    expect(result.stdout.length).toBeLessThanOrEqual(MiB);
    expect((await run(a, "print(kept)")).stdout).toBe("yes\n");
    const bash = await run(a, "export KEPT=yes; yes", { language: "bash", timeout: 5 });
    expect(bash).toMatchObject({ status: "timeout", truncated: true, state_lost: false });
    expect(bash.stdout.length).toBeGreaterThan(1_000_000);
    expect((await run(a, "echo $KEPT", { language: "bash" })).stdout).toBe("yes\n");
  });

  test("a bash fork bomb costs only its run; the shell keeps its state", async () => {
    // The classic one-liner returns at once and bombs in the background; waiting keeps it in the run.
    const { a, result } = await survives("export KEPT=yes\nbomb() { bomb | bomb & }; bomb; sleep 60", { language: "bash", timeout: 8 });
    expect(result).toMatchObject({ status: "timeout", state_lost: false });
    expect((await run(a, "echo $KEPT", { language: "bash" })).stdout).toBe("yes\n");
    expect((await run(a, "echo shell ok", { language: "bash" })).stdout).toBe("shell ok\n");
    expect(Number((await run(a, "ps -eo uid= | grep -c \"^ *$(id -u)$\"", { language: "bash" })).stdout)).toBeLessThan(10);
  });

  test("a session that kills every process it may signal loses only its own kernel, and says so", async () => {
    // kill(-1) spares its caller: the shell lives on, everything else of the sandbox user dies.
    const { a, result } = await survives("import subprocess\nkept = 'gone soon'\nprint(subprocess.run(['bash', '-c', 'kill -9 -1; echo never'], capture_output=True).returncode)");
    expect(result).toMatchObject({ status: "error", state_lost: true, error: { ename: "KernelDied" } });
    expect((await run(a, "print('kept' in globals())")).stdout).toBe("False\n");
    expect((await run(a, "echo bash again", { language: "bash" })).stdout).toBe("bash again\n");
    expect((await call("GET", `/files?session_id=${a}&path=.`)).status).toBe(200);
  });

  test("processes left behind are listed in usage, and closing the session leaves none", async () => {
    const a = await newSession();
    await run(a, "nohup sleep 1001 >/dev/null 2>&1 &", { language: "bash" });
    await run(a, "import subprocess\nsubprocess.Popen(['sleep', '1002'], start_new_session=True)\nsubprocess.Popen(['python3', '-m', 'http.server', '0', '--bind', '127.0.0.1'], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)");
    const usage = await call("GET", `/v1/sessions/usage/${a}`);
    const commands = (usage.body.processes as { command: string }[]).map((entry) => entry.command);
    expect(commands).toEqual(expect.arrayContaining(["sleep 1001", "sleep 1002", expect.stringContaining("http.server")]));
    const container = containerOf(a).id;
    expect((await call("DELETE", `/sessions/${a}`)).body).toEqual({ success: true });
    expect(await docker.inspectContainer(container)).toBeUndefined();
  });

  test("nothing is orphaned: once the cases' sessions are closed, only the default sandbox and the warm pool remain", async () => {
    for (const { id } of h.host.manager.list()) expect((await call("DELETE", `/sessions/${id}`)).status).toBe(200);
    expect(h.host.manager.size).toBe(0);
    const containers = await h.containersOfInstance(NAME);
    expect(containers.length).toBeLessThanOrEqual(2);
    expect((await call("GET", "/health")).body.status).toBe("healthy");
  });
});
