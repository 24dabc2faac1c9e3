import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type E2BRecord, E2BRegistry } from "../../../src/e2b/registry";
import { E2BStore } from "../../../src/e2b/store";
import { silentLogger } from "../../../src/log";
import type { SandboxManager, SessionSandbox } from "../../../src/sandboxes/manager";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A manager that found `ids` (as a restarted host finds its sessions), and records pauses. */
function foundSessions(...ids: string[]) {
  const sessions = new Map(ids.map((id) => [id, { id, metadata: {}, createdAt: new Date(0) } as unknown as SessionSandbox]));
  const paused: string[] = [];
  const manager = {
    find: (id: string) => sessions.get(id),
    ended: () => undefined,
    pause: async (id: string) => {
      paused.push(id);
      sessions.get(id)!.paused = true;
      return true;
    },
  } as unknown as SandboxManager;
  return { manager, sessions, paused };
}

const record = (id: string, extra: Partial<E2BRecord> = {}): E2BRecord => ({
  id,
  templateID: "code-interpreter-v1",
  accessToken: `token-${id}`,
  envVars: { A: "1" },
  contexts: [{ id: "ctx", language: "python", cwd: "/home/user", inner: `${id}.inner`, executionCount: 3 }],
  onTimeout: "kill",
  autoResume: false,
  timeoutSeconds: 300,
  endsAt: 1_700_000_000_000,
  ...extra,
});

function tempPath(): string {
  const dir = mkdtempSync(join(tmpdir(), "coderunner-e2b-store-"));
  dirs.push(dir);
  return join(dir, "state", "e2b.json");
}

describe("E2B state across host restarts", () => {
  test("a restarted host knows again the sandboxes whose sessions it found, as they were", () => {
    const { manager, sessions, paused } = foundSessions("a", "b");
    const registry = new E2BRegistry(manager);
    const records = [record("a"), record("b", { onTimeout: "pause", autoResume: true, paused: true }), record("gone")];
    expect(registry.restore(records)).toBe(2);
    const { e2b, session } = registry.get("a");
    expect(e2b.accessToken).toBe("token-a");
    expect(e2b.contexts.get("ctx")?.inner).toBe("a.inner");
    expect(session.endsAt).toBe(1_700_000_000_000);
    expect(sessions.get("b")!.onExpiry).toBe("pause");
    expect(paused).toEqual(["b"]);
    expect(() => registry.get("gone")).toThrow(/not found/);
    // What it writes back is what it read, less the sandbox that is gone.
    expect(registry.records()).toEqual([record("a"), record("b", { onTimeout: "pause", autoResume: true, paused: true })]);
  });

  test("the file round-trips, is written only when something changed, and only its owner can read it", () => {
    const path = tempPath();
    const store = new E2BStore(path, silentLogger);
    expect(store.load()).toEqual([]);
    store.save([record("a")]);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(new E2BStore(path, silentLogger).load()).toEqual([record("a")]);
    const written = statSync(path).mtimeMs;
    store.save([record("a")]);
    expect(statSync(path).mtimeMs).toBe(written);
  });

  test("a damaged file starts the registry empty instead of failing the host", () => {
    const path = tempPath();
    new E2BStore(path, silentLogger).save([]);
    writeFileSync(path, "{not json");
    const warnings: string[] = [];
    const store = new E2BStore(path, { ...silentLogger, warn: (line: string) => void warnings.push(line) });
    expect(store.load()).toEqual([]);
    expect(warnings.join()).toContain("could not be read");
  });

  test("keep restores at once and writes the last state when it stops", () => {
    const path = tempPath();
    new E2BStore(path, silentLogger).save([record("a")]);
    const { manager } = foundSessions("a");
    const registry = new E2BRegistry(manager);
    const kept = new E2BStore(path, silentLogger).keep(registry, 60_000);
    expect(registry.get("a").e2b.accessToken).toBe("token-a");
    registry.get("a").e2b.contexts.delete("ctx");
    kept.stop();
    expect(JSON.parse(readFileSync(path, "utf8"))[0].contexts).toEqual([]);
  });
});
