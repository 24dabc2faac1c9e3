import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { silentLogger } from "../../../src/log";
import type { KernelPool } from "../../../src/kernels/kernel-pool";
import type { KernelSetup, PythonKernel } from "../../../src/kernels/python-kernel";
import { SessionStore } from "../../../src/kernels/session-store";

/** A kernel that records the setups it was asked to enter. */
function fakeKernel(ran: KernelSetup[]) {
  return { usable: true, prepare: (setup: KernelSetup) => void ran.push(setup), shutdown: async () => {} } as unknown as PythonKernel;
}

function store(oneSession: boolean, ran: KernelSetup[], made: string[]) {
  const pool = { acquire: async () => fakeKernel(ran) } as unknown as KernelPool;
  return new SessionStore({
    pool,
    workspace: "/work/space",
    oneSession,
    idleSeconds: 60,
    maxSessions: 4,
    log: silentLogger,
    directories: { create: (path) => void made.push(path), remove: (path) => void made.push(`-${path}`) },
  });
}

describe("a server of one session (its sandbox's)", () => {
  test("the session works in the workspace itself: no directory made, no setup, files kept on close", async () => {
    const ran: KernelSetup[] = [];
    const made: string[] = [];
    const sessions = store(true, ran, made);
    const session = await sessions.create({});
    expect(session.dir).toBe("/work/space");
    expect(ran).toEqual([]);
    await sessions.close(session.id);
    expect(made).toEqual([]);
  });

  test("an environment of its own is still set in the kernel", async () => {
    const ran: KernelSetup[] = [];
    const sessions = store(true, ran, []);
    await sessions.create({ env: { STAGE: "test" } });
    expect(ran).toEqual([{ cwd: "/work/space", env: { STAGE: "test" } }]);
  });

  test("a working directory of its own: the kernel is moved there; the session's files stay in the workspace", async () => {
    const ran: KernelSetup[] = [];
    const made: string[] = [];
    const sessions = store(true, ran, made);
    const home = tmpdir();
    const session = await sessions.create({ workingDirectory: home });
    expect(session.dir).toBe("/work/space");
    expect(session.cwd).toBe(home);
    expect(ran).toEqual([{ cwd: home, env: {} }]);
    await sessions.close(session.id);
    expect(made).toEqual([]);
  });

  test("a working directory that is missing, relative or a file is refused (422) and no session is made", async () => {
    const ran: KernelSetup[] = [];
    const sessions = store(true, ran, []);
    const file = join(mkdtempSync(join(tmpdir(), "coderunner-unit-")), "file");
    writeFileSync(file, "");
    for (const workingDirectory of ["/no/such/dir", "relative/dir", file]) {
      await expect(sessions.create({ workingDirectory })).rejects.toMatchObject({ code: "VALIDATION_ERROR", status: 422 });
    }
    expect(sessions.size).toBe(0);
    expect(ran).toEqual([]);
    rmSync(dirname(file), { recursive: true, force: true });
  });

  test("a shared server keeps a directory per session, set up in its kernel", async () => {
    const ran: KernelSetup[] = [];
    const made: string[] = [];
    const sessions = store(false, ran, made);
    const session = await sessions.create({});
    expect(session.dir).toBe(`/work/space/sessions/${session.id}`);
    expect(ran).toEqual([{ cwd: `/work/space/sessions/${session.id}`, env: {} }]);
    await sessions.close(session.id);
    expect(made).toEqual([session.dir, `-${session.dir}`]);
  });
});
