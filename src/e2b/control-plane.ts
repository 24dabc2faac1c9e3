import { Elysia, t } from "elysia";
import { AppError } from "../errors";
import { parseJSON, readLimitedText } from "../server/http-errors";
import { checkKey } from "../server/key-policy";
import { apiError, E2BError, unsupported } from "./errors";
import { DEFAULT_TIMEOUT_SECONDS, type E2BRegistry, type E2BSandbox, ENVD_VERSION } from "./registry";
import type { SessionSandbox } from "../sandboxes/manager";

const StringMap = t.Record(t.String(), t.String());

/** Body of `POST /v2/sandboxes` (E2B's `NewSandbox`); fields CodeRunner cannot honour are refused by name. */
export const NewSandbox = t.Object({
  templateID: t.Optional(t.String()),
  timeout: t.Optional(t.Integer({ minimum: 0, description: "Seconds until the sandbox ends (E2B default 300)." })),
  metadata: t.Optional(t.Nullable(StringMap)),
  envVars: t.Optional(t.Nullable(StringMap)),
  allow_internet_access: t.Optional(t.Nullable(t.Boolean())),
  secure: t.Optional(t.Boolean()),
  autoPause: t.Optional(t.Boolean()),
  network: t.Optional(t.Unknown()),
  mcp: t.Optional(t.Unknown()),
  volumeMounts: t.Optional(t.Unknown()),
  autoPauseMemory: t.Optional(t.Boolean()),
  autoResume: t.Optional(t.Object({ enabled: t.Boolean() }, { additionalProperties: true })),
});

const Timeout = t.Object({ timeout: t.Integer({ minimum: 0 }) });
const ConnectBody = t.Object({
  timeout: t.Optional(t.Integer({ minimum: 0 })),
  /** False: resume by rebooting (`onResume: "reboot"`); CodeRunner always keeps memory. */
  memory: t.Optional(t.Boolean()),
});
const PauseBody = t.Object({ memory: t.Optional(t.Boolean({ description: "keepMemory: a paused CodeRunner sandbox always keeps its memory." })) });
const ResumeBody = t.Object({ timeout: t.Optional(t.Integer({ minimum: 0 })), autoPause: t.Optional(t.Boolean()) });
const IdParams = t.Object({ id: t.String() });
const ListQuery = t.Object({
  metadata: t.Optional(t.String({ description: "URL-encoded k=v&k2=v2 a sandbox's metadata must all have." })),
  state: t.Optional(t.String({ description: "Comma-separated: running, paused." })),
  limit: t.Optional(t.Integer({ minimum: 1, maximum: 1000 })),
  nextToken: t.Optional(t.String()),
});

function described(e2b: E2BSandbox, session: SessionSandbox) {
  return {
    sandboxID: e2b.id,
    templateID: e2b.templateID,
    clientID: "coderunner",
    alias: e2b.templateID,
    metadata: Object.fromEntries(Object.entries(session.metadata).map(([key, value]) => [key, String(value)])),
    startedAt: session.createdAt.toISOString(),
    endAt: new Date(session.endsAt ?? Date.now()).toISOString(),
    state: session.paused ? "paused" : "running",
    cpuCount: session.sandbox.limits.cpus,
    memoryMB: session.sandbox.limits.memoryMB,
    diskSizeMB: session.sandbox.limits.diskMB,
    envdVersion: ENVD_VERSION,
    allowInternetAccess: session.sandbox.egress,
    lifecycle: { onTimeout: e2b.onTimeout, autoResume: e2b.autoResume },
  };
}

const created = (e2b: E2BSandbox) => ({
  sandboxID: e2b.id,
  templateID: e2b.templateID,
  clientID: "coderunner",
  envdVersion: ENVD_VERSION,
  envdAccessToken: e2b.accessToken,
});

/** Largest control-plane request body: settings, metadata and environment variables of one sandbox. */
const MAX_BODY_BYTES = 1024 * 1024;

/**
 * E2B's control plane (the API `E2B_API_URL` points at): create, connect, kill, info, list and
 * timeout of sandboxes, each a CodeRunner session sandbox. Errors are E2B's `{code, message}`.
 */
