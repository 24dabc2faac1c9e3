import type { TSchema } from "elysia";
import {
  ActionResult,
  BrowserSessionCreated,
  BrowserSessionInfo,
  BrowserSessionList,
  BrowserSessionParams,
  ClickBody,
  ContentBody,
  ContentResult,
  CreateBrowserSessionBody,
  ExtractBody,
  ExtractResult,
  FillBody,
  NavigateBody,
  NavigateResult,
  ScreenshotBody,
  ScreenshotResult,
  ScrollBody,
  SnapshotBody,
  SnapshotResult,
  TypeBody,
  WaitBody,
} from "./browser";
import { Health, Success } from "./common";
import { ExecuteBody, ExecutionResult } from "./execute";
import { DownloadBody, Downloaded, Listing, ListQuery, Uploaded } from "./files";
import {
  CreateSessionBody,
  InstaVMSessionCreated,
  KillBody,
  Killed,
  SandboxesQuery,
  SandboxList,
  SeedCreateSession,
  SessionCreated,
  SessionIdParams,
  SessionInfo,
  SessionList,
  Usage,
} from "./sessions";
import { TaskIdParams, TaskSubmitted, TaskView } from "./tasks";

/** The schemas of one route: its JSON body, path parameters and query, and its 200 answer. */
export interface RouteSchemas {
  body?: TSchema;
  params?: TSchema;
  query?: TSchema;
  /** Absent where the answer is not JSON described by a schema (`/execute/stream` is SSE, `/mcp` is JSON-RPC). */
  response?: TSchema;
}

/**
 * Every route of the wire contract that the OpenAPI document lists, keyed `METHOD /path` as that
 * document writes it, with the schemas the server validates it with. The server's routes are checked
 * against this table by `test/unit/contract/routes.test.ts`, and `src/client/route-coverage.ts` makes
 * `tsc` fail when the SDK has no answer for one of them.
 */
export const ROUTES = {
  "GET /health": { response: Health },

  "POST /execute": { body: ExecuteBody, response: ExecutionResult },
  "POST /execute/stream": { body: ExecuteBody },
  "POST /execute_async": { body: ExecuteBody, response: TaskSubmitted },
  "GET /v1/executions/{task_id}": { params: TaskIdParams, response: TaskView },

  "POST /sessions": { body: SeedCreateSession, response: SessionCreated },
  "GET /sessions": { response: SessionList },
  "GET /sessions/{id}": { params: SessionIdParams, response: SessionInfo },
  "DELETE /sessions/{id}": { params: SessionIdParams, response: Success },
  "POST /v1/sessions/session": { body: CreateSessionBody, response: InstaVMSessionCreated },
  "GET /v1/sessions/status/{id}": { params: SessionIdParams, response: SessionInfo },
  "GET /v1/sessions/usage/{id}": { params: SessionIdParams, response: Usage },
  "POST /kill": { body: KillBody, response: Killed },
  "GET /v1/sessions/sandboxes": { query: SandboxesQuery, response: SandboxList },

  /** Multipart, read as a stream: its form is documented by `UploadForm`, not validated by a schema. */
  "POST /upload": { response: Uploaded },
  "POST /download": { body: DownloadBody, response: Downloaded },
  "GET /files": { query: ListQuery, response: Listing },

  "POST /v1/browser/sessions/": { body: CreateBrowserSessionBody, response: BrowserSessionCreated },
  "GET /v1/browser/sessions/": { response: BrowserSessionList },
  "GET /v1/browser/sessions/{id}": { params: BrowserSessionParams, response: BrowserSessionInfo },
  "DELETE /v1/browser/sessions/{id}": { params: BrowserSessionParams, response: Success },
  "POST /v1/browser/interactions/navigate": { body: NavigateBody, response: NavigateResult },
  "POST /v1/browser/interactions/click": { body: ClickBody, response: ActionResult },
  "POST /v1/browser/interactions/type": { body: TypeBody, response: ActionResult },
  "POST /v1/browser/interactions/fill": { body: FillBody, response: ActionResult },
  "POST /v1/browser/interactions/scroll": { body: ScrollBody, response: ActionResult },
  "POST /v1/browser/interactions/wait": { body: WaitBody, response: ActionResult },
  "POST /v1/browser/interactions/screenshot": { body: ScreenshotBody, response: ScreenshotResult },
  "POST /v1/browser/interactions/extract": { body: ExtractBody, response: ExtractResult },
  "POST /v1/browser/interactions/content": { body: ContentBody, response: ContentResult },
  "POST /v1/browser/interactions/snapshot": { body: SnapshotBody, response: SnapshotResult },

  /** JSON-RPC 2.0 (Model Context Protocol), validated by the MCP SDK. */
  "POST /mcp": {},
} as const satisfies Record<string, RouteSchemas>;

/** A route of the contract: `"POST /execute"`, `"GET /v1/sessions/status/{id}"`, ... */
export type Route = keyof typeof ROUTES;

/** The 200 answer of `R`, as the server sends it. */
export type ResponseOf<R extends Route> = (typeof ROUTES)[R] extends { response: { static: infer Answer } } ? Answer : unknown;

/** The JSON body `R` takes. */
export type BodyOf<R extends Route> = (typeof ROUTES)[R] extends { body: { static: infer Body } } ? Body : never;
