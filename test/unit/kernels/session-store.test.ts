import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { KernelPool } from "../../../src/kernels/kernel-pool";
import type { KernelSetup, PythonKernel } from "../../../src/kernels/python-kernel";
import { DEFAULT_SESSION_ID, SessionStore } from "../../../src/kernels/session-store";
import { silentLogger } from "../../../src/log";

/** A kernel that records what it was asked; `usable` can be flipped to simulate death. */
function fakeKernel() {
  return {
    usable: true,
    setup: [] as KernelSetup[],
    shutdowns: 0,
    prepare(setup: KernelSetup) {
      this.setup.push(setup);
    },
    async shutdown() {
      this.shutdowns++;
    },
  };
}
type FakeKernel = ReturnType<typeof fakeKernel>;

function fakePool() {
  const handedOut: FakeKernel[] = [];
  return {
    handedOut,
    /** Changes the next kernel handed out. */
    next: undefined as ((kernel: FakeKernel) => void) | undefined,
    async acquire() {
      const kernel = fakeKernel();
      this.next?.(kernel);
      this.next = undefined;
      handedOut.push(kernel);
      return kernel as unknown as PythonKernel;
    },
  };
}

const dirs: string[] = [];
function store(options: { idleSeconds?: number; maxSessions?: number } = {}) {
  const workspace = mkdtempSync(join(tmpdir(), "coderunner-unit-"));
  dirs.push(workspace);
  let now = 1_000_000;
  const pool = fakePool();
  const sessions = new SessionStore({
    pool: pool as unknown as KernelPool,
    workspace,
    idleSeconds: options.idleSeconds ?? 60,
    maxSessions: options.maxSessions ?? 10,
    log: silentLogger,
    clock: () => now,
  });
  return { sessions, pool, workspace, advance: (ms: number) => (now += ms) };
}

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe("SessionStore", () => {
  test("a session gets its own directory and a kernel set up to work there with its env", async () => {
    const { sessions, pool, workspace } = store();
    const session = await sessions.create({ env: { A: "1" } });
    expect(session.dir).toBe(join(workspace, "sessions", session.id));
    expect(existsSync(session.dir)).toBe(true);
    expect(pool.handedOut).toHaveLength(1);
    expect(pool.handedOut[0]!.setup).toEqual([{ cwd: session.dir, env: { A: "1" } }]);
  });

  test("bash sessions take no kernel until Python is used", async () => {
    const { sessions, pool } = store();
    const session = await sessions.create({ language: "bash" });
    expect(pool.handedOut).toHaveLength(0);
    await sessions.kernelFor(session);
    expect(pool.handedOut).toHaveLength(1);
  });

  test("unknown ids are a 404 AppError", () => {
    const { sessions } = store();
    expect(() => sessions.get("nope")).toThrow(expect.objectContaining({ code: "SESSION_NOT_FOUND", status: 404 }));
  });

  test("the default session is created once, even by concurrent callers", async () => {
    const { sessions, pool } = store();
    const [a, b] = await Promise.all([sessions.defaultSession(), sessions.defaultSession()]);
    expect(a).toBe(b);
    expect(a.id).toBe(DEFAULT_SESSION_ID);
    expect(pool.handedOut).toHaveLength(1);
    expect(await sessions.resolve(undefined)).toBe(a);
  });

  test("idle sessions expire and their kernel is shut down; use keeps them alive", async () => {
    const { sessions, pool, advance } = store({ idleSeconds: 10 });
    const used = await sessions.create();
    const idle = await sessions.create();
    advance(6_000);
    sessions.touch(used);
    advance(6_000);
    await sessions.sweep();
    expect(sessions.find(used.id)).toBe(used);
    expect(sessions.find(idle.id)).toBeUndefined();
    expect(existsSync(idle.dir)).toBe(false);
    expect(pool.handedOut[1]!.shutdowns).toBe(1);
  });

  test("reading a session (its status, its usage, a listing) does not keep it alive; naming it for work does", async () => {
    const { sessions, advance } = store({ idleSeconds: 10 });
    const read = await sessions.create();
    const worked = await sessions.create();
    advance(9_000);
    expect(sessions.get(read.id)).toBe(read);
    expect(sessions.list()).toHaveLength(2);
    expect(sessions.leftovers(read)).toEqual([]);
    expect(await sessions.resolve(worked.id)).toBe(worked);
    advance(1_000);
    expect(sessions.find(read.id)).toBeUndefined();
    expect(sessions.find(worked.id)).toBe(worked);
    expect(worked.lastUsedAt).toBe(1_009_000);
  });

  test("a session with a run queued or under way does not idle out", async () => {
    const { sessions, advance } = store({ idleSeconds: 10 });
    const session = await sessions.create();
    const gate = Promise.withResolvers<void>();
    const running = session.queue.run(() => gate.promise);
    advance(60_000);
    await sessions.sweep();
    expect(sessions.find(session.id)).toBe(session);
    gate.resolve();
    await running;
    expect(sessions.find(session.id)).toBeUndefined();
  });

  test("an expired default session is replaced by a fresh one, which its closing leaves alone", async () => {
    const { sessions, pool, advance } = store({ idleSeconds: 10 });
    const old = await sessions.defaultSession();
    advance(10_000);
    const fresh = await sessions.defaultSession();
    expect(fresh).not.toBe(old);
    await Bun.sleep(0);
    expect(old.closed).toBe(true);
    expect(pool.handedOut[0]!.shutdowns).toBe(1);
    expect(fresh.closed).toBe(false);
    expect(sessions.find(DEFAULT_SESSION_ID)).toBe(fresh);
  });

  test("a lifetime bounds a session however much it is used", async () => {
    const { sessions, advance } = store();
    const session = await sessions.create({ lifetimeSeconds: 5 });
    expect(session.endsAt?.getTime()).toBe(session.createdAt.getTime() + 5000);
    advance(4_000);
    sessions.touch(session);
    expect(sessions.find(session.id)).toBe(session);
    advance(1_000);
    expect(sessions.find(session.id)).toBeUndefined();
  });

  test("at the limit, creating answers 429", async () => {
    const { sessions } = store({ maxSessions: 2 });
    await sessions.create();
    await sessions.create();
    await expect(sessions.create()).rejects.toMatchObject({ code: "TOO_MANY_SESSIONS", status: 429 });
  });

  test("a dead kernel is replaced on next use, with a notice for the next result", async () => {
    const { sessions, pool } = store();
    const session = await sessions.create();
    pool.handedOut[0]!.usable = false;
    const kernel = await sessions.kernelFor(session);
    expect(kernel as unknown).toBe(pool.handedOut[1]);
    expect(pool.handedOut[0]!.shutdowns).toBe(1);
    expect(session.pendingNotice).toContain("had died");
  });

  test("a replacement kernel is set up for the session again", async () => {
    const { sessions, pool } = store();
    const session = await sessions.create({ env: { A: "1" } });
    pool.handedOut[0]!.usable = false;
    await sessions.kernelFor(session);
    expect(pool.handedOut).toHaveLength(2);
    expect(pool.handedOut[1]!.setup).toEqual([{ cwd: session.dir, env: { A: "1" } }]);
  });

  test("closing cancels queued runs with SESSION_GONE", async () => {
    const { sessions } = store();
    const session = await sessions.create();
    const running = session.queue.run(() => Bun.sleep(20));
    const queued = session.queue.run(async () => "never");
    await sessions.close(session.id);
    await expect(queued).rejects.toMatchObject({ code: "SESSION_GONE" });
    await running;
    expect(await sessions.close(session.id)).toBe(false);
  });
});
