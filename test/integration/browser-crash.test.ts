import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync } from "node:fs";
import { Elysia } from "elysia";
import { BrowserActions } from "../../src/browser/browser-actions";
import { BrowserManager } from "../../src/browser/browser-manager";
import { findChromium } from "../../src/browser/chromium-path";
import { isAlive } from "../../src/kernels/proc-stats";
import { silentLogger } from "../../src/log";
import { bodyParsing, errorHandling } from "../../src/server/http-errors";
import { browserRoutes } from "../../src/server/routes/browser";
import { servePages } from "../helpers/pages";
import { until } from "../helpers/poll";

// Chromium on a busy 2-core machine can take seconds to start a page.
setDefaultTimeout(60_000);

/** Real Chromium killed under the manager's feet, and a clean stop. */

const manager = new BrowserManager({ executablePath: findChromium(), maxSessions: 4, idleSeconds: 600, log: silentLogger });
const app = new Elysia().use(errorHandling(silentLogger)).use(bodyParsing(1 << 20)).use(browserRoutes(manager, new BrowserActions(manager)));
const server = servePages({ "*": "<title>Up</title><p id=x>alive</p>" });
const url = `${server.base}/`;

async function call(path: string, body?: unknown) {
  const init: RequestInit = body === undefined ? {} : { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) };
  const response = await app.handle(new Request(`http://localhost${path}`, init));
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

function browserRoot(pids: number[]): number {
  const root = pids.find((pid) => !readFileSync(`/proc/${pid}/cmdline`, "latin1").includes("--type="));
  if (!root) throw new Error("no browser process found");
  return root;
}

afterAll(async () => {
  await manager.stop();
  server.stop();
});

describe("Chromium crash and shutdown", () => {
  test("a killed Chromium is noticed: its sessions answer 410, the next session relaunches it", async () => {
    const lost = (await call("/v1/browser/sessions/", {})).body.session_id as string;
    expect((await call("/v1/browser/interactions/navigate", { session_id: lost, url })).status).toBe(200);
    const first = manager.processes();
    expect(first.length).toBeGreaterThan(1);
    process.kill(browserRoot(first), "SIGKILL");
    await until("the browser to be down", () => !manager.running);

    const gone = await call("/v1/browser/interactions/navigate", { session_id: lost, url });
    expect(gone.status).toBe(410);
    expect(gone.body).toMatchObject({ code: "SESSION_GONE" });
    expect(gone.body.detail).toContain("Chromium exited unexpectedly");
    expect((await call(`/v1/browser/sessions/${lost}`)).status).toBe(410);
    expect((await call("/v1/browser/sessions/")).body.sessions).toEqual([]);

    const fresh = (await call("/v1/browser/sessions/", {})).body.session_id as string;
    const navigated = await call("/v1/browser/interactions/navigate", { session_id: fresh, url });
    expect(navigated.body).toMatchObject({ success: true, title: "Up" });
    expect(manager.launches).toBe(2);
    expect(manager.health()).toMatchObject({ status: "running", crashes: 1, sessions: 1 });
    // The default session comes back too.
    expect((await call("/v1/browser/interactions/navigate", { url })).body.session_id).toBe("default");
  });

  test("a session being opened while Chromium dies answers (200 or 503) instead of hanging", async () => {
    for (const delay of [0, 100, 200, 300]) {
      if (!manager.running) await call("/v1/browser/sessions/", {});
      const root = browserRoot(manager.processes());
      const started = performance.now();
      const opening = call("/v1/browser/sessions/", {});
      setTimeout(() => process.kill(root, "SIGKILL"), delay);
      const { status } = await opening;
      expect([200, 503]).toContain(status);
      expect(performance.now() - started).toBeLessThan(15_000);
      await until("the browser to be down", () => !manager.running);
    }
    expect((await call("/v1/browser/sessions/", {})).status).toBe(200);
  });

  test("stop ends every Chromium process", async () => {
    const pids = manager.processes();
    expect(pids.length).toBeGreaterThan(1);
    await manager.stop();
    await until("every Chromium process to end", () => pids.every((pid) => !isAlive(pid)));
    expect(manager.processes()).toEqual([]);
    expect((await call("/v1/browser/sessions/", {})).status).toBe(503);
  });
});
