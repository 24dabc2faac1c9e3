import type { DiskCap, SandboxBackend, SandboxHandle, SandboxLimits, SandboxSpec, SandboxUsage } from "../../../src/sandboxes/backend";

/** What a fake sandbox's server saw. */
export interface Seen {
  sandbox: string;
  method: string;
  path: string;
  key: string | null;
  body: string;
}

/**
 * A stand-in for one sandbox's `coderunner serve` on 127.0.0.1:0: it holds at most one session
 * (created by `POST /v1/sessions/session`), answers the routes the host calls itself, and echoes
 * every other request (which sandbox, path, body) so tests see where the router sent it.
 */
export function fakeSandboxServer(name: string, seen: Seen[], options: { sessions?: string[] } = {}) {
  const sessions: string[] = [...(options.sessions ?? [])];
  const now = new Date().toISOString();
  const info = (id: string) => ({ session_id: id, status: "active", vm_status: "active", created_at: now, last_used_at: now, end_at: null, executions: 0, pending_runs: 0, working_directory: "/w", metadata: {} });
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 0,
    async fetch(request) {
      const url = new URL(request.url);
      const body = request.method === "GET" ? "" : await request.text();
      seen.push({ sandbox: name, method: request.method, path: url.pathname + url.search, key: request.headers.get("x-api-key"), body });
      if (url.pathname === "/health") return Response.json({ status: "healthy", version: "fake", kernels: { idle: 1 } });
      if (url.pathname === "/v1/sessions/session") {
        const id = `s-${name}`;
        sessions.push(id);
        return Response.json({ session_id: id, status: "active" });
      }
      if (url.pathname === "/sessions" && request.method === "GET") return Response.json({ sessions: sessions.map(info) });
      const one = /^\/sessions\/([^/]+)$/.exec(url.pathname);
      if (one && request.method === "GET") {
        return sessions.includes(one[1]!) ? Response.json(info(one[1]!)) : Response.json({ detail: "no such session", code: "SESSION_NOT_FOUND" }, { status: 404 });
      }
      if (url.pathname === "/v1/sessions/sandboxes") return Response.json(sessions.map((id) => ({ sandbox_id: id, template_id: null, name: id, metadata: {}, status: "active", started_at: now, end_at: null })));
      if (url.pathname.startsWith("/v1/sessions/usage/")) {
        return Response.json({ session_id: url.pathname.split("/").pop(), cpu_seconds: 1, memory_bytes: 2, executions: 0, uptime_seconds: 1, kernel: { cpu_seconds: 1, memory_bytes: 2, pid: 9 }, shell: { cpu_seconds: null, memory_bytes: null, pid: null }, processes: [] });
      }
      if (url.pathname === "/v1/browser/sessions/") return Response.json({ sessions: [{ session_id: `browser-of-${name}` }] });
      if (url.pathname.endsWith("/stream")) {
        return new Response(
          new ReadableStream({
            async start(controller) {
              controller.enqueue(new TextEncoder().encode("data: first\n\n"));
              await Bun.sleep(Number(url.searchParams.get("ms") ?? 200));
              controller.enqueue(new TextEncoder().encode("data: last\n\n"));
              controller.close();
            },
          }),
          { headers: { "content-type": "text/event-stream" } },
        );
      }
      return Response.json({ sandbox: name, path: url.pathname + url.search, body: body.length > 2000 ? `${body.length} bytes` : body });
    },
  });
  return { server, sessions };
}

export interface FakeBackendOptions {
  /** Milliseconds each `create` takes. */
  createMs?: number;
  /** Makes the next `create` calls fail. */
  failCreates?: number;
  capacity?: { cpus: number; memoryMB: number };
}

/** An in-memory backend whose sandboxes are `fakeSandboxServer`s; records what was asked of it. */
export class FakeBackend implements SandboxBackend {
  readonly kind = "fake";
  readonly diskCap: DiskCap = { mechanism: "none", detail: "fake" };
  readonly seen: Seen[] = [];
  readonly handles = new Map<string, SandboxHandle & { stop: () => void }>();
  readonly updates: { id: string; limits: Pick<SandboxLimits, "memoryMB" | "cpus"> }[] = [];
  readonly removed: string[] = [];
  creates = 0;
  concurrentCreates = 0;
  maxConcurrentCreates = 0;
  private counter = 0;

