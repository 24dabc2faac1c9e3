import { afterEach, describe, expect, test } from "bun:test";
import { AppError } from "../../../src/errors";
import { HostProxy, PROXY_HEADER, type ProxyTarget } from "../../../src/host/host-proxy";

/** A stand-in for the container's server on 127.0.0.1:0, recording what reached it. */
function upstream(handler: (request: Request) => Response | Promise<Response>) {
  const seen: { path: string; key: string | null; host: string | null }[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 0,
    fetch: (request) => {
      const url = new URL(request.url);
      seen.push({ path: url.pathname + url.search, key: request.headers.get("x-api-key"), host: request.headers.get("host") });
      return handler(request);
    },
  });
  return { server, seen, target: { baseURL: `http://127.0.0.1:${server.port}`, apiKey: "container-key" } };
}

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

function proxy(target: (fresh: boolean) => Promise<ProxyTarget>, apiKey?: string) {
  const instance = new HostProxy({ containerName: "coderunner-unit", target, apiKey });
  const { url } = instance.listen("127.0.0.1", 0);
  cleanups.push(() => instance.stop());
  return url;
}

describe("HostProxy", () => {
  test("forwards method, path, query and body, injects the container's key, names the container", async () => {
    const up = upstream(async (request) => Response.json({ method: request.method, body: await request.text() }, { status: 201 }));
    cleanups.push(() => up.server.stop(true));
    const url = proxy(async () => up.target);
    const response = await fetch(`${url}/execute?x=1`, { method: "POST", body: '{"command":"1"}', headers: { "content-type": "application/json", "x-api-key": "client-guess" } });
    expect(response.status).toBe(201);
    expect(response.headers.get(PROXY_HEADER)).toBe("coderunner-unit");
    expect(await response.json()).toEqual({ method: "POST", body: '{"command":"1"}' });
    expect(up.seen[0]).toMatchObject({ path: "/execute?x=1", key: "container-key" });
  });

  test("a streamed response arrives piece by piece, before the upstream has finished", async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const up = upstream(
      () =>
        new Response(
          new ReadableStream({
            async start(controller) {
              controller.enqueue(new TextEncoder().encode("data: first\n\n"));
              await released;
              controller.enqueue(new TextEncoder().encode("data: second\n\n"));
              controller.close();
            },
          }),
          { headers: { "content-type": "text/event-stream" } },
        ),
    );
    cleanups.push(() => up.server.stop(true));
    const url = proxy(async () => up.target);
    const response = await fetch(`${url}/execute/stream`, { method: "POST" });
    const reader = response.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    expect(first).toBe("data: first\n\n"); // arrived while the upstream is still holding "second"
    release();
    let rest = "";
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) rest += new TextDecoder().decode(chunk.value);
    expect(rest).toBe("data: second\n\n");
  });

  test("an upload streams through: the upstream reads its first bytes before the client has sent the rest", async () => {
    let firstBytesSeen!: () => void;
    const seenFirst = new Promise<void>((resolve) => (firstBytesSeen = resolve));
    const up = upstream(async (request) => {
      let total = 0;
      for await (const chunk of request.body!) {
        if (total === 0) firstBytesSeen();
        total += chunk.length;
      }
      return Response.json({ total });
    });
    cleanups.push(() => up.server.stop(true));
    const url = proxy(async () => up.target);
    const chunk = new Uint8Array(64 * 1024).fill(7);
    const body = new ReadableStream<Uint8Array>({
      async start(controller) {
        controller.enqueue(chunk);
        await seenFirst; // the rest is only sent once the upstream got the start: a buffering proxy would deadlock here
        for (let i = 0; i < 15; i++) controller.enqueue(chunk);
        controller.close();
      },
    });
    const response = await fetch(`${url}/upload`, { method: "POST", body, headers: { "content-type": "multipart/form-data; boundary=x" }, duplex: "half" } as RequestInit);
    expect(await response.json()).toEqual({ total: 16 * chunk.length });
  });

  test("with a host key, clients must present it (header, or api_key in the SDK's session body); health stays open", async () => {
    const up = upstream(() => Response.json({ ok: true }));
    cleanups.push(() => up.server.stop(true));
    const url = proxy(async () => up.target, "host-key");
    expect((await fetch(`${url}/execute`, { method: "POST" })).status).toBe(401);
    const wrong = await fetch(`${url}/execute`, { method: "POST", headers: { "x-api-key": "nope" } });
    expect(await wrong.json()).toEqual({ detail: "The API key is not valid.", code: "UNAUTHORIZED" });
    expect((await fetch(`${url}/execute`, { method: "POST", headers: { "x-api-key": "host-key" } })).status).toBe(200);
    expect((await fetch(`${url}/health`)).status).toBe(200);
    const session = (key: string) =>
      fetch(`${url}/v1/sessions/session`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ api_key: key }) });
    expect((await session("host-key")).status).toBe(200);
    expect((await session("other")).status).toBe(401);
    expect(up.seen.every((request) => request.key === "container-key")).toBe(true);
  });

  test("after a connection failure the target is resolved again and a bodyless or small request retried", async () => {
    const up = upstream(() => Response.json({ ok: true }));
    cleanups.push(() => up.server.stop(true));
    const dead = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
    const stale = { baseURL: `http://127.0.0.1:${dead.port}`, apiKey: "old" };
    dead.stop(true);
    const calls: boolean[] = [];
    const url = proxy(async (fresh) => (calls.push(fresh), fresh ? up.target : stale));
    expect((await fetch(`${url}/health`)).status).toBe(200);
    const post = await fetch(`${url}/execute`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(post.status).toBe(200);
    expect(calls).toEqual([false, true, false, true]);
  });

  test("no container to reach: 503 {detail, code} saying what to run", async () => {
    const url = proxy(async () => {
      throw new AppError("DOCKER_UNAVAILABLE", "Container coderunner is exited: run `coderunner up` to start it.");
    });
    const response = await fetch(`${url}/execute`, { method: "POST", body: "{}" });
    expect(response.status).toBe(503);
    expect(await response.json()).toEqual({ detail: "Container coderunner is exited: run `coderunner up` to start it.", code: "DOCKER_UNAVAILABLE" });
  });
});
