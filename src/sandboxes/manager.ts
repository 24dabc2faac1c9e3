import type { CreateSessionBody, InstaVMSessionCreated, SessionInfo, SessionList } from "../contract/sessions";
import { AppError, messageOf } from "../errors";
import type { Logger } from "../log";
import type { SandboxBackend, SandboxHandle, SandboxLimits, SandboxSpec } from "./backend";
import { BootQueue } from "./boot-queue";
import { type Fetch, SandboxAPI, SandboxUnreachable } from "./sandbox-api";
import { WarmPool } from "./warm-pool";

const DEFAULT_ID = "default";

/** What a client asks of a new session (the body of `POST /v1/sessions/session`, already validated). */
export interface SessionRequest {
  env?: Record<string, string>;
  metadata?: Record<string, unknown>;
  lifetimeSeconds?: number;
  language?: string;
  memoryMB?: number;
  cpus?: number;
  diskMB?: number;
  egress?: boolean;
  /** Where the session's kernel and shell start, inside its sandbox (default: the sandbox's workspace). */
  workingDirectory?: string;
}

/** One session and the sandbox it owns. */
export interface SessionSandbox {
  id: string;
  sandbox: SandboxHandle;
  api: SandboxAPI;
  createdAt: Date;
  /** Host clock (ms) of the last request routed to it. */
  lastUsed: number;
  /** Requests routed to it and not yet answered in full. */
  inflight: number;
  /** When its lifetime ends (ms), if it has one. */
  endsAt?: number;
  metadata: Record<string, unknown>;
  /** Frozen by `pause` until `resume`: no request reaches it, and neither idle time nor lifetime counts. */
  paused?: boolean;
  /** What the end of its lifetime does: `close` (the default) or `pause` (E2B's `onTimeout: "pause"`). */
  onExpiry?: "close" | "pause";
}

export interface ManagerOptions {
  backend: SandboxBackend;
  /** Warm sandboxes kept ready. */
  poolSize: number;
  /** Limits of sandboxes that ask for none. */
  limits: SandboxLimits;
  /** Internet egress of sandboxes that do not say. */
  egress: boolean;
  maxSessions: number;
  idleSeconds: number;
  /** How long a new sandbox may take to answer with a warm kernel. */
  readyTimeoutSeconds: number;
  log: Logger;
  fetch?: Fetch;
  clock?: () => number;
  /** How often lifetimes and dead sandboxes are checked. */
  sweepMs?: number;
  /** Sandbox starts at once; default the Engine's CPUs (at least 2). */
  bootConcurrency?: number;
}

/** Why a session ended, kept a while so its calls answer 410 with the reason instead of 404. */
interface Tombstone {
  reason: string;
  at: number;
}

/**
 * Sessions as sandboxes: each session created through the API gets its own sandbox (from the warm
 * pool when one is ready, else started on the spot, side by side with other starts), and calls that
 * name no session go to the default sandbox. The manager owns their lifecycle: idle expiry, lifetime,
 * limits, removal on close, and on start it finds the sandboxes a previous host left running (their
 * sessions go on) and removes what no session owns.
 *
 * Everything it knows can be rebuilt from the backend and the sandboxes themselves: a host killed
 * with SIGKILL loses nothing but requests in flight.
 */
export class SandboxManager {
  readonly backend: SandboxBackend;
  private readonly sessions = new Map<string, SessionSandbox>();
  private readonly tombstones = new Map<string, Tombstone>();
  private readonly pool: WarmPool;
  private boots = new BootQueue(2);
  private readonly fetch: Fetch | undefined;
  private readonly clock: () => number;
  private defaultSandbox: SandboxHandle | undefined;
  private defaultAPI: SandboxAPI | undefined;
  private creating = 0;
  private sweeper: Timer | undefined;
  private sweeping: Promise<void> | undefined;
  private lastDeadCheck = 0;
  /** The most CPUs and memory (MiB) a session may ask for, from the backend at start. */
  private capacity: { cpus: number; memoryMB: number } | undefined;

  constructor(private readonly options: ManagerOptions) {
    this.backend = options.backend;
    this.fetch = options.fetch;
    this.clock = options.clock ?? Date.now;
    this.pool = new WarmPool({
      size: options.poolSize,
      launch: () => this.launch({ role: "session", limits: options.limits, egress: options.egress }, "pool"),
      discard: (sandbox) => this.backend.remove(sandbox.id),
      log: options.log,
    });
  }

