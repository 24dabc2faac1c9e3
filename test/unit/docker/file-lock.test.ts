import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stateDir, withFileLock } from "../../../src/docker/file-lock";

const dir = mkdtempSync(join(tmpdir(), "file-lock-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("withFileLock", () => {
  test("two holders run one after the other, and the second is told it waits", async () => {
    const path = join(dir, "a.lock");
    const events: string[] = [];
    let release!: () => void;
    const first = withFileLock(path, async () => {
      events.push("first in");
      await new Promise<void>((resolve) => (release = resolve));
      events.push("first out");
    });
    await Bun.sleep(5);
    const second = withFileLock(path, async () => void events.push("second in"), { onWait: () => events.push("second waits"), pollMs: 5 });
    await Bun.sleep(30);
    release();
    await Promise.all([first, second]);
    expect(events).toEqual(["first in", "second waits", "first out", "second in"]);
    expect(existsSync(path)).toBe(false);
  });

  test("a lock left by a dead process is taken over", async () => {
    const path = join(dir, "stale.lock");
    const dead = Bun.spawnSync(["true"]).pid; // exited: its PID is free
    writeFileSync(path, String(dead));
    let waited = false;
    expect(await withFileLock(path, async () => "ran", { onWait: () => (waited = true) })).toBe("ran");
    expect(waited).toBe(false);
  });

  test("the lock is released when the work throws", async () => {
    const path = join(dir, "throws.lock");
    await expect(withFileLock(path, async () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    expect(existsSync(path)).toBe(false);
  });

  test("state lives under XDG_STATE_HOME", () => {
    expect(stateDir({ XDG_STATE_HOME: "/x/state" })).toBe("/x/state/coderunner");
  });
});
