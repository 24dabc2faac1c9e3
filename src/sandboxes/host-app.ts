import { Elysia } from "elysia";
import type { BrowserSessionList } from "../contract/browser";
import { AppError } from "../errors";
import { checkEnvironment } from "../kernels/environment";
import type { Logger } from "../log";
import { apiKeyGuard } from "../server/auth";
import { bodyParsing, errorHandling } from "../server/http-errors";
import { matchesMetadata, parseMetadataFilter, sandboxEntry } from "../server/sandbox-list";
import { errors, Success } from "../contract/common";
import {
  CreateSessionBody,
  InstaVMSessionCreated,
  KillBody,
  Killed,
  SandboxEntry,
  SandboxesQuery,
  SandboxList,
  SeedCreateSession,
  SessionCreated,
  SessionIdParams,
  type SessionList,
  Usage,
} from "../contract/sessions";
import { VERSION } from "../version";
import type { SandboxManager, SessionRequest, SessionSandbox } from "./manager";
import type { SandboxAPI } from "./sandbox-api";

export interface HostAppDeps {
  manager: SandboxManager;
  log: Logger;
  apiKey?: string;
  maxBodyBytes: number;
}

type Entry = typeof SandboxEntry.static;

/** Asks every sandbox in parallel; those that do not answer within `timeoutMs` are left out. */
async function fromEach<T>(targets: SandboxAPI[], call: (api: SandboxAPI) => Promise<T>): Promise<T[]> {
  const settled = await Promise.allSettled(targets.map(call));
  return settled.flatMap((result) => (result.status === "fulfilled" ? [result.value] : []));
}

/**
 * The routes the host answers itself, because they are about sandboxes rather than inside one:
 * creating and ending sessions (each a sandbox), listing them, usage with the sandbox's own figures,
 * the browser sessions of every sandbox, and health. Same schemas, validation and `{detail, code}`
 * errors as `coderunner serve`; every other route is forwarded to a sandbox by the router.
 */