  /** Brings up the backend and the default sandbox, adopts what a previous host left, fills the pool. */
  async start(onProgress?: (line: string) => void): Promise<void> {
    await this.backend.prepare(onProgress);
    this.capacity = await this.backend.capacity();
    // A quota above the machine's CPUs is refused by the Engine: the default is at most what there is.
    this.options.limits.cpus = Math.min(this.options.limits.cpus, this.capacity.cpus);
    this.boots = new BootQueue(this.options.bootConcurrency ?? Math.max(2, this.capacity.cpus));
    await this.ensureDefault(onProgress);
    await this.reconcile();
    this.pool.start();
    const every = this.options.sweepMs ?? 1000;
    this.sweeper = setInterval(() => void this.sweep(), every);
    this.sweeper.unref?.();
  }

  /** The default sandbox, (re)started when it is not running. */
  async ensureDefault(onProgress?: (line: string) => void): Promise<SandboxAPI> {
    if (this.defaultAPI && this.defaultSandbox?.state === "running") return this.defaultAPI;
    const handle = await this.backend.ensureDefault(onProgress);
    this.defaultSandbox = handle;
    this.defaultAPI = new SandboxAPI(handle.address!, this.fetch);
    return this.defaultAPI;
  }

  /** Where calls without a session go. */
  get defaultTarget(): SandboxAPI {
    if (!this.defaultAPI) throw new AppError("DOCKER_UNAVAILABLE", "The default sandbox is not running yet.");
    return this.defaultAPI;
  }

  /** The default sandbox's address looked up again (after it restarted on a new port); undefined when it is not running. */
  async refreshDefault(): Promise<SandboxAPI | undefined> {
    const handle = this.defaultSandbox && (await this.backend.inspect(this.defaultSandbox.id));
    if (!handle?.address) {
      this.defaultAPI = undefined;
      return undefined;
    }
    this.defaultSandbox = handle;
    this.defaultAPI = new SandboxAPI(handle.address, this.fetch);
    return this.defaultAPI;
  }

  /** The session `id` names, or undefined (unknown ids are the default sandbox's to answer). */
  find(id: string): SessionSandbox | undefined {
    return this.sessions.get(id);
  }

  /** Why session `id` ended, if it ended lately by itself or was closed. */
  ended(id: string): string | undefined {
    return this.tombstones.get(id)?.reason;
  }

  list(): SessionSandbox[] {
    return [...this.sessions.values()];
  }

  get size(): number {
    return this.sessions.size;
  }

