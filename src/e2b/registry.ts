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
}

/**
 * E2B sandboxes: each one CodeRunner session sandbox (its own container from the manager) plus the
 * E2B facts CodeRunner has no field for (template, access token, contexts). Only sandboxes created
 * through the E2B API are E2B's: other sessions are not listed or reachable here.
 */
export class E2BRegistry {
  private readonly sandboxes = new Map<string, E2BSandbox>();

  constructor(
    readonly manager: SandboxManager,
    private readonly clock: () => number = Date.now,
  ) {}

  /**
   * A new sandbox, answered once its session is open (the manager claims it with a warm kernel). Its
   * kernel and shell start in the user's home, as E2B's do: the sandbox sets that up on the kernel
   * ahead of the first run, so creating one costs no run of its own.
   */
  async create(request: { templateID: string; timeoutSeconds: number; metadata: Record<string, string>; envVars: Record<string, string>; egress?: boolean }): Promise<{ e2b: E2BSandbox; session: SessionSandbox }> {
    const session = await this.manager.create({ env: request.envVars, metadata: request.metadata, egress: request.egress, workingDirectory: SANDBOX_HOME });
    session.endsAt = this.clock() + request.timeoutSeconds * 1000;
    const e2b: E2BSandbox = {
      id: session.id,
      templateID: request.templateID,
      accessToken: randomBytes(24).toString("base64url"),
      envVars: request.envVars,
      contexts: new Map(),
    };
    this.sandboxes.set(e2b.id, e2b);
    return { e2b, session };
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