  constructor(private readonly options: FakeBackendOptions = {}) {}

  async prepare(): Promise<void> {}

  async capacity() {
    return this.options.capacity ?? { cpus: 4, memoryMB: 8192 };
  }

  /** Adds a sandbox as if a previous host had left it (state, sessions inside, image age). */
  leave(options: { state?: SandboxHandle["state"]; sessions?: string[]; imageCurrent?: boolean; stopReason?: string; paused?: boolean }): SandboxHandle {
    return this.add({ role: "session", limits: { memoryMB: 512, cpus: 1, pidsLimit: 64, diskMB: 100 }, egress: true }, options);
  }

  private add(spec: SandboxSpec, options: { state?: SandboxHandle["state"]; sessions?: string[]; imageCurrent?: boolean; stopReason?: string; paused?: boolean } = {}) {
    const name = spec.role === "default" ? "default-sandbox" : `sb${++this.counter}`;
    const fake = fakeSandboxServer(name, this.seen, { sessions: options.sessions });
    const handle = {
      id: `id-${name}`,
      name,
      role: spec.role,
      state: options.state ?? "running",
      stopReason: options.stopReason,
      paused: options.paused,
      address: { baseURL: `http://127.0.0.1:${fake.server.port}`, apiKey: `key-${name}` },
      createdAt: new Date(),
      limits: { ...spec.limits },
      egress: spec.egress,
      imageCurrent: options.imageCurrent ?? true,
      stop: () => fake.server.stop(true),
    };
    this.handles.set(handle.id, handle);
    return handle;
  }

  async create(spec: SandboxSpec): Promise<SandboxHandle> {
    this.creates += 1;
    this.concurrentCreates += 1;
    this.maxConcurrentCreates = Math.max(this.maxConcurrentCreates, this.concurrentCreates);
    try {
      if (this.options.createMs) await Bun.sleep(this.options.createMs);
      if ((this.options.failCreates ?? 0) > 0) {
        this.options.failCreates! -= 1;
        throw new Error("the fake engine refused");
      }
      return this.add(spec);
    } finally {
      this.concurrentCreates -= 1;
    }
  }

  async ensureDefault(): Promise<SandboxHandle> {
    return [...this.handles.values()].find((handle) => handle.role === "default") ?? this.add({ role: "default", limits: { memoryMB: 1024, cpus: 1, pidsLimit: 64, diskMB: 100 }, egress: true });
  }

  async start(id: string) {
    return this.handles.get(id)!;
  }

  async stop(): Promise<void> {}

  async pause(id: string): Promise<void> {
    this.handles.get(id)!.paused = true;
  }

  async resume(id: string): Promise<void> {
    this.handles.get(id)!.paused = undefined;
  }

  async remove(id: string): Promise<void> {
    const handle = this.handles.get(id);
    if (!handle) return;
    handle.stop();
    this.handles.delete(id);
    this.removed.push(handle.name);
  }

  async list(): Promise<SandboxHandle[]> {
    return [...this.handles.values()];
  }

  async inspect(id: string): Promise<SandboxHandle | undefined> {
    return this.handles.get(id);
  }

  async update(id: string, limits: Pick<SandboxLimits, "memoryMB" | "cpus">): Promise<void> {
    this.updates.push({ id, limits });
  }

  async usage(): Promise<SandboxUsage> {
    return { memoryBytes: 100 * 1024 * 1024, cpuSeconds: 2.5, pids: 7 };
  }

  async lastLogLines(): Promise<string[]> {
    return ["fake log line"];
  }

  async sweepLeftovers(): Promise<void> {}

  /** Makes a sandbox die as its container would (the server gone, the reason kept). */
  kill(name: string, reason = "out of memory"): void {
    const handle = [...this.handles.values()].find((candidate) => candidate.name === name)!;
    handle.stop();
    handle.state = "failed";
    handle.stopReason = reason;
    handle.address = undefined;
  }

  /** Stops every fake server. */
  dispose(): void {
    for (const handle of this.handles.values()) handle.stop();
  }
}
