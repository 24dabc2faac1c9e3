import { afterEach, describe, expect, test } from "bun:test";
import { silentLogger } from "../../../src/log";
import { createHostApp } from "../../../src/sandboxes/host-app";
import { type ManagerOptions, SandboxManager } from "../../../src/sandboxes/manager";
import { fieldOf, HostRouter, routeKey } from "../../../src/sandboxes/router";
import { PROXY_HEADER } from "../../../src/sandboxes/forward";
import { jsonCaller } from "../../helpers/http";

import { until } from "../../helpers/poll";
import { FakeBackend } from "./fakes";

/**
 * The host's routing and session lifecycle, with a fake backend whose sandboxes are small HTTP
 * servers on 127.0.0.1 (what a sandbox's server is to the host): where each route goes, what the
 * host answers itself, and what a client sees when a session ends.
 */

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function host(options: { backend?: FakeBackend; apiKey?: string; manager?: Partial<ManagerOptions> } = {}) {
  const backend = options.backend ?? new FakeBackend();
  const manager = new SandboxManager({
    backend,
    poolSize: 1,
    limits: { memoryMB: 1024, cpus: 1, pidsLimit: 64, diskMB: 100 },
    egress: true,
    maxSessions: 8,
    idleSeconds: 3600,
    readyTimeoutSeconds: 5,
    log: silentLogger,
    sweepMs: 60_000,
    ...options.manager,
  });
  await manager.start();
  const hostApp = createHostApp({ manager, log: silentLogger, apiKey: options.apiKey, maxBodyBytes: 1 << 20 });
  const router = new HostRouter({ manager, hostApp, apiKey: options.apiKey, instance: "unit", maxBodyBytes: 1 << 20, maxUploadBytes: 8 << 20, log: silentLogger });
  const { url } = router.listen("127.0.0.1", 0);
  cleanups.push(() => backend.dispose(), () => manager.stop(), () => router.stop());
  const call = jsonCaller(url);
  const newSession = async (body: unknown = {}) => {
    const created = await call("POST", "/v1/sessions/session", body);
    expect(created.status).toBe(200);
    return created.body.session_id as string;
  };
  return { url, backend, manager, call, newSession };
}

describe("ids and fields", () => {
  test("a task's or browser session's id routes to the session that starts it", () => {
    expect(routeKey("s-sb1.0b3e")).toBe("s-sb1");
    expect(routeKey("8f2c1d9e-1111-4a4a-9999-000000000000")).toBe("8f2c1d9e-1111-4a4a-9999-000000000000");
  });

  test("the session field is read from JSON and form bodies, and nothing else", () => {
    expect(fieldOf('{"session_id":"a","command":"1"}', "application/json", "session_id")).toBe("a");
    expect(fieldOf("filename=x&session_id=b", "application/x-www-form-urlencoded", "session_id")).toBe("b");
    expect(fieldOf("{not json", "application/json", "session_id")).toBeUndefined();
    expect(fieldOf('{"session_id":7}', "application/json", "session_id")).toBeUndefined();
    expect(fieldOf("null", "application/json", "session_id")).toBeUndefined();
  });
});