export function controlPlane(registry: E2BRegistry, apiKey: string | undefined) {
  return new Elysia({ name: "e2b-control-plane" })
    // The server's JSON reading: a size cap (bodies here are a sandbox's settings), and objects whose
    // toString or valueOf is data still print, so a validation message about them is a 400, not a crash.
    .onParse(async ({ request }, contentType) => {
      if (!/json/i.test(contentType)) return;
      const text = await readLimitedText(request, MAX_BODY_BYTES);
      if (text.trim() === "") return {};
      try {
        return parseJSON(text);
      } catch {
        throw new E2BError(400, "The request body is not valid JSON.");
      }
    })
    .onError(({ error, code }) => {
      if (code === "VALIDATION") return apiError(new E2BError(400, `Invalid request: ${(error as Error).message.split("\n")[0]}`));
      if (code === "PARSE") {
        // What the parser above refused (413, 400) comes wrapped; anything else is JSON that would not parse.
        const cause = (error as { cause?: unknown }).cause;
        return apiError(cause instanceof E2BError || cause instanceof AppError ? cause : new E2BError(400, "The request body is not valid JSON."));
      }
      if (code === "NOT_FOUND") return apiError(new E2BError(404, "No such E2B API route in CodeRunner."));
      return apiError(error);
    })
    .onRequest(({ request }) => {
      if (!apiKey) return;
      try {
        checkKey(request.headers.get("x-api-key"), apiKey);
      } catch (error) {
        return apiError(new E2BError(401, (error as Error).message.replace("X-API-Key", "X-API-KEY (E2B_API_KEY)")));
      }
    })
    .post(
      "/v2/sandboxes",
      async ({ body, set }) => {
        if (body.volumeMounts !== undefined && !(Array.isArray(body.volumeMounts) && body.volumeMounts.length === 0)) throw unsupported("volumeMounts");
        if (body.mcp) throw unsupported("MCP servers in the sandbox");
        const { e2b } = await registry.create({
          templateID: body.templateID ?? "base",
          timeoutSeconds: body.timeout ?? DEFAULT_TIMEOUT_SECONDS,
          metadata: body.metadata ?? {},
          envVars: body.envVars ?? {},
          egress: body.allow_internet_access ?? undefined,
          // A paused CodeRunner sandbox always keeps its memory, so autoPauseMemory: false is a superset kept.
          onTimeout: body.autoPause ? "pause" : "kill",
          autoResume: body.autoPause === true && body.autoResume?.enabled === true,
        });
        set.status = 201;
        return created(e2b);
      },
      { body: NewSandbox },
    )
    .post(
      "/v2/sandboxes/:id/connect",
      async ({ params, body, set }) => {
        const { e2b, session } = registry.get(params.id);
        if (session.paused) {
          // A paused sandbox resumes on connect, as E2B's do; its processes go on where they stopped.
          if (body?.memory === false) throw unsupported("Resuming by reboot (onResume: \"reboot\"); a paused CodeRunner sandbox keeps its memory");
          await registry.resume(params.id, body?.timeout || undefined);
          set.status = 201;
        } else if (body?.timeout) registry.setTimeout(params.id, body.timeout);
        return created(e2b);
      },
      { params: IdParams, body: t.Optional(ConnectBody) },
    )
    .post(
      "/sandboxes/:id/pause",
      async ({ params, set }) => {
        if (!(await registry.pause(params.id))) throw new E2BError(409, `Sandbox ${params.id} is already paused.`);
        set.status = 204;
      },
      { params: IdParams, body: t.Optional(PauseBody) },
    )
    .post(
      "/sandboxes/:id/resume",
      async ({ params, body, set }) => {
        const { e2b, session } = registry.get(params.id);
        if (body?.autoPause !== undefined) {
          e2b.onTimeout = body.autoPause ? "pause" : "kill";
          session.onExpiry = body.autoPause ? "pause" : "close";
        }
        if (!(await registry.resume(params.id, body?.timeout || undefined))) throw new E2BError(409, `Sandbox ${params.id} is not paused.`);
        set.status = 201;
        return created(e2b);
      },
      { params: IdParams, body: t.Optional(ResumeBody) },
    )
    .get(
      "/sandboxes/:id",
      ({ params }) => {
        const { e2b, session } = registry.get(params.id);
        return described(e2b, session);
      },
      { params: IdParams },
    )
    .delete(
      "/sandboxes/:id",
      async ({ params, set }) => {
        if (!(await registry.kill(params.id))) throw new E2BError(404, `Sandbox ${params.id} not found.`);
        set.status = 204;
      },
      { params: IdParams },
    )
    .post(
      "/sandboxes/:id/timeout",
      ({ params, body, set }) => {
        registry.setTimeout(params.id, body.timeout);
        set.status = 204;
      },
      { params: IdParams, body: Timeout },
    )
    .get(
      "/v2/sandboxes",
      ({ query, set }) => {
        const wanted = query.metadata ? [...new URLSearchParams(query.metadata)] : [];
        const states = query.state?.split(",").map((state) => state.trim()) ?? ["running", "paused"];
        const all = registry
          .list()
          .filter(({ session }) => states.includes(session.paused ? "paused" : "running") && wanted.every(([key, value]) => String(session.metadata[key]) === value))
          .sort((a, b) => a.session.createdAt.getTime() - b.session.createdAt.getTime() || a.e2b.id.localeCompare(b.e2b.id));
        const start = query.nextToken ? all.findIndex(({ e2b }) => e2b.id === Buffer.from(query.nextToken!, "base64url").toString()) + 1 : 0;
        const limit = query.limit ?? 100;
        const page = all.slice(start, start + limit);
        if (start + limit < all.length) set.headers["x-next-token"] = Buffer.from(page.at(-1)!.e2b.id).toString("base64url");
        return page.map(({ e2b, session }) => described(e2b, session));
      },
      { query: ListQuery },
    )
    .get("/sandboxes/:id/metrics", ({ params }) => registry.metrics(params.id), { params: IdParams })
    .post("/sandboxes/:id/snapshots", () => Promise.reject(unsupported("Snapshots (createSnapshot)")))
    .get("/snapshots", () => Promise.reject(unsupported("Snapshots (listSnapshots)")))
    .post("/sandboxes/:id/fork", () => Promise.reject(unsupported("Forking a sandbox")))
    .put("/sandboxes/:id/network", () => Promise.reject(unsupported("Changing a sandbox's network (updateNetwork)")))
    .post("/sandboxes/:id/refreshes", ({ params, set }) => {
      registry.get(params.id);
      set.status = 204;
    });
}