  /** Marks a session used now and one more request in flight; call the returned function when it is answered. A paused session is a 409. */
  use(session: SessionSandbox): () => void {
    if (session.paused) throw new AppError("SESSION_PAUSED", `Session ${session.id} is paused: its processes are frozen until it is resumed (E2B Sandbox.connect).`);
    session.lastUsed = this.clock();
    session.inflight += 1;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      session.inflight -= 1;
      session.lastUsed = this.clock();
    };
  }

  /** Figures for /health. */
  stats() {
    return { sessions: this.sessions.size, creating: this.creating, starts_queued: this.boots.queued, pool: this.pool.stats(), disk_cap: this.backend.diskCap };
  }

  private spec(request: SessionRequest): SandboxSpec {
    const { limits } = this.options;
    return {
      role: "session",
      egress: request.egress ?? this.options.egress,
      limits: {
        memoryMB: request.memoryMB ?? limits.memoryMB,
        cpus: request.cpus ?? limits.cpus,
        pidsLimit: limits.pidsLimit,
        diskMB: request.diskMB ?? limits.diskMB,
      },
    };
  }

  private checkLimits(request: SessionRequest): void {
    const capacity = this.capacity;
    if (request.memoryMB !== undefined) {
      if (!Number.isInteger(request.memoryMB) || request.memoryMB < 256) {
        throw new AppError("INVALID_REQUEST", `memory_mb must be a whole number of MiB, at least 256 (got ${request.memoryMB}).`);
      }
      if (capacity && request.memoryMB > capacity.memoryMB) {
        throw new AppError("INVALID_REQUEST", `memory_mb ${request.memoryMB} is more than this machine has (${capacity.memoryMB} MiB).`);
      }
    }
    if (request.cpus !== undefined) {
      if (!(request.cpus >= 0.01)) throw new AppError("INVALID_REQUEST", `vcpu_count must be at least 0.01 (got ${request.cpus}).`);
      if (capacity && request.cpus > capacity.cpus) {
        throw new AppError("INVALID_REQUEST", `vcpu_count ${request.cpus} is more than this machine's ${capacity.cpus} CPUs.`);
      }
    }
    if (request.diskMB !== undefined && (!Number.isInteger(request.diskMB) || request.diskMB < 64)) {
      throw new AppError("INVALID_REQUEST", `disk_mb must be a whole number of MiB, at least 64 (got ${request.diskMB}).`);
    }
  }

  /**
   * A new session in a sandbox of its own: a warm one when the request fits the pool (internet on,
   * disk as configured; memory and CPU are changed on the spot), else one started for it. Fails with
   * 429 past `maxSessions`; leaves nothing behind when it fails.
   */
  async create(request: SessionRequest): Promise<SessionSandbox> {
    this.checkLimits(request);
    if (this.sessions.size + this.creating >= this.options.maxSessions) {
      throw new AppError("TOO_MANY_SESSIONS", `At most ${this.options.maxSessions} sessions may be open; close one first.`);
    }
    this.creating += 1;
    try {
      const spec = this.spec(request);
      // Warm sandboxes have the configured network and disk; memory and CPU change on the spot.
      const fitsPool = spec.egress === this.options.egress && spec.limits.diskMB === this.options.limits.diskMB;
      for (let attempt = 0; ; attempt++) {
        const warm = fitsPool && attempt < 2 ? (this.pool.take() ?? (await this.pool.next())) : undefined;
        const sandbox = warm ?? (await this.launch(spec, "claim"));
        try {
          const { memoryMB, cpus } = spec.limits;
          if (warm && (memoryMB !== warm.limits.memoryMB || cpus !== warm.limits.cpus)) {
            await this.backend.update(warm.id, { memoryMB, cpus });
            warm.limits = { ...warm.limits, memoryMB, cpus };
          }
          return await this.claim(sandbox, request);
        } catch (error) {
          await this.backend.remove(sandbox.id).catch((removeError) => this.options.log.warn(`Removing sandbox ${sandbox.name}: ${messageOf(removeError)}`));
          // A warm sandbox that died or refused its new limits is replaced by a fresh one; a request it refused as invalid is not retried.
          if (!warm || (error instanceof AppError && error.code === "VALIDATION_ERROR")) throw error;
          this.options.log.warn(`Warm sandbox ${sandbox.name} could not be claimed (${messageOf(error)}); starting another`);
        }
      }
    } finally {
      this.creating -= 1;
    }
  }

  /** Opens the session inside its sandbox and registers it. */
  private async claim(sandbox: SandboxHandle, request: SessionRequest): Promise<SessionSandbox> {
    const api = new SandboxAPI(sandbox.address!, this.fetch);
    const created = await api.json<InstaVMSessionCreated>(
      "POST",
      "/v1/sessions/session",
      { env: request.env, metadata: request.metadata, vm_lifetime_seconds: request.lifetimeSeconds, language: request.language, working_directory: request.workingDirectory } satisfies CreateSessionBody,
      this.options.readyTimeoutSeconds * 1000,
    );
    const now = this.clock();
    const session: SessionSandbox = {
      id: created.session_id,
      sandbox,
      api,
      createdAt: new Date(now),
      lastUsed: now,
      inflight: 0,
      endsAt: request.lifetimeSeconds === undefined ? undefined : now + request.lifetimeSeconds * 1000,
      metadata: request.metadata ?? {},
    };
    this.sessions.set(session.id, session);
    this.options.log.info(`Session ${session.id} runs in sandbox ${sandbox.name}`);
    return session;
  }

  /** Resolves once the warm pool has started every sandbox it was missing (or failed to). */
  warm(): Promise<void> {
    return this.pool.settled();
  }

  /**
   * Starts a sandbox and waits until it answers with a warm kernel; removes it when it does not.
   * Starts wait their turn in the boot queue, a waiting session's before the pool's.
   */
  private launch(spec: SandboxSpec, priority: "claim" | "pool"): Promise<SandboxHandle> {
    return this.boots.run(priority, () => this.boot(spec));
  }

  private async boot(spec: SandboxSpec): Promise<SandboxHandle> {
    let sandbox: SandboxHandle;
    try {
      sandbox = await this.backend.create(spec);
    } catch (error) {
      throw error instanceof AppError ? error : new AppError("DOCKER_UNAVAILABLE", `Cannot start a sandbox: ${messageOf(error)}`, { cause: error });
    }
    try {
      return await this.waitReady(sandbox);
    } catch (error) {
      await this.backend.remove(sandbox.id).catch(() => undefined);
      throw error;
    }
  }

  private async waitReady(sandbox: SandboxHandle): Promise<SandboxHandle> {
    const deadline = performance.now() + this.options.readyTimeoutSeconds * 1000;
    let current = sandbox;
    let polls = 0;
    for (;;) {
      if (current.address) {
        const health = await new SandboxAPI(current.address, this.fetch).health(1000);
        if (health && (health.kernels?.idle ?? 1) >= 1) return current;
      }
      if (++polls % 10 === 0 || !current.address) {
        const now = await this.backend.inspect(current.id);
        if (!now || now.state !== "running") {
          const tail = await this.backend.lastLogLines(current.id, 10).catch(() => []);
          throw new AppError("DOCKER_UNAVAILABLE", `Sandbox ${current.name} stopped while starting (${now?.stopReason ?? "removed"}).${tail.length ? `\nLast log lines:\n${tail.join("\n")}` : ""}`);
        }
        current = now;
      }
      if (performance.now() > deadline) {
        const tail = await this.backend.lastLogLines(current.id, 10).catch(() => []);
        throw new AppError("DOCKER_UNAVAILABLE", `Sandbox ${current.name} did not answer within ${this.options.readyTimeoutSeconds} s.${tail.length ? `\nLast log lines:\n${tail.join("\n")}` : ""}`);
      }
      await Bun.sleep(20);
    }
  }

  /**
   * Freezes session `id`'s sandbox (every process, memory kept) until `resume`. Requests that name it
   * meanwhile are refused with 409; its idle time and lifetime stop counting. False when it was already paused.
   */
  async pause(id: string): Promise<boolean> {
    const session = this.sessions.get(id);
    if (!session) throw new AppError("SESSION_NOT_FOUND", `No session ${id}.`);
    if (session.paused) return false;
    session.paused = true;
    try {
      await this.backend.pause(session.sandbox.id);
    } catch (error) {
      session.paused = undefined;
      throw error;
    }
    this.options.log.info(`Session ${id} paused`);
    return true;
  }

  /** Lets a paused session's processes go on, its idle time counted from now. False when it was not paused. */
  async resume(id: string): Promise<boolean> {
    const session = this.sessions.get(id);
    if (!session) throw new AppError("SESSION_NOT_FOUND", `No session ${id}.`);
    if (!session.paused) return false;
    await this.backend.resume(session.sandbox.id);
    session.paused = undefined;
    session.lastUsed = this.clock();
    this.options.log.info(`Session ${id} resumed`);
    return true;
  }

  /**
   * Ends a session: removes its sandbox (processes, files, disk). False when no such session.
   * `reason` is what later calls naming it are told (410).
   */
  async close(id: string, reason = "It was closed."): Promise<boolean> {
    const session = this.sessions.get(id);
    if (!session) return false;
    this.sessions.delete(id);
    this.bury(id, reason);
    await this.backend.remove(session.sandbox.id).catch((error) => this.options.log.warn(`Removing sandbox ${session.sandbox.name}: ${messageOf(error)}`));
    this.options.log.info(`Session ${id} ended: ${reason}`);
    return true;
  }

  private bury(id: string, reason: string): void {
    this.tombstones.set(id, { reason, at: this.clock() });
    // Bounded: the oldest go first.
    while (this.tombstones.size > 10_000) this.tombstones.delete(this.tombstones.keys().next().value!);
  }

  /**
   * A session whose sandbox no longer answers: when its container stopped, the session is over
   * (removed, and its calls answer 410 with why). True when that was the case.
   */
  async checkGone(session: SessionSandbox): Promise<boolean> {
    const now = await this.backend.inspect(session.sandbox.id).catch(() => undefined);
    if (now && now.state === "running") return false;
    const why = now?.stopReason ? `Its sandbox stopped: ${now.stopReason}; its state and files are gone.` : "Its sandbox is gone.";
    await this.close(session.id, why);
    return true;
  }

  /** Finds the sandboxes of this instance a previous host left: sessions go on, warm ones rejoin the pool, the rest go. */
  private async reconcile(): Promise<void> {
    const handles = await this.backend.list();
    for (const handle of handles) {
      if (handle.role !== "session") continue;
      if (handle.state !== "running" || !handle.address) {
        this.options.log.info(`Removing sandbox ${handle.name}: it is ${handle.state}${handle.stopReason ? ` (${handle.stopReason})` : ""}`);
        await this.backend.remove(handle.id).catch(() => undefined);
        continue;
      }
      // Paused under the previous host: its API answers nothing while frozen, and nothing here remembers the pause.
      if (handle.paused) await this.backend.resume(handle.id).catch((error) => this.options.log.warn(`Resuming sandbox ${handle.name}: ${messageOf(error)}`));
      const api = new SandboxAPI(handle.address, this.fetch);
      const listed = await api.json<SessionList>("GET", "/sessions", undefined, 5000).catch(() => undefined);
      const own = listed?.sessions.find((session) => session.session_id !== DEFAULT_ID);
      if (own) {
        this.sessions.set(own.session_id, {
          id: own.session_id,
          sandbox: handle,
          api,
          createdAt: new Date(own.created_at),
          lastUsed: Date.parse(own.last_used_at) || this.clock(),
          inflight: 0,
          endsAt: own.end_at ? Date.parse(own.end_at) : undefined,
          metadata: own.metadata ?? {},
        });
        this.options.log.info(`Found session ${own.session_id} in sandbox ${handle.name}`);
        continue;
      }
      const warm = listed && handle.imageCurrent && handle.egress === this.options.egress && handle.limits.diskMB === this.options.limits.diskMB;
      if (warm && (await api.health()) && this.pool.adopt(handle)) {
        this.options.log.info(`Sandbox ${handle.name} rejoins the warm pool`);
        continue;
      }
      this.options.log.info(`Removing sandbox ${handle.name}: no session owns it`);
      await this.backend.remove(handle.id).catch(() => undefined);
    }
    await this.backend.sweepLeftovers(await this.backend.list()).catch((error) => this.options.log.warn(`Sweeping leftovers: ${messageOf(error)}`));
  }

  /** Ends sessions past their lifetime or idle limit, and those whose sandbox died. */
  async sweep(): Promise<void> {
    this.sweeping ??= this.sweepOnce().finally(() => (this.sweeping = undefined));
    return this.sweeping;
  }

  private async sweepOnce(): Promise<void> {
    const now = this.clock();
    const idleMs = this.options.idleSeconds * 1000;
    for (const session of [...this.sessions.values()]) {
      if (session.paused) continue;
      if (session.endsAt !== undefined && now >= session.endsAt) {
        if (session.onExpiry === "pause") await this.pause(session.id).catch((error) => this.options.log.warn(`Pausing ${session.id} at the end of its lifetime: ${messageOf(error)}`));
        else await this.close(session.id, "Its lifetime (vm_lifetime_seconds) ended.");
        continue;
      }
      if (session.inflight > 0 || now - session.lastUsed < idleMs) continue;
      // Idle as far as the host saw; the sandbox may still be running an async task.
      const info = await session.api.json<Partial<SessionInfo>>("GET", `/sessions/${session.id}`, undefined, 5000).catch((error) =>
        error instanceof SandboxUnreachable ? undefined : null,
      );
      if (info === undefined) {
        await this.checkGone(session);
        continue;
      }
      const used = Math.max(session.lastUsed, Date.parse(info?.last_used_at ?? "") || 0);
      session.lastUsed = used;
      if ((info?.pending_runs ?? 0) > 0 || now - used < idleMs) continue;
      await this.close(session.id, `It was idle for ${this.options.idleSeconds} s.`);
    }
    for (const [id, stone] of this.tombstones) if (now - stone.at > 3_600_000) this.tombstones.delete(id);
    if (now - this.lastDeadCheck >= 10_000) {
      this.lastDeadCheck = now;
      await this.reapDead();
    }
  }

  /** Sessions whose sandbox stopped on its own (its server died, the Engine killed it). */
  private async reapDead(): Promise<void> {
    if (this.sessions.size === 0) return;
    const handles = await this.backend.list().catch(() => undefined);
    if (!handles) return;
    const byId = new Map(handles.map((handle) => [handle.id, handle]));
    for (const session of [...this.sessions.values()]) {
      const handle = byId.get(session.sandbox.id);
      if (!handle || handle.state !== "running") await this.checkGone(session);
    }
  }

  /**
   * Stops managing: the pool's sandboxes are removed; session sandboxes and the default one keep
   * running, so a host started again finds them (`down` removes them).
   */
  async stop(): Promise<void> {
    clearInterval(this.sweeper);
    this.sweeper = undefined;
    await this.sweeping?.catch(() => undefined);
    await this.pool.stop();
  }

  /** Removes every session's sandbox and the pool's; the default one is left to the caller. */
  async removeAll(): Promise<number> {
    await this.stop();
    const ids = [...this.sessions.keys()];
    await Promise.allSettled(ids.map((id) => this.close(id, "CodeRunner was shut down (coderunner down).")));
    return ids.length;
  }
}