export function createHostApp(deps: HostAppDeps) {
  const { manager } = deps;
  // A paused sandbox answers nothing until it is resumed: it is left out of what every sandbox is asked.
  const sessionTargets = () => manager.list().filter((session) => !session.paused).map((session) => session.api);

  const create = async (body: typeof CreateSessionBody.static | undefined): Promise<SessionSandbox> => {
    const request: SessionRequest = {
      env: checkEnvironment(body?.env) ?? undefined,
      metadata: body?.metadata ?? undefined,
      lifetimeSeconds: body?.vm_lifetime_seconds ?? undefined,
      language: body?.language,
      memoryMB: body?.memory_mb ?? undefined,
      cpus: body?.vcpu_count ?? undefined,
      diskMB: body?.disk_mb ?? undefined,
      egress: body?.allow_internet_access ?? undefined,
      workingDirectory: body?.working_directory ?? undefined,
    };
    return manager.create(request);
  };

  /** Ends a live session's sandbox; "default" and unknown ids are the default sandbox's to answer. */
  const close = async (id: string) => {
    if (await manager.close(id)) return;
    const gone = manager.ended(id);
    if (gone) throw new AppError("SESSION_GONE", `Session ${id} has ended: ${gone}`);
    await manager.defaultTarget.json("DELETE", `/sessions/${encodeURIComponent(id)}`);
  };

  return new Elysia({ name: "coderunner-host" })
    .use(errorHandling(deps.log))
    .use(bodyParsing(deps.maxBodyBytes))
    .use(apiKeyGuard(deps.apiKey))
    .get("/health", async () => {
      const inside = await manager.defaultTarget.health(2000).catch(() => undefined);
      const stats = manager.stats();
      return {
        status: "healthy",
        version: VERSION,
        isolation: {
          mode: "sandbox per session",
          backend: manager.backend.kind,
          disk_cap: stats.disk_cap,
          inside: inside?.isolation ?? null,
        },
        sandboxes: { sessions: stats.sessions, creating: stats.creating, pool: stats.pool },
        default_sandbox: inside ? { status: "healthy", kernels: inside.kernels, browser: inside.browser } : { status: "not answering" },
      };
    })
    .post("/sessions", async ({ body }) => ({ session_id: (await create({ language: body?.language })).id }), {
      body: SeedCreateSession,
      response: { 200: SessionCreated, ...errors(400, 422, 429, 503) },
    })
    .post("/v1/sessions/session", async ({ body }) => ({ session_id: (await create(body ?? undefined)).id, status: "active" }), {
      body: CreateSessionBody,
      response: { 200: InstaVMSessionCreated, ...errors(400, 401, 422, 429, 503) },
    })
    .get("/sessions", async () => {
      const own = await fromEach(sessionTargets(), (api) => api.json<SessionList>("GET", "/sessions", undefined, 3000));
      const inDefault = await manager.defaultTarget.json<SessionList>("GET", "/sessions", undefined, 3000).catch((): SessionList => ({ sessions: [] }));
      const known = new Set(manager.list().map((session) => session.id));
      return { sessions: [...inDefault.sessions, ...own.flatMap((listed) => listed.sessions.filter((session) => known.has(String(session.session_id))))] };
    })
    .delete(
      "/sessions/:id",
      async ({ params }) => {
        await close(params.id);
        return { success: true };
      },
      { params: SessionIdParams, response: { 200: Success, ...errors(404, 410) } },
    )
    .post(
      "/kill",
      async ({ body }) => {
        await close(body.session_id);
        return { success: true, session_id: body.session_id };
      },
      { body: KillBody, response: { 200: Killed, ...errors(404, 410, 422) } },
    )
    .get(
      "/v1/sessions/sandboxes",
      async ({ query }) => {
        const filter = parseMetadataFilter(query.metadata);
        const inDefault = await manager.defaultTarget.json<Entry[]>("GET", "/v1/sessions/sandboxes", undefined, 3000).catch(() => [] as Entry[]);
        const own: Entry[] = manager.list().map((session) =>
          sandboxEntry({ ...session, endsAt: session.endsAt === undefined ? undefined : new Date(session.endsAt) }),
        );
        return [...inDefault, ...own].filter((entry) => matchesMetadata(entry.metadata, filter)).slice(0, query.limit ?? undefined);
      },
      { query: SandboxesQuery, response: { 200: SandboxList, ...errors(400, 422) } },
    )
    .get(
      "/v1/sessions/usage/:id",
      async ({ params }) => {
        const session = manager.find(params.id);
        if (!session) return manager.defaultTarget.json<typeof Usage.static>("GET", `/v1/sessions/usage/${encodeURIComponent(params.id)}`);
        const done = manager.use(session);
        try {
          const [inside, whole] = await Promise.all([
            session.api.json<typeof Usage.static>("GET", `/v1/sessions/usage/${encodeURIComponent(params.id)}`),
            manager.backend.usage(session.sandbox.id).catch(() => ({ memoryBytes: null, cpuSeconds: null, pids: null })),
          ]);
          const { limits } = session.sandbox;
          return {
            ...inside,
            // The session is its whole sandbox: every process in it counts.
            cpu_seconds: whole.cpuSeconds ?? inside.cpu_seconds,
            memory_bytes: whole.memoryBytes ?? inside.memory_bytes,
            sandbox: {
              memory_bytes: whole.memoryBytes,
              cpu_seconds: whole.cpuSeconds,
              pids: whole.pids,
              memory_limit_mb: limits.memoryMB,
              cpu_limit: limits.cpus,
              pids_limit: limits.pidsLimit,
              disk_limit_mb: limits.diskMB,
              disk_cap: manager.backend.diskCap.mechanism,
              internet: session.sandbox.egress,
            },
          };
        } finally {
          done();
        }
      },
      { params: SessionIdParams, response: { 200: Usage, ...errors(404, 410) } },
    )
    .get("/v1/browser/sessions/", async () => {
      const all = await fromEach([manager.defaultTarget, ...sessionTargets()], (api) => api.json<BrowserSessionList>("GET", "/v1/browser/sessions/", undefined, 3000));
      return { sessions: all.flatMap((listed) => listed.sessions) };
    });
}

export type HostApp = ReturnType<typeof createHostApp>;
