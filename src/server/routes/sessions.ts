import { Elysia } from "elysia";
import type { ProcessFacts } from "../../kernels/run-processes";
import { checkEnvironment } from "../../kernels/environment";
import { commandLine, cpuSeconds, rssBytes } from "../../kernels/proc-stats";
import type { Session, SessionStore } from "../../kernels/session-store";
import { matchesMetadata, parseMetadataFilter, sandboxEntry } from "../sandbox-list";
import { errors, Success } from "../../contract/common";
import {
  CreateSessionBody,
  InstaVMSessionCreated,
  KillBody,
  Killed,
  SandboxList,
  SandboxesQuery,
  SeedCreateSession,
  SessionCreated,
  SessionIdParams,
  SessionInfo,
  SessionList,
  Usage,
} from "../../contract/sessions";

const iso = (ms: number) => new Date(ms).toISOString();

function info(session: Session): typeof SessionInfo.static {
  return {
    session_id: session.id,
    status: "active",
    vm_status: "active",
    created_at: session.createdAt.toISOString(),
    last_used_at: iso(session.lastUsedAt),
    end_at: session.endsAt?.toISOString() ?? null,
    executions: session.executions,
    pending_runs: session.queue.length,
    working_directory: session.cwd,
    metadata: session.metadata,
  };
}

/** Real figures for a session's kernel and shell processes, and what its runs left running, read from /proc. */
export function usageOf(session: Session, leftovers: ProcessFacts[], now: number = Date.now()): typeof Usage.static {
  const kernelPid = session.kernel?.pid;
  const shellPid = session.shell?.pid;
  const kernel = { cpu_seconds: cpuSeconds(kernelPid), memory_bytes: rssBytes(kernelPid), pid: kernelPid ?? null };
  const shell = { cpu_seconds: cpuSeconds(shellPid), memory_bytes: rssBytes(shellPid), pid: shellPid ?? null };
  const sum = (a: number | null, b: number | null) => (a === null && b === null ? null : (a ?? 0) + (b ?? 0));
  return {
    session_id: session.id,
    cpu_seconds: sum(kernel.cpu_seconds, shell.cpu_seconds),
    memory_bytes: sum(kernel.memory_bytes, shell.memory_bytes),
    executions: session.executions,
    uptime_seconds: Math.max(0, (now - session.createdAt.getTime()) / 1000),
    kernel,
    shell,
    processes: leftovers.flatMap(({ pid }) => {
      const command = commandLine(pid);
      // Gone, or a zombie (an empty command line) waiting for its parent: nothing left running.
      return command ? [{ pid, command, cpu_seconds: cpuSeconds(pid), memory_bytes: rssBytes(pid) }] : [];
    }),
  };
}

/** Session routes of both sources: the seed's `/sessions` and the InstaVM SDK's `/v1/sessions/...`. */
export function sessionRoutes(sessions: SessionStore) {
  const notFound = errors(404);
  return new Elysia({ name: "sessions" })
    .post("/sessions", async ({ body }) => ({ session_id: (await sessions.create({ language: body?.language })).id }), {
      body: SeedCreateSession,
      response: { 200: SessionCreated, ...errors(400, 422, 429, 503) },
      detail: { tags: ["Sessions"], summary: "Create a session (seed)" },
    })
    .get("/sessions", () => ({ sessions: sessions.list().map(info) }), {
      response: SessionList,
      detail: { tags: ["Sessions"], summary: "List open sessions" },
    })
    .get("/sessions/:id", ({ params }) => info(sessions.get(params.id)), {
      params: SessionIdParams,
      response: { 200: SessionInfo, ...notFound },
      detail: { tags: ["Sessions"], summary: "Get a session (seed)" },
    })
    .delete(
      "/sessions/:id",
      async ({ params }) => {
        if (!(await sessions.close(params.id))) sessions.get(params.id);
        return { success: true };
      },
      { params: SessionIdParams, response: { 200: Success, ...notFound }, detail: { tags: ["Sessions"], summary: "Close a session (seed)" } },
    )
    .post(
      "/v1/sessions/session",
      async ({ body }) => {
        const session = await sessions.create({
          env: checkEnvironment(body?.env) ?? undefined,
          metadata: body?.metadata ?? undefined,
          lifetimeSeconds: body?.vm_lifetime_seconds ?? undefined,
          language: body?.language,
          workingDirectory: body?.working_directory ?? undefined,
        });
        return { session_id: session.id, status: "active" };
      },
      {
        body: CreateSessionBody,
        response: { 200: InstaVMSessionCreated, ...errors(400, 401, 422, 429, 503) },
        detail: { tags: ["Sessions"], summary: "Create a session (InstaVM)" },
      },
    )
    .get("/v1/sessions/status/:id", ({ params }) => info(sessions.get(params.id)), {
      params: SessionIdParams,
      response: { 200: SessionInfo, ...notFound },
      detail: { tags: ["Sessions"], summary: "Session status (InstaVM): vm_status is \"active\" while it lives" },
    })
    .get("/v1/sessions/usage/:id", ({ params }) => {
      const session = sessions.get(params.id);
      return usageOf(session, sessions.leftovers(session));
    }, {
      params: SessionIdParams,
      response: { 200: Usage, ...notFound },
      detail: { tags: ["Sessions"], summary: "CPU, memory, executions and uptime of a session" },
    })
    .post(
      "/kill",
      async ({ body }) => {
        if (!(await sessions.close(body.session_id))) sessions.get(body.session_id);
        return { success: true, session_id: body.session_id };
      },
      {
        body: KillBody,
        response: { 200: Killed, ...errors(404, 422) },
        detail: { tags: ["Sessions"], summary: "Kill a session (InstaVM)" },
      },
    )
    .get(
      "/v1/sessions/sandboxes",
      ({ query }) => {
        const filter = parseMetadataFilter(query.metadata);
        const matching = sessions
          .list()
          .filter((session) => matchesMetadata(session.metadata, filter))
          .slice(0, query.limit ?? undefined);
        return matching.map(sandboxEntry);
      },
      {
        query: SandboxesQuery,
        response: { 200: SandboxList, ...errors(400, 422) },
        detail: { tags: ["Sessions"], summary: "List sandboxes (InstaVM list)" },
      },
    );
}
