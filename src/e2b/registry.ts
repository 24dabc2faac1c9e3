import { randomBytes } from "node:crypto";
import type { SandboxManager, SessionSandbox } from "../sandboxes/manager";
import { E2BError } from "./errors";
import { closeInnerSession, openInnerSession } from "./inner-api";

/** What the SDK gates features on: 0.5.6 keeps uploads multipart (0.5.7 would switch some to octet-stream). */
export const ENVD_VERSION = "0.5.6";

/** The sandbox user's home; E2B's `/home/user` maps onto it. */
export const SANDBOX_HOME = "/home/coderunner";

/** E2B's default sandbox lifetime when `create` names none, in seconds. */
export const DEFAULT_TIMEOUT_SECONDS = 300;

/** A code-interpreter context: its own session (kernel or shell) inside the sandbox. */
export interface CodeContext {
  id: string;
  language: "python" | "bash";
  cwd: string;
  /** The session inside the sandbox that runs its code. */
  inner: string;
  executionCount: number;
}

/** What E2B says about a sandbox beyond what the CodeRunner session knows. */
export interface E2BSandbox {
  id: string;
  templateID: string;
  /** Checked on the data plane (`X-Access-Token`). */
  accessToken: string;
  envVars: Record<string, string>;
  contexts: Map<string, CodeContext>;
  /** The bash session file RPCs run in, opened on first use. */
  filesSession?: Promise<string>;
  /** What its timeout does: end it (E2B's default) or pause it. */
  onTimeout: "kill" | "pause";
  /** A paused sandbox resumes when its data plane is called (E2B's `lifecycle.autoResume`). */
  autoResume: boolean;
  /** The lifetime it was created with, in seconds: what an automatic resume gives it again. */
  timeoutSeconds: number;
}

/** An E2B sandbox as `E2BStore` keeps it across host restarts. */
export interface E2BRecord extends Omit<E2BSandbox, "contexts" | "filesSession"> {
  contexts: CodeContext[];
  /** When its timeout ends (host clock, ms), if it has one. */
  endsAt?: number;
  paused?: boolean;
}

/**
 * E2B sandboxes: each one CodeRunner session sandbox (its own container from the manager) plus the
 * E2B facts CodeRunner has no field for (template, access token, contexts). Only sandboxes created
 * through the E2B API are E2B's: other sessions are not listed or reachable here.
 */
export class E2BRegistry {
  private readonly sandboxes = new Map<string, E2BSandbox>();
  /** Each sandbox's CPU time when its metrics were last read: the next reading's CPU use is since then. */
  private readonly cpuRead = new WeakMap<E2BSandbox, { at: number; cpuSeconds: number }>();

  constructor(
    readonly manager: SandboxManager,
    private readonly clock: () => number = Date.now,
  ) {}

  /**
   * A new sandbox, answered once its session is open (the manager claims it with a warm kernel). Its
   * kernel and shell start in the user's home, as E2B's do: the kernel enters it with its first request,
   * so creating one costs no run of its own.
   */
  async create(request: {
    templateID: string;
    timeoutSeconds: number;
    metadata: Record<string, string>;
    envVars: Record<string, string>;
    egress?: boolean;
    onTimeout?: "kill" | "pause";
    autoResume?: boolean;
  }): Promise<{ e2b: E2BSandbox; session: SessionSandbox }> {
    const session = await this.manager.create({ env: request.envVars, metadata: request.metadata, egress: request.egress, workingDirectory: SANDBOX_HOME });
    session.endsAt = this.clock() + request.timeoutSeconds * 1000;
    if (request.onTimeout === "pause") session.onExpiry = "pause";
    const e2b: E2BSandbox = {
      id: session.id,
      templateID: request.templateID,
      accessToken: randomBytes(24).toString("base64url"),
      envVars: request.envVars,
      contexts: new Map(),
      onTimeout: request.onTimeout ?? "kill",
      autoResume: request.autoResume ?? false,
      timeoutSeconds: request.timeoutSeconds,
    };
    this.sandboxes.set(e2b.id, e2b);
    return { e2b, session };
  }

  /** What a restarted host needs to know its sandboxes again (`E2BStore`). */
  records(): E2BRecord[] {
    return this.list().map(({ e2b, session }) => {
      const { contexts, filesSession: _, ...facts } = e2b;
      return { ...facts, contexts: [...contexts.values()], endsAt: session.endsAt, paused: session.paused || undefined };
    });
  }

