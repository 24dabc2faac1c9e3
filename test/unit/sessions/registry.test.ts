import { describe, expect, test } from "bun:test";
import { AppError } from "../../../src/errors";
import type { Logger } from "../../../src/log";
import { DEFAULT_ID, RegisteredSession, SessionRegistry, SweepLoop, sweepInterval } from "../../../src/sessions/registry";
import { until } from "../../helpers/poll";

/** A session with an optional lifetime, as code sessions have. */
class TestSession extends RegisteredSession {
  constructor(
    id: string,
    now: number,
    private readonly lifetimeMs?: number,
  ) {
    super(id, now);
  }

  override get endsAt(): Date | undefined {
    return this.lifetimeMs === undefined ? undefined : new Date(this.createdAt.getTime() + this.lifetimeMs);
  }
}

function recordingLog() {
  const lines: string[] = [];
  const log: Logger = {
    debug: () => undefined,
    info: (line) => void lines.push(line),
    warn: (line) => void lines.push(`warn: ${line}`),
    error: (line) => void lines.push(`error: ${line}`),
  };
  return { lines, log };
}

function setup(options: { idleSeconds?: number; maxSessions?: number; sweepMs?: number; failExpire?: boolean } = {}) {
  let now = 1_000_000;
  const ended: string[] = [];
  const created: TestSession[] = [];
  let afterSweeps = 0;
  const { lines, log } = recordingLog();
  const registry: SessionRegistry<TestSession> = new SessionRegistry<TestSession>({
    noun: "test session",
    idleSeconds: options.idleSeconds ?? 60,
    maxSessions: options.maxSessions ?? 10,
    log,
    clock: () => now,
    sweepMs: options.sweepMs,
    missing: (id) => new AppError("SESSION_NOT_FOUND", `no ${id}`),
    createDefault: async () => {
      await Bun.sleep(1);
      const session = open(DEFAULT_ID);
      created.push(session);
      return session;
    },
    expire: async (session) => {
      ended.push(session.id);
      registry.remove(session);
      if (options.failExpire) throw new Error("cannot close");
    },
    afterSweep: () => void afterSweeps++,
  });
  const open = (id: string, lifetimeMs?: number) => {
    registry.checkRoom();
    const session = new TestSession(id, now, lifetimeMs);
    registry.add(session);
    return session;
  };
  return { registry, open, ended, created, lines, advance: (ms: number) => (now += ms), afterSweeps: () => afterSweeps };
}

