import { timingSafeEqual } from "node:crypto";
import type { SandboxManager } from "../sandboxes/manager";
import { CodeInterpreter } from "./code-interpreter";
import { serverStream } from "./connect";
import { asE2BError, connectError, E2BError } from "./errors";
import { controlPlane } from "./control-plane";
import { FilesHTTP } from "./files-http";
import { FilesystemService } from "./filesystem-service";
import { ProcessService } from "./process-service";
import { E2BRegistry } from "./registry";
import { E2BStore } from "./store";
import { type Logger, silentLogger } from "../log";

/** Where the host serves E2B: `E2B_API_URL` and `E2B_SANDBOX_URL` are both `<host>/e2b`. */
export const E2B_PREFIX = "/e2b";

const SANDBOX_ID = "e2b-sandbox-id";

export interface E2BServiceOptions {
  manager: SandboxManager;
  /** CodeRunner's key: when set, the control plane requires it as `X-API-KEY`. */
  apiKey?: string;
  /** The file E2B's facts are kept in across host restarts (`E2BStore`); none: memory only. */
  statePath?: string;
  log?: Logger;
}

function sameToken(offered: string | null, token: string): boolean {
  if (offered === null) return false;
  const a = Buffer.from(offered);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** A data-plane HTTP error (the code interpreter's client shows the body of a 404 or 502, only the status of others). */
const jsonError = (error: E2BError) => Response.json({ code: error.status, message: error.message }, { status: error.status });

/** An RPC's error: a streaming call gets it in its end-of-stream envelope (the client reads nothing else there). */
const rpcError = (request: Request, error: unknown) =>
  (request.headers.get("content-type") ?? "").startsWith("application/connect+json") ? serverStream(request, () => Promise.reject(error)) : connectError(error);

/**
 * CodeRunner as an E2B backend, for the unchanged `e2b` and `@e2b/code-interpreter` SDKs. Requests
 * under `/e2b` that carry `E2b-Sandbox-Id` are a sandbox's data plane (envd's Connect RPCs, `/files`,
 * the code interpreter), checked against that sandbox's access token; the rest is the control plane.
 */
export function createE2BService(options: E2BServiceOptions) {
  const registry = new E2BRegistry(options.manager);
  const kept = options.statePath ? new E2BStore(options.statePath, options.log ?? silentLogger).keep(registry) : undefined;
  const api = controlPlane(registry, options.apiKey);
  const interpreter = new CodeInterpreter(registry);
  const processes = new ProcessService(registry);
  const filesystem = new FilesystemService(registry);
  const files = new FilesHTTP(registry);

  const dataPlane = async (id: string, request: Request, path: string): Promise<Response> => {
    const method = request.method;
    const isContexts = path === "/contexts" || path.startsWith("/contexts/");
    let sandbox;
    try {
      sandbox = registry.get(id);
    } catch (error) {
      // E2B's edge answers 502 for a sandbox that is not running; the SDK reads that as "timed out / not running".
      const message = (error as Error).message;
      return path.includes(".") ? rpcError(request, new E2BError(502, message)) : jsonError(new E2BError(502, message));
    }
    if (sandbox.session.paused && sandbox.e2b.autoResume) await registry.resume(id, sandbox.e2b.timeoutSeconds).catch(() => undefined);
    if (sandbox.session.paused) {
      const paused = new E2BError(502, `Sandbox ${id} is paused: Sandbox.connect resumes it.`);
      return path.includes(".") ? rpcError(request, paused) : jsonError(paused);
    }
    // The SDK sends the access token everywhere but on /contexts (see docs: e2b-protocol §1).
    if (!isContexts && !sameToken(request.headers.get("x-access-token"), sandbox.e2b.accessToken)) {
      const error = new E2BError(401, `Sandbox ${id}: missing or wrong X-Access-Token.`);
      return path.includes(".") ? rpcError(request, error) : jsonError(error);
    }
    if (path === "/health" && method === "GET") return new Response(null, { status: 204 });
    const rpc = /^\/(process\.Process|filesystem\.Filesystem)\/(\w+)$/.exec(path);
    if (rpc && method === "POST") return rpc[1] === "process.Process" ? processes.handle(id, rpc[2]!, request) : filesystem.handle(id, rpc[2]!, request);
    if (path === "/files" && method === "GET") return files.read(id, new URL(request.url));
    if (path === "/files" && method === "POST") return files.write(id, new URL(request.url), request);
    if (path === "/execute" && method === "POST") return interpreter.execute(id, request);
    if (path === "/contexts" && method === "POST") return interpreter.createContext(id, request);
    if (path === "/contexts" && method === "GET") return interpreter.listContexts(id);
    const context = /^\/contexts\/([^/]+)(\/restart)?$/.exec(path);
    if (context && method === "DELETE" && !context[2]) return interpreter.removeContext(id, decodeURIComponent(context[1]!));
    if (context && method === "POST" && context[2]) return interpreter.restartContext(id, decodeURIComponent(context[1]!));
    throw new E2BError(404, `No E2B data-plane route ${method} ${path} in CodeRunner.`);
  };

  return {
    registry,
    /** Where the surface is mounted: every path under it is the E2B API. */
    prefix: E2B_PREFIX,
    /** Writes what it knows one last time (the host is stopping). */
    stop: () => kept?.stop(),
    /** Answers one request whose path starts with `/e2b`. Never throws. */
    async handle(request: Request): Promise<Response> {
      const url = new URL(request.url);
      const path = url.pathname.slice(E2B_PREFIX.length) || "/";
      const id = request.headers.get(SANDBOX_ID);
      if (id === null) {
        url.pathname = path;
        return api.handle(new Request(url, request));
      }
      try {
        return await dataPlane(id, request, path);
      } catch (error) {
        return path.includes(".") ? rpcError(request, error) : jsonError(asE2BError(error));
      }
    },
  };
}

export type E2BService = ReturnType<typeof createE2BService>;