  /**
   * Knows again the sandboxes of `records` whose session the manager found (a host that restarts
   * finds its sandboxes' containers): their tokens, contexts and lifecycles, their timeouts as they
   * were, and paused again if they were. Returns how many.
   */
  restore(records: E2BRecord[]): number {
    let count = 0;
    for (const { contexts, endsAt, paused, ...facts } of records) {
      const session = this.manager.find(facts.id);
      if (!session || this.sandboxes.has(facts.id)) continue;
      this.sandboxes.set(facts.id, { ...facts, contexts: new Map(contexts.map((context) => [context.id, context])) });
      session.endsAt = endsAt;
      if (facts.onTimeout === "pause") session.onExpiry = "pause";
      if (paused) void this.manager.pause(facts.id).catch(() => undefined);
      count += 1;
    }
    return count;
  }

  /** The live sandbox `id`, or a 404 in E2B's shape. */
  get(id: string): { e2b: E2BSandbox; session: SessionSandbox } {
    const e2b = this.sandboxes.get(id);
    const session = e2b && this.manager.find(id);
    if (!e2b || !session) {
      if (e2b) this.sandboxes.delete(id);
      throw new E2BError(404, `Sandbox ${id} not found${this.manager.ended(id) ? `: ${this.manager.ended(id)}` : ""}.`);
    }
    return { e2b, session };
  }

  list(): { e2b: E2BSandbox; session: SessionSandbox }[] {
    return [...this.sandboxes.keys()].flatMap((id) => {
      try {
        return [this.get(id)];
      } catch {
        return [];
      }
    });
  }

  /** Ends the sandbox now; false when there is no such live sandbox. */
  async kill(id: string): Promise<boolean> {
    if (!this.sandboxes.has(id)) return false;
    this.sandboxes.delete(id);
    return this.manager.close(id, "It was killed (E2B kill).");
  }

  /**
   * Freezes sandbox `id` (`docker pause`: every process stops where it is, memory kept) until
   * `resume`. While paused its lifetime does not run out. False when it was already paused.
   */
  pause(id: string): Promise<boolean> {
    return this.manager.pause(this.get(id).session.id);
  }

  /** Lets a paused sandbox go on, to end `timeoutSeconds` from now (E2B's 300 s when unsaid). False when it was not paused. */
  async resume(id: string, timeoutSeconds: number = DEFAULT_TIMEOUT_SECONDS): Promise<boolean> {
    const { session } = this.get(id);
    if (!session.paused) return false;
    session.endsAt = this.clock() + timeoutSeconds * 1000;
    return this.manager.resume(id);
  }

  /**
   * The sandbox's figures now, as E2B's `getMetrics` reads them: one sample, from its container's
   * cgroup and its disk. CPU is its use since the previous reading (since it started, on the first),
   * as a percentage of the CPUs it may use. A paused sandbox has none.
   */
  async metrics(id: string) {
    const { e2b, session } = this.get(id);
    if (session.paused) return [];
    const usage = await this.manager.backend.usage(session.sandbox.id);
    const now = this.clock();
    const { limits } = session.sandbox;
    const cpuSeconds = usage.cpuSeconds ?? 0;
    const previous = this.cpuRead.get(e2b) ?? { at: session.createdAt.getTime(), cpuSeconds: 0 };
    this.cpuRead.set(e2b, { at: now, cpuSeconds });
    const seconds = Math.max(0.001, (now - previous.at) / 1000);
    const share = (cpuSeconds - previous.cpuSeconds) / seconds / (limits.cpus || 1);
    return [
      {
        timestamp: new Date(now).toISOString(),
        timestampUnix: Math.floor(now / 1000),
        cpuUsedPct: Math.round(Math.min(100, Math.max(0, share * 100)) * 100) / 100,
        cpuCount: limits.cpus,
        memUsed: usage.memoryBytes ?? 0,
        memTotal: limits.memoryMB * 1024 * 1024,
        memCache: usage.cacheBytes ?? 0,
        diskUsed: usage.diskBytes ?? 0,
        diskTotal: limits.diskMB * 1024 * 1024,
      },
    ];
  }

  /** The sandbox ends `seconds` from now (the manager's sweep removes it then). */
  setTimeout(id: string, seconds: number): void {
    this.get(id).session.endsAt = this.clock() + seconds * 1000;
  }

  /** The bash session file operations run in, inside sandbox `id`. */
  filesSession(id: string): Promise<string> {
    const { e2b, session } = this.get(id);
    e2b.filesSession ??= openInnerSession(session, "bash").catch((error) => {
      e2b.filesSession = undefined;
      throw error;
    });
    return e2b.filesSession;
  }

  /** Closes a context's own session; the default context (the sandbox's main session) stays. */
  async closeContext(session: SessionSandbox, context: CodeContext): Promise<void> {
    if (context.inner !== session.id) await closeInnerSession(session, context.inner);
  }
}