describe("SessionRegistry", () => {
  test("reading a session (get, find, list) is not a use: a session only read idles out", async () => {
    const { registry, open, advance, ended } = setup({ idleSeconds: 10 });
    const read = open("read");
    for (let second = 0; second < 10; second++) {
      advance(1_000);
      if (second < 9) {
        expect(registry.get("read")).toBe(read);
        expect(registry.find("read")).toBe(read);
        expect(registry.list()).toEqual([read]);
      }
    }
    expect(read.lastUsedAt).toBe(read.createdAt.getTime());
    expect(() => registry.get("read")).toThrow(expect.objectContaining({ code: "SESSION_NOT_FOUND" }));
    await until("the expired session to be closed", () => ended.length === 1);
    expect(ended).toEqual(["read"]);
  });

  test("resolve, touch and the default session are uses: they keep a session alive", async () => {
    const { registry, open, advance } = setup({ idleSeconds: 10 });
    const named = open("named");
    const touched = open("touched");
    const fallback = await registry.defaultSession();
    for (let step = 0; step < 5; step++) {
      advance(9_000);
      expect(await registry.resolve("named")).toBe(named);
      registry.touch(touched);
      expect(await registry.resolve(undefined)).toBe(fallback);
    }
    await registry.sweep();
    expect(registry.list().map((session) => session.id)).toEqual(["named", "touched", DEFAULT_ID]);
    expect(named.lastUsedAt).toBe(1_045_000);
  });

  test("resolving an unknown id is the owner's error, and uses nothing", async () => {
    const { registry } = setup();
    await expect(registry.resolve("nope")).rejects.toMatchObject({ code: "SESSION_NOT_FOUND", message: "no nope" });
    expect(registry.size).toBe(0);
  });

  test("the default session is created once for concurrent callers, and again once it is gone", async () => {
    const { registry, created } = setup();
    const [a, b, c] = await Promise.all([registry.defaultSession(), registry.resolve(null), registry.resolve("")]);
    expect(a).toBe(b);
    expect(a).toBe(c);
    expect(created).toHaveLength(1);
    registry.remove(a!);
    const again = await registry.defaultSession();
    expect(again).not.toBe(a);
    expect(created).toHaveLength(2);
  });

  test("a session idle for exactly the limit has expired; one a millisecond short has not", () => {
    const { registry, open, advance } = setup({ idleSeconds: 10 });
    const session = open("s");
    advance(9_999);
    expect(registry.expired(session)).toBe(false);
    advance(1);
    expect(registry.expired(session)).toBe(true);
  });

  test("a busy session does not idle out, however long its work takes; its end counts as use", () => {
    const { registry, open, advance } = setup({ idleSeconds: 10 });
    const session = open("s");
    registry.startWork(session);
    registry.startWork(session);
    advance(60_000);
    expect(registry.find("s")).toBe(session);
    registry.endWork(session);
    advance(60_000);
    expect(registry.find("s")).toBe(session); // one piece of work still runs
    registry.endWork(session);
    expect(session.lastUsedAt).toBe(1_120_000);
    advance(9_999);
    expect(registry.find("s")).toBe(session);
    advance(1);
    expect(registry.find("s")).toBeUndefined();
  });

  test("a lifetime ends a session however much it is used, busy or not", () => {
    const { registry, open, advance } = setup({ idleSeconds: 10 });
    const session = open("s", 5_000);
    registry.startWork(session);
    advance(4_999);
    registry.touch(session);
    expect(registry.find("s")).toBe(session);
    advance(1);
    expect(registry.find("s")).toBeUndefined();
  });

  test("a clock that steps back never makes a session look older", () => {
    const { registry, open, advance } = setup();
    const session = open("s");
    advance(5_000);
    registry.touch(session);
    advance(-3_000);
    registry.touch(session);
    expect(session.lastUsedAt).toBe(1_005_000);
  });

  test("the sweep ends only expired sessions, says so, then runs afterSweep; a failed close is logged, not thrown", async () => {
    const { registry, open, advance, ended, lines, afterSweeps } = setup({ idleSeconds: 10, failExpire: true });
    open("old");
    advance(6_000);
    open("young");
    advance(4_000);
    await registry.sweep();
    expect(ended).toEqual(["old"]);
    expect(registry.list().map((session) => session.id)).toEqual(["young"]);
    expect(lines).toEqual(["Closing test session old: unused for 10 s or past its lifetime.", "warn: Closing test session old: cannot close"]);
    expect(afterSweeps()).toBe(1);
  });

  test("at the limit, adding is a 429 naming the kind of session, counting sessions still being created", () => {
    const { registry, open } = setup({ maxSessions: 2 });
    open("a");
    expect(() => registry.checkRoom(1)).toThrow(expect.objectContaining({ code: "TOO_MANY_SESSIONS", status: 429, message: "At most 2 test sessions may be open; close one first." }));
    open("b");
    expect(() => open("c")).toThrow(expect.objectContaining({ code: "TOO_MANY_SESSIONS" }));
  });

  test("remove lets go only of the very session held: a replaced one stays", () => {
    const { registry, open } = setup();
    const first = open("s");
    const second = new TestSession("s", 0);
    registry.add(second);
    expect(registry.remove(first)).toBe(false);
    expect(registry.holds(second)).toBe(true);
    expect(registry.remove(second)).toBe(true);
    expect(registry.held("s")).toBeUndefined();
  });

  test("started, it sweeps on its own; stopped, it does not", async () => {
    const { registry, open, advance, ended, afterSweeps } = setup({ idleSeconds: 10, sweepMs: 10 });
    open("s");
    registry.start();
    advance(10_000);
    await until("the periodic sweep to end the idle session", () => ended.length === 1);
    await registry.stop();
    const sweeps = afterSweeps();
    open("t");
    advance(10_000);
    await Bun.sleep(50);
    expect(ended).toEqual(["s"]);
    expect(afterSweeps()).toBe(sweeps);
  });
});

describe("SweepLoop", () => {
  test("never runs a sweep while the previous one is still running", async () => {
    let running = 0;
    let most = 0;
    let sweeps = 0;
    const release = Promise.withResolvers<void>();
    const loop = new SweepLoop(async () => {
      running++;
      most = Math.max(most, running);
      sweeps++;
      await release.promise;
      running--;
    });
    loop.start(5);
    await until("the first sweep", () => sweeps === 1);
    await Bun.sleep(40);
    expect(sweeps).toBe(1);
    release.resolve();
    await until("a second sweep", () => sweeps >= 2);
    await loop.stop();
    expect(most).toBe(1);
  });

  test("sweepInterval is a quarter of the limit, at most a minute, at least 10 ms", () => {
    expect(sweepInterval(600_000)).toBe(60_000);
    expect(sweepInterval(8_000)).toBe(2_000);
    expect(sweepInterval(0)).toBe(10);
  });
});
