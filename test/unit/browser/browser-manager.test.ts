import { describe, expect, test } from "bun:test";
import { until } from "../../helpers/poll";
import { BrowserManager, CHROMIUM_ARGS, DEFAULT_BROWSER_SESSION_ID } from "../../../src/browser/browser-manager";
import { AppError } from "../../../src/errors";
import { silentLogger } from "../../../src/log";
import { fakeLauncher, manualClock } from "./fakes";

const viewport = { width: 800, height: 600 };

function setup(options: { maxSessions?: number; idleSeconds?: number; spares?: number; concurrency?: number } = {}) {
  const launcher = fakeLauncher();
  const clock = manualClock();
  const manager = new BrowserManager({
    launch: launcher.launch,
    executablePath: "/opt/chromium",
    maxSessions: options.maxSessions ?? 3,
    idleSeconds: options.idleSeconds ?? 60,
    log: silentLogger,
    clock: clock.read,
    spares: options.spares ?? 0,
    concurrency: options.concurrency,
  });
  return { launcher, clock, manager };
}

async function codeOf(work: () => unknown): Promise<string | undefined> {
  try {
    await work();
  } catch (error) {
    if (error instanceof AppError) return error.code;
    throw error;
  }
  return undefined;
}

describe("BrowserManager", () => {
  test("launches Chromium only for the first session, with the executable and server switches", async () => {
    const { launcher, manager } = setup();
    manager.start();
    expect(launcher.calls).toHaveLength(0);
    const first = await manager.create({ viewport });
    await manager.create({ viewport: { width: 1024, height: 768 }, userAgent: "agent/1" });
    expect(launcher.calls).toHaveLength(1);
    expect(launcher.calls[0]!.executablePath).toBe("/opt/chromium");
    for (const arg of ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"]) expect(launcher.calls[0]!.args).toContain(arg);
    expect(launcher.calls[0]!.args).toContain(manager.marker);
    expect(CHROMIUM_ARGS).toContain("--disable-background-networking");
    const contexts = launcher.browsers[0]!.contexts;
    expect(contexts).toHaveLength(2);
    expect(contexts[0]!.options).toMatchObject({ viewport });
    expect(contexts[1]!.options).toMatchObject({ viewport: { width: 1024, height: 768 }, userAgent: "agent/1" });
    expect(manager.get(first.id)).toBe(first);
    await manager.stop();
  });

  test("concurrent first sessions share one launch", async () => {
    const { launcher, manager } = setup();
    const { promise: gate, resolve } = Promise.withResolvers<void>();
    launcher.gate = gate;
    const creating = [manager.create({ viewport }), manager.create({ viewport }), manager.create({ viewport })];
    resolve();
    const sessions = await Promise.all(creating);
    expect(new Set(sessions.map((session) => session.id)).size).toBe(3);
    expect(launcher.calls).toHaveLength(1);
    await manager.stop();
  });

  test("answers 429 beyond maxSessions, counting sessions still being created, and frees a slot on close", async () => {
    const { launcher, manager } = setup({ maxSessions: 2 });
    const { promise: gate, resolve } = Promise.withResolvers<void>();
    launcher.gate = gate;
    const pending = [manager.create({ viewport }), manager.create({ viewport })];
    expect(await codeOf(() => manager.create({ viewport }))).toBe("TOO_MANY_SESSIONS");
    resolve();
    const [first] = await Promise.all(pending);
    expect(await codeOf(() => manager.create({ viewport }))).toBe("TOO_MANY_SESSIONS");
    expect(await manager.close(first!.id)).toBe(true);
    expect(launcher.browsers[0]!.contexts[0]!.closed).toBe(true);
    await manager.create({ viewport });
    expect(manager.size).toBe(2);
    await manager.stop();
  });

  test("an idle session expires: 404 afterwards, its context closed by the sweep", async () => {
    const { launcher, clock, manager } = setup({ idleSeconds: 60 });
    const idle = await manager.create({ viewport });
    const busy = await manager.create({ viewport });
    clock.advance(45_000);
    await manager.resolve(busy.id); // naming it for an action is a use; reading it with get is not
    clock.advance(20_000);
    await manager.sweep();
    expect(launcher.browsers[0]!.contexts[0]!.closed).toBe(true);
    expect(launcher.browsers[0]!.contexts[1]!.closed).toBe(false);
    expect(await codeOf(() => manager.get(idle.id))).toBe("BROWSER_SESSION_NOT_FOUND");
    expect(manager.list().map((session) => session.id)).toEqual([busy.id]);
    await manager.stop();
  });

  test("reading a session does not keep it alive; an action under way does, and its end counts as use", async () => {
    const { clock, manager } = setup({ idleSeconds: 60 });
    const read = await manager.create({ viewport });
    const acting = await manager.create({ viewport });
    manager.startWork(acting);
    clock.advance(59_000);
    expect(manager.get(read.id)).toBe(read);
    expect(manager.list()).toHaveLength(2);
    clock.advance(1_000);
    await manager.sweep();
    expect(await codeOf(() => manager.get(read.id))).toBe("BROWSER_SESSION_NOT_FOUND");
    expect(manager.get(acting.id)).toBe(acting);
    manager.endWork(acting);
    expect(acting.actions).toBe(1);
    clock.advance(59_999);
    await manager.sweep();
    expect(manager.get(acting.id)).toBe(acting);
    clock.advance(1);
    expect(await codeOf(() => manager.get(acting.id))).toBe("BROWSER_SESSION_NOT_FOUND");
    await manager.stop();
  });

  test("an expired session is refused even before the sweep runs", async () => {
    const { clock, manager } = setup({ idleSeconds: 10 });
    const session = await manager.create({ viewport });
    clock.advance(10_001);
    expect(await codeOf(() => manager.get(session.id))).toBe("BROWSER_SESSION_NOT_FOUND");
    expect(manager.list()).toHaveLength(0);
    await manager.stop();
  });

  test("closes Chromium after the idle limit with no sessions, and relaunches on the next one", async () => {
    const { launcher, clock, manager } = setup({ idleSeconds: 30 });
    const session = await manager.create({ viewport });
    await manager.close(session.id);
    clock.advance(31_000);
    await manager.sweep();
    expect(launcher.browsers[0]!.closed).toBe(true);
    expect(manager.health().status).toBe("idle");
    await manager.create({ viewport });
    expect(launcher.calls).toHaveLength(2);
    expect(manager.health().crashes).toBe(0);
    await manager.stop();
  });

  test("when Chromium crashes, its sessions answer 410 and the next session relaunches it", async () => {
    const { launcher, manager } = setup();
    const lost = await manager.create({ viewport });
    const defaultBefore = await manager.defaultSession();
    launcher.browsers[0]!.crash();
    expect(manager.running).toBe(false);
    expect(manager.size).toBe(0);
    expect(await codeOf(() => manager.get(lost.id))).toBe("SESSION_GONE");
    expect(manager.health()).toMatchObject({ crashes: 1, status: "idle" });
    const fresh = await manager.create({ viewport });
    expect(launcher.calls).toHaveLength(2);
    expect(manager.get(fresh.id)).toBe(fresh);
    // The default session is simply created again.
    const defaultAfter = await manager.defaultSession();
    expect(defaultAfter.id).toBe(DEFAULT_BROWSER_SESSION_ID);
    expect(defaultAfter).not.toBe(defaultBefore);
    await manager.stop();
  });

  test("a session being opened when Chromium dies fails with 503 instead of waiting forever", async () => {
    const { launcher, manager } = setup();
    await manager.create({ viewport });
    launcher.browsers[0]!.hangNewPage = true;
    const opening = manager.create({ viewport });
    await until("the page to be opening", () => launcher.browsers[0]!.pagesOpening > 0);
    launcher.browsers[0]!.crash();
    expect(await codeOf(() => opening)).toBe("BROWSER_UNAVAILABLE");
    expect(manager.size).toBe(0);
    await manager.stop();
  });

  test("calls racing a session's loss fail with 410 when it is closed or crashes", async () => {
    const { launcher, manager } = setup();
    const closed = await manager.create({ viewport });
    const crashed = await manager.create({ viewport });
    const onClosed = Promise.race([new Promise(() => {}), closed.whenLost]);
    const onCrashed = Promise.race([new Promise(() => {}), crashed.whenLost]);
    await manager.close(closed.id);
    launcher.browsers[0]!.crash();
    expect(await codeOf(() => onClosed)).toBe("SESSION_GONE");
    expect(await codeOf(() => onCrashed)).toBe("SESSION_GONE");
    expect(crashed.goneReason).toContain("Chromium exited");
    await manager.stop();
  });

  test("a crashed page makes only its own session gone", async () => {
    const { launcher, manager } = setup();
    const crashed = await manager.create({ viewport });
    const healthy = await manager.create({ viewport });
    launcher.browsers[0]!.contexts[0]!.page.emit("crash");
    expect(await codeOf(() => manager.get(crashed.id))).toBe("SESSION_GONE");
    expect(manager.get(healthy.id)).toBe(healthy);
    expect(launcher.browsers[0]!.contexts[0]!.closed).toBe(true);
    await manager.stop();
  });

  test("a failed launch is a 503, and the next attempt launches again", async () => {
    const { launcher, manager } = setup();
    launcher.fail = new Error("spawn /opt/chromium ENOENT");
    expect(await codeOf(() => manager.create({ viewport }))).toBe("BROWSER_UNAVAILABLE");
    expect(manager.size).toBe(0);
    launcher.fail = undefined;
    await manager.create({ viewport });
    expect(launcher.calls).toHaveLength(2);
    await manager.stop();
  });

  test("stop closes every context and Chromium; afterwards sessions cannot be created", async () => {
    const { launcher, manager } = setup();
    manager.start();
    await manager.create({ viewport });
    await manager.create({ viewport });
    await manager.stop();
    expect(launcher.browsers[0]!.contexts.every((context) => context.closed)).toBe(true);
    expect(launcher.browsers[0]!.closed).toBe(true);
    // A deliberate close is not a crash.
    expect(manager.health()).toMatchObject({ crashes: 0, status: "stopped" });
    expect(await codeOf(() => manager.create({ viewport }))).toBe("BROWSER_UNAVAILABLE");
    await manager.stop();
  });

  test("the default session is created once even when asked for concurrently", async () => {
    const { launcher, manager } = setup();
    const [a, b] = await Promise.all([manager.defaultSession(), manager.defaultSession()]);
    expect(a).toBe(b);
    expect(a.id).toBe(DEFAULT_BROWSER_SESSION_ID);
    expect(launcher.browsers[0]!.contexts).toHaveLength(1);
    expect(await manager.resolve(undefined)).toBe(a);
    await manager.stop();
  });

  test("keeps a ready context: a session without its own user agent takes it, resized to its viewport", async () => {
    const { launcher, manager } = setup({ spares: 1 });
    await manager.create({ viewport });
    await manager.whenSparesReady();
    const contexts = launcher.browsers[0]!.contexts;
    expect(contexts).toHaveLength(2);
    expect(manager.health().spare_contexts).toBe(1);
    const spare = contexts[1]!;
    const second = await manager.create({ viewport: { width: 500, height: 400 } });
    expect(second.context as unknown).toBe(spare);
    expect(spare.page.viewports).toEqual([{ width: 500, height: 400 }]);
    // The pool refills in the background.
    await manager.whenSparesReady();
    expect(contexts).toHaveLength(3);
    // A session with its own user agent needs a context made for it.
    const agent = await manager.create({ viewport, userAgent: "bot/2" });
    expect(agent.context as unknown).toBe(contexts[3]);
    expect(contexts[3]!.options).toMatchObject({ userAgent: "bot/2", viewport });
    await manager.stop();
    expect(contexts.every((context) => context.closed)).toBe(true);
  });

  test("ready contexts are made at the viewport last asked for, so a like session needs no resize", async () => {
    const { launcher, manager } = setup({ spares: 1 });
    const wide = { width: 1280, height: 800 };
    await manager.create({ viewport: wide });
    await manager.whenSparesReady();
    const spare = launcher.browsers[0]!.contexts[1]!;
    expect(spare.options).toMatchObject({ viewport: wide });
    const second = await manager.create({ viewport: wide });
    expect(second.context as unknown).toBe(spare);
    expect(spare.page.viewports).toEqual([]);
    await manager.stop();
  });

  test("a burst beyond the pool waits for the contexts being made, made side by side, and opens no extra ones", async () => {
    const { launcher, manager } = setup({ spares: 3, maxSessions: 10, concurrency: 3 });
    await manager.create({ viewport });
    await manager.whenSparesReady();
    const browser = launcher.browsers[0]!;
    expect(browser.contexts).toHaveLength(4);
    const gate = Promise.withResolvers<void>();
    browser.pageGate = gate.promise;
    const burst = Promise.all(Array.from({ length: 6 }, () => manager.create({ viewport })));
    await Bun.sleep(0);
    // Three came from the pool; the other three wait for contexts being made, three at a time.
    expect(browser.pagesOpening).toBe(3);
    gate.resolve();
    const sessions = await burst;
    await manager.whenSparesReady();
    expect(new Set(sessions.map((session) => session.context)).size).toBe(6);
    expect(browser.mostPagesOpening).toBe(3);
    // 1 + 6 sessions and a full pool: nothing was made beside a context someone waited for.
    expect(browser.contexts).toHaveLength(10);
    expect(manager.health().spare_contexts).toBe(3);
    await manager.stop();
  });

  test("keeps no more ready contexts than sessions may still be opened, and tops up when one closes", async () => {
    const { launcher, manager } = setup({ spares: 10, maxSessions: 3 });
    const first = await manager.create({ viewport });
    await manager.whenSparesReady();
    const browser = launcher.browsers[0]!;
    expect(manager.health().spare_contexts).toBe(2);
    await manager.create({ viewport });
    await manager.whenSparesReady();
    // Two sessions open, room for one: the ready context left is enough.
    expect(manager.health().spare_contexts).toBe(1);
    expect(browser.contexts).toHaveLength(3);
    await manager.close(first.id);
    await manager.whenSparesReady();
    expect(manager.health().spare_contexts).toBe(2);
    expect(browser.contexts).toHaveLength(4);
    await manager.stop();
  });

  test("ready contexts are opened at most `concurrency` at a time, the waiting session's first", async () => {
    const { launcher, manager } = setup({ spares: 4, maxSessions: 10, concurrency: 2 });
    const first = await manager.create({ viewport });
    await manager.whenSparesReady();
    const browser = launcher.browsers[0]!;
    expect(browser.mostPagesOpening).toBe(2);
    expect(browser.contexts[0]!.page as unknown).toBe(first.page);
    expect(manager.health().spare_contexts).toBe(4);
    await manager.stop();
  });

  test("a session waiting for a ready context is told when Chromium dies", async () => {
    const { launcher, manager } = setup({ spares: 1 });
    await manager.create({ viewport });
    await manager.whenSparesReady();
    launcher.browsers[0]!.pageGate = new Promise(() => {});
    await manager.create({ viewport }); // takes the ready one
    const waiting = manager.create({ viewport });
    await Bun.sleep(0);
    launcher.browsers[0]!.crash();
    expect(await codeOf(() => waiting)).toBe("BROWSER_UNAVAILABLE");
    await manager.stop();
  });

  test("ready contexts die with a crashed Chromium and are not handed out", async () => {
    const { launcher, manager } = setup({ spares: 1 });
    await manager.create({ viewport });
    await manager.whenSparesReady();
    launcher.browsers[0]!.crash();
    expect(manager.health().spare_contexts).toBe(0);
    const fresh = await manager.create({ viewport });
    expect(fresh.context as unknown).toBe(launcher.browsers[1]!.contexts[0]);
    await manager.stop();
  });

  test("unknown ids are 404; closing one reports false", async () => {
    const { manager } = setup();
    expect(await codeOf(() => manager.get("nope"))).toBe("BROWSER_SESSION_NOT_FOUND");
    expect(await manager.close("nope")).toBe(false);
  });
});