describe("the host", () => {
  test("every session gets a sandbox of its own: the warm one first, then one started for it", async () => {
    const h = await host();
    const a = await h.newSession();
    const b = await h.newSession();
    expect(a).not.toBe(b);
    const sandboxOf = (id: string) => h.manager.find(id)!.sandbox.name;
    expect(sandboxOf(a)).not.toBe(sandboxOf(b));
    expect(h.backend.creates).toBeGreaterThanOrEqual(2);
  });

  test("calls naming a session reach its sandbox; calls naming none, or an unknown id, reach the default one", async () => {
    const h = await host();
    const id = await h.newSession();
    const mine = h.manager.find(id)!.sandbox.name;
    const cases: [string, string, unknown, string][] = [
      ["POST", "/execute", { command: "1", session_id: id }, mine],
      ["POST", "/execute_async", { command: "1", session_id: id }, mine],
      ["POST", "/execute/stream", { command: "1", session_id: id }, mine],
      ["POST", "/execute", { command: "1" }, "default-sandbox"],
      ["POST", "/execute", { command: "1", session_id: "nobody" }, "default-sandbox"],
      ["GET", `/v1/executions/${id}.task-1`, undefined, mine],
      ["GET", "/v1/executions/plain-task-id", undefined, "default-sandbox"],
      ["GET", `/files?session_id=${id}&path=.`, undefined, mine],
      ["GET", `/sessions/${id}`, undefined, mine],
      ["GET", `/v1/sessions/status/${id}`, undefined, mine],
      ["POST", "/v1/browser/sessions/", { sandbox_id: id }, mine],
      ["POST", "/v1/browser/interactions/navigate", { session_id: `${id}.b1`, url: "about:blank" }, mine],
      ["POST", "/v1/browser/interactions/navigate", { url: "about:blank" }, "default-sandbox"],
      ["GET", `/v1/browser/sessions/${id}.b1`, undefined, mine],
      ["DELETE", `/v1/browser/sessions/${id}.b1`, undefined, mine],
      ["GET", `/v1/browser/sessions/${id}.b1/downloads`, undefined, mine],
      ["GET", "/v1/browser/sessions/plain-browser/downloads", undefined, "default-sandbox"],
      ["POST", "/v1/browser/interactions/upload", { session_id: `${id}.b1`, selector: "#f", paths: ["a.txt"] }, mine],
      ["GET", "/docs/json", undefined, "default-sandbox"],
    ];
    for (const [method, path, body, sandbox] of cases) {
      const before = h.backend.seen.length;
      const response = await h.call(method, path, body);
      expect(response.headers.get(PROXY_HEADER)).toBe("unit");
      const reached = h.backend.seen.slice(before).map((seen) => seen.sandbox);
      expect({ method, path, reached }).toEqual({ method, path, reached: [sandbox] });
    }
    // A form-encoded download (as the InstaVM SDK sends it) and its body arrive unchanged.
    const before = h.backend.seen.length;
    const download = await h.call("POST", "/download", `filename=a%20b.txt&session_id=${id}`, { "content-type": "application/x-www-form-urlencoded" });
    expect(download.body).toMatchObject({ sandbox: mine, body: `filename=a%20b.txt&session_id=${id}` });
    expect(h.backend.seen[before]!.key).toBe(`key-${mine}`);
  });

  test("an upload reaches its session's sandbox byte for byte, whether session_id comes before or after the file", async () => {
    const h = await host();
    const id = await h.newSession();
    const mine = h.manager.find(id)!.sandbox.name;
    const bytes = new Uint8Array(3 * 1024 * 1024).map((_, i) => (i * 7) % 251);
    for (const fieldFirst of [true, false]) {
      const form = new FormData();
      if (fieldFirst) form.append("session_id", id);
      form.append("file", new Blob([bytes]), "data.bin");
      form.append("remote_path", "data.bin");
      if (!fieldFirst) form.append("session_id", id);
      const before = h.backend.seen.length;
      const response = await h.call("POST", "/upload", form);
      expect(response.status).toBe(200);
      const seen = h.backend.seen[before]!;
      expect(seen.sandbox).toBe(mine);
      expect(seen.body.length).toBeGreaterThan(bytes.length);
      expect(seen.body).toContain('name="remote_path"');
    }
    const form = new FormData();
    form.append("file", new Blob(["x"]), "x.txt");
    const before = h.backend.seen.length;
    await h.call("POST", "/upload", form);
    expect(h.backend.seen[before]!.sandbox).toBe("default-sandbox");
  });

  test("an upload past the limit is a 413, not a half-forwarded request", async () => {
    const h = await host();
    const form = new FormData();
    form.append("file", new Blob([new Uint8Array(10 * 1024 * 1024)]), "big.bin");
    form.append("session_id", "nobody");
    const response = await h.call("POST", "/upload", form);
    expect(response.status).toBe(413);
    expect(response.body.code).toBe("PAYLOAD_TOO_LARGE");
  });

  test("a streamed answer arrives piece by piece, and the session counts as busy until it ends", async () => {
    const h = await host();
    const id = await h.newSession();
    const session = h.manager.find(id)!;
    const open = () => fetch(`${h.url}/execute/stream?ms=300`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ session_id: id }) });
    const streamed = await open();
    expect(streamed.headers.get("content-type")).toContain("text/event-stream");
    const reader = streamed.body!.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toContain("first");
    expect(session.inflight).toBe(1);
    let rest = "";
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) rest += new TextDecoder().decode(chunk.value);
    expect(rest).toContain("last");
    expect(session.inflight).toBe(0);
    // A client that walks away ends the request too.
    const dropped = await open();
    expect(session.inflight).toBe(1);
    await dropped.body!.cancel();
    await until("the dropped stream to end", () => session.inflight === 0);
  });

  test("ending a session removes its sandbox; later calls naming it answer 410 with why", async () => {
    const h = await host();
    const id = await h.newSession();
    const name = h.manager.find(id)!.sandbox.name;
    expect((await h.call("DELETE", `/sessions/${id}`)).body).toEqual({ success: true });
    expect(h.backend.removed).toContain(name);
    const after = await h.call("POST", "/execute", { command: "1", session_id: id });
    expect(after.status).toBe(410);
    expect(after.body).toMatchObject({ code: "SESSION_GONE" });
    expect(after.body.detail).toContain("closed");
    expect((await h.call("GET", `/v1/executions/${id}.t1`)).status).toBe(410);
    const other = await h.newSession();
    expect((await h.call("POST", "/kill", { session_id: other })).body).toEqual({ success: true, session_id: other });
    expect((await h.call("POST", "/kill", { session_id: other })).status).toBe(410);
    expect((await h.call("POST", "/kill", {})).status).toBe(422);
  });

  test("a default sandbox that does not answer, even once found again, is a 503 saying so, never a 500", async () => {
    const h = await host();
    expect((await h.call("POST", "/execute", { command: "1" })).status).toBe(200);
    // Its server is gone but its container is still there (a fork bomb took every task it had).
    [...h.backend.handles.values()].find((handle) => handle.role === "default")!.stop();
    const answer = await h.call("POST", "/execute", { command: "1" });
    expect([answer.status, answer.body.code]).toEqual([503, "DOCKER_UNAVAILABLE"]);
    expect(answer.body.detail).toContain("default sandbox is not answering");
  });

  test("a sandbox that died is reported with its reason (410), and removed", async () => {
    const h = await host();
    const id = await h.newSession();
    const name = h.manager.find(id)!.sandbox.name;
    h.backend.kill(name, "out of memory");
    const response = await h.call("POST", "/execute", { command: "1", session_id: id });
    expect(response.status).toBe(410);
    expect(response.body.detail).toContain("out of memory");
    expect(h.manager.find(id)).toBeUndefined();
    expect(h.backend.removed).toContain(name);
  });

  test("limits: memory_mb and vcpu_count are applied to a warm sandbox; impossible ones are a 400; disk or no internet get a sandbox of their own", async () => {
    const h = await host({ backend: new FakeBackend({ capacity: { cpus: 2, memoryMB: 4096 } }) });
    await h.manager.warm();
    const id = await h.newSession({ memory_mb: 2048, vcpu_count: 1.5 });
    const sandbox = h.manager.find(id)!.sandbox;
    expect(h.backend.updates).toContainEqual({ id: sandbox.id, limits: { memoryMB: 2048, cpus: 1.5 } });
    for (const [body, words] of [
      [{ memory_mb: 100 }, "at least 256"],
      [{ memory_mb: 9000 }, "more than this machine has"],
      [{ vcpu_count: 3 }, "CPUs"],
      [{ vcpu_count: 0 }, "at least 0.01"],
      [{ disk_mb: 10 }, "at least 64"],
    ] as const) {
      const response = await h.call("POST", "/v1/sessions/session", body);
      expect(response.status).toBe(400);
      expect(response.body.detail).toContain(words);
    }
    expect((await h.call("POST", "/v1/sessions/session", { memory_mb: "lots" })).status).toBe(422);
    const creates = h.backend.creates;
    const offline = await h.newSession({ allow_internet_access: false });
    expect(h.manager.find(offline)!.sandbox.egress).toBe(false);
    const disk = await h.newSession({ disk_mb: 512 });
    expect(h.manager.find(disk)!.sandbox.limits.diskMB).toBe(512);
    expect(h.backend.creates).toBeGreaterThanOrEqual(creates + 2);
  });

  test("a burst beyond the pool starts sandboxes side by side, not one after another", async () => {
    const h = await host({ backend: new FakeBackend({ createMs: 300 }) });
    await h.manager.warm();
    const started = performance.now();
    const ids = await Promise.all(Array.from({ length: 5 }, () => h.newSession()));
    expect(new Set(ids).size).toBe(5);
    expect(h.backend.maxConcurrentCreates).toBeGreaterThanOrEqual(4);
    expect(performance.now() - started).toBeLessThan(5 * 300);
  });

  test("past max sessions a create is a 429; a failed start leaves nothing behind", async () => {
    const h = await host({ manager: { maxSessions: 1, poolSize: 0 } });
    await h.newSession();
    const refused = await h.call("POST", "/sessions", {});
    expect(refused.status).toBe(429);
    expect(refused.body.code).toBe("TOO_MANY_SESSIONS");

    const failing = await host({ backend: new FakeBackend({ failCreates: 1 }), manager: { poolSize: 0 } });
    const failed = await failing.call("POST", "/v1/sessions/session", {});
    expect(failed.status).toBe(503);
    expect([...failing.backend.handles.values()].filter((handle) => handle.role === "session")).toHaveLength(0);
  });

  test("lists: sessions, InstaVM sandboxes (a bare array, metadata filter, limit), browser sessions of every sandbox", async () => {
    const h = await host();
    const a = await h.newSession({ metadata: { team: "qa", name: "alpha" } });
    const b = await h.newSession({ metadata: { team: "ops" } });
    const listed = await h.call("GET", "/v1/sessions/sandboxes");
    expect(Array.isArray(listed.body)).toBe(true);
    expect(listed.body.map((entry: any) => entry.sandbox_id)).toEqual(expect.arrayContaining([a, b]));
    expect(listed.body.find((entry: any) => entry.sandbox_id === a).name).toBe("alpha");
    const filtered = await h.call("GET", `/v1/sessions/sandboxes?metadata=${encodeURIComponent(JSON.stringify({ team: "qa" }))}`);
    expect(filtered.body.map((entry: any) => entry.sandbox_id)).toEqual([a]);
    expect((await h.call("GET", "/v1/sessions/sandboxes?limit=1")).body).toHaveLength(1);
    expect((await h.call("GET", "/v1/sessions/sandboxes?metadata=nope")).status).toBe(400);
    const sessions = await h.call("GET", "/sessions");
    expect(sessions.body.sessions.map((session: any) => session.session_id)).toEqual(expect.arrayContaining([a, b]));
    const browsers = await h.call("GET", "/v1/browser/sessions/");
    expect(browsers.body.sessions.map((session: any) => session.session_id)).toEqual(
      expect.arrayContaining(["browser-of-default-sandbox", `browser-of-${h.manager.find(a)!.sandbox.name}`]),
    );
  });

  test("usage of a session is its whole sandbox's, with its limits", async () => {
    const h = await host();
    const id = await h.newSession({ memory_mb: 512 });
    const usage = await h.call("GET", `/v1/sessions/usage/${id}`);
    expect(usage.body).toMatchObject({ session_id: id, memory_bytes: 100 * 1024 * 1024, cpu_seconds: 2.5, sandbox: { memory_limit_mb: 512, pids: 7, internet: true } });
    expect((await h.call("GET", "/v1/sessions/usage/default")).body.sandbox).toBeUndefined();
  });

  test("MCP: create_session and close_session make and end sandboxes; other tools go where their session lives", async () => {
    const h = await host();
    const rpc = (id: number, name: string, args: Record<string, unknown>) =>
      h.call("POST", "/mcp", { jsonrpc: "2.0", id, method: "tools/call", params: { name, arguments: args } }, { accept: "application/json, text/event-stream" });
    const created = await rpc(1, "create_session", { env: { A: "1" } });
    expect(created.body).toMatchObject({ jsonrpc: "2.0", id: 1 });
    const id = JSON.parse(created.body.result.content[0].text).session_id as string;
    const session = h.manager.find(id)!;
    expect(JSON.parse(h.backend.seen.find((seen) => seen.sandbox === session.sandbox.name && seen.path === "/v1/sessions/session")!.body).env).toEqual({ A: "1" });
    const before = h.backend.seen.length;
    await rpc(2, "execute_python", { code: "1", session_id: id });
    expect(h.backend.seen[before]!.sandbox).toBe(session.sandbox.name);
    await rpc(3, "execute_python", { code: "1" });
    expect(h.backend.seen[before + 1]!.sandbox).toBe("default-sandbox");
    const closed = await rpc(4, "close_session", { session_id: id });
    expect(JSON.parse(closed.body.result.content[0].text)).toEqual({ success: true });
    expect(h.manager.find(id)).toBeUndefined();
  });

  test("with a key: every route but health and docs needs it; sandboxes get their own key, never the client's", async () => {
    const h = await host({ apiKey: "client-key" });
    expect((await h.call("POST", "/execute", { command: "1" })).status).toBe(401);
    expect((await h.call("POST", "/execute", { command: "1" }, { "x-api-key": "wrong" })).status).toBe(401);
    expect((await h.call("GET", "/v1/sessions/sandboxes")).status).toBe(401);
    expect((await h.call("POST", "/v1/sessions/session", {})).status).toBe(401);
    expect((await h.call("GET", "/health")).status).toBe(200);
    const created = await h.call("POST", "/v1/sessions/session", { api_key: "client-key" });
    expect(created.status).toBe(200);
    const before = h.backend.seen.length;
    const ran = await h.call("POST", "/execute", { command: "1", session_id: created.body.session_id }, { "x-api-key": "client-key" });
    expect(ran.status).toBe(200);
    expect(h.backend.seen[before]!.key).toMatch(/^key-sb/);
  });

  test("health says the isolation in force and the pool's state", async () => {
    const h = await host();
    const health = await h.call("GET", "/health");
    expect(health.body).toMatchObject({ status: "healthy", isolation: { mode: "sandbox per session", backend: "fake", disk_cap: { mechanism: "none" } }, sandboxes: { pool: { size: 1 } } });
  });
});

