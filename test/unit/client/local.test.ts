import { describe, expect, test } from "bun:test";
import { CodeRunner, ContainerError, NetworkError } from "../../../src/client/index";
import type { Fetch } from "../../../src/client/http";
import { loadEnsureUp } from "../../../src/client/local";
import { ensureUp } from "../../../src/host/daemon";

/** Zero-config start: which server the client uses, and when it asks the container lifecycle to start one. */

const RESULT = { stdout: "hi\n", stderr: "", execution_time: 0.01, cpu_time: 0, session_id: "s1", status: "ok", error: null, results: [], truncated: false };

/** A fake network: `up` holds the base URLs that answer; records every request. */
function fakeNetwork(up: Set<string>) {
  const calls: { method: string; url: string; headers: Record<string, string> }[] = [];
  const fetchImpl: Fetch = async (input, init = {}) => {
    const url = new URL(String(input));
    calls.push({ method: init.method ?? "GET", url: url.toString(), headers: { ...(init.headers as Record<string, string>) } });
    if (!up.has(url.origin)) throw new TypeError("Unable to connect. Is the computer able to access the url?");
    const json = (body: unknown) => new Response(JSON.stringify(body), { headers: { "content-type": "application/json" } });
    if (url.pathname === "/health") return json({ status: "healthy", version: "test" });
    if (url.pathname === "/v1/sessions/session") return json({ session_id: "s1", status: "active" });
    if (url.pathname === "/execute") return json(RESULT);
    return new Response(JSON.stringify({ detail: "no route", code: "NOT_FOUND" }), { status: 404 });
  };
  return { fetchImpl, calls };
}

describe("CodeRunner zero-config start", () => {
  test("uses baseURL when it answers /health, without touching the lifecycle", async () => {
    const net = fakeNetwork(new Set(["http://127.0.0.1:8223"]));
    let started = 0;
    const runner = new CodeRunner({ fetch: net.fetchImpl, ensureUp: async () => (started++, { baseURL: "http://never" }) });
    expect((await runner.execute("print('hi')")).stdout).toBe("hi\n");
    expect(started).toBe(0);
    expect(net.calls[0]!.url).toBe("http://127.0.0.1:8223/health");
  });

  test("CODERUNNER_URL is the default base URL", () => {
    const saved = process.env.CODERUNNER_URL;
    process.env.CODERUNNER_URL = "http://127.0.0.1:9999/";
    try {
      expect(new CodeRunner().baseURL).toBe("http://127.0.0.1:9999");
      expect(new CodeRunner({ baseURL: "http://h:1" }).baseURL).toBe("http://h:1");
    } finally {
      if (saved === undefined) delete process.env.CODERUNNER_URL;
      else process.env.CODERUNNER_URL = saved;
    }
  });

  test("when nothing answers it calls ensureUp once, shows progress, and uses the URL and key it returns", async () => {
    const up = new Set<string>();
    const net = fakeNetwork(up);
    const progress: string[] = [];
    let started = 0;
    const runner = new CodeRunner({
      baseURL: "http://127.0.0.1:8223",
      fetch: net.fetchImpl,
      onProgress: (line) => progress.push(line),
      ensureUp: async (options) => {
        started++;
        options?.onProgress?.("Building image coderunner:latest");
        up.add("http://127.0.0.1:18223");
        return { baseURL: "http://127.0.0.1:18223", apiKey: "container-key" };
      },
    });
    await Promise.all([runner.execute("1"), runner.execute("2")]);
    expect(started).toBe(1);
    expect(net.calls.filter((call) => call.url.endsWith("/v1/sessions/session"))).toHaveLength(1);
    expect(progress[0]).toContain("starting the local sandbox");
    expect(progress).toContain("Building image coderunner:latest");
    const executes = net.calls.filter((call) => call.url.endsWith("/execute"));
    expect(executes).toHaveLength(2);
    for (const call of executes) {
      expect(call.url).toBe("http://127.0.0.1:18223/execute");
      expect(call.headers["x-api-key"]).toBe("container-key");
    }
  });

  test("a lifecycle failure is a ContainerError with its reason and code, and the next call retries", async () => {
    const up = new Set<string>();
    const net = fakeNetwork(up);
    let attempts = 0;
    const runner = new CodeRunner({
      fetch: net.fetchImpl,
      ensureUp: async () => {
        attempts++;
        if (attempts === 1) throw Object.assign(new Error("Docker is not running: start it and retry"), { code: "DOCKER_UNAVAILABLE" });
        up.add("http://127.0.0.1:8223");
        return { baseURL: "http://127.0.0.1:8223" };
      },
    });
    const error = await runner.execute("1").catch((e) => e);
    expect(error).toBeInstanceOf(ContainerError);
    expect(error.code).toBe("DOCKER_UNAVAILABLE");
    expect(error.message).toContain("Docker is not running");
    expect((await runner.execute("1")).stdout).toBe("hi\n");
    expect(attempts).toBe(2);
  });

  test("autoStart false and nothing listening is a NetworkError naming the URL and the fix", async () => {
    const net = fakeNetwork(new Set());
    const runner = new CodeRunner({ baseURL: "http://127.0.0.1:1", autoStart: false, fetch: net.fetchImpl });
    const error = await runner.execute("1").catch((e) => e);
    expect(error).toBeInstanceOf(NetworkError);
    expect(error.message).toContain("http://127.0.0.1:1");
    expect(error.message).toContain("coderunner up");
  });

  test("close() on a client that never connected does not start anything", async () => {
    let started = 0;
    const runner = new CodeRunner({ fetch: fakeNetwork(new Set()).fetchImpl, ensureUp: async () => (started++, { baseURL: "x" }) });
    await runner[Symbol.asyncDispose]();
    expect(started).toBe(0);
  });
});

test("the lazily loaded lifecycle is the container lifecycle's own ensureUp", async () => {
  expect(await loadEnsureUp()).toBe(ensureUp);
});