describe("lifecycle", () => {
  test("lifetime and idle expiry end sessions; a session with runs pending is not idle", async () => {
    let now = Date.now();
    const h = await host({ manager: { clock: () => now, idleSeconds: 60 } });
    const short = await h.newSession({ vm_lifetime_seconds: 10 });
    const idle = await h.newSession();
    now += 11_000;
    await h.manager.sweep();
    expect(h.manager.find(short)).toBeUndefined();
    expect(h.manager.ended(short)).toContain("lifetime");
    expect(h.manager.find(idle)).toBeDefined();
    now += 60_000;
    await h.manager.sweep();
    expect(h.manager.find(idle)).toBeUndefined();
    expect(h.manager.ended(idle)).toContain("idle");
  });

  test("a paused session is refused (409), neither idles nor expires, and goes on when resumed", async () => {
    let now = Date.now();
    const h = await host({ manager: { clock: () => now, idleSeconds: 60 } });
    const id = await h.newSession({ vm_lifetime_seconds: 10 });
    expect(await h.manager.pause(id)).toBe(true);
    expect(await h.manager.pause(id)).toBe(false);
    const handle = h.backend.handles.get(h.manager.find(id)!.sandbox.id)!;
    expect(handle.paused).toBe(true);
    const refused = await h.call("POST", "/execute", { command: "1", session_id: id });
    expect([refused.status, refused.body.code]).toEqual([409, "SESSION_PAUSED"]);
    expect((await h.call("GET", `/v1/sessions/usage/${id}`)).status).toBe(409);
    // Asking every sandbox (browser sessions) leaves the frozen one out instead of waiting on it.
    expect((await h.call("GET", "/v1/browser/sessions/")).status).toBe(200);
    now += 120_000;
    await h.manager.sweep();
    expect(h.manager.find(id)).toBeDefined();
    h.manager.find(id)!.endsAt = now + 10_000;
    expect(await h.manager.resume(id)).toBe(true);
    expect(await h.manager.resume(id)).toBe(false);
    expect(handle.paused).toBeUndefined();
    expect((await h.call("POST", "/execute", { command: "1", session_id: id })).status).toBe(200);
    expect(await h.manager.pause("nope").catch((error) => error.code)).toBe("SESSION_NOT_FOUND");
    // A session whose lifetime ends in a pause (E2B's onTimeout: "pause") is paused, not closed.
    const napper = await h.newSession({ vm_lifetime_seconds: 5 });
    h.manager.find(napper)!.onExpiry = "pause";
    now += 6_000;
    await h.manager.sweep();
    expect(h.manager.find(napper)?.paused).toBe(true);
  });

  test("a session paused under the previous host is resumed when a new host finds it", async () => {
    const backend = new FakeBackend();
    const frozen = backend.leave({ sessions: ["s-frozen"], paused: true });
    const h = await host({ backend });
    expect(frozen.paused).toBeUndefined();
    expect(h.manager.find("s-frozen")?.paused).toBeUndefined();
    expect((await h.call("POST", "/execute", { command: "1", session_id: "s-frozen" })).status).toBe(200);
  });

  test("a restarted host finds its sessions again, takes a warm sandbox back, and removes what no session owns", async () => {
    const backend = new FakeBackend();
    const kept = backend.leave({ sessions: ["s-old"] });
    const warm = backend.leave({});
    const stopped = backend.leave({ state: "failed", stopReason: "out of memory" });
    const stale = backend.leave({ imageCurrent: false });
    const h = await host({ backend });
    expect(h.manager.find("s-old")?.sandbox.name).toBe(kept.name);
    expect(backend.removed).toEqual(expect.arrayContaining([stopped.name, stale.name]));
    expect(backend.removed).not.toContain(warm.name);
    expect(h.manager.stats().pool.ready).toBe(1);
    const before = backend.seen.length;
    await h.call("POST", "/execute", { command: "1", session_id: "s-old" });
    expect(backend.seen[before]!.sandbox).toBe(kept.name);
  });
});

describe("the warm pool follows the configured network", () => {
  test("with the internet off by default, warm sandboxes are offline and serve sessions that do not ask for it", async () => {
    const h = await host({ manager: { egress: false } });
    await h.manager.warm();
    const warm = [...h.backend.handles.values()].filter((handle) => handle.role === "session");
    expect(warm.map((handle) => handle.egress)).toEqual([false]);
    const creates = h.backend.creates;
    const id = await h.newSession();
    expect(h.manager.find(id)!.sandbox.egress).toBe(false);
    expect(h.manager.find(id)!.sandbox.name).toBe(warm[0]!.name);
    expect(h.backend.creates).toBe(creates + 1); // only the refill
  });
});
