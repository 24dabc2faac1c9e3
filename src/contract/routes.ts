import type { TSchema } from "@sinclair/typebox";
import * as browser from "./browser";
import * as common from "./common";
import * as execute from "./execute";
import * as files from "./files";
import * as sessions from "./sessions";
import * as tasks from "./tasks";

/** The schemas of one route: its JSON body, path parameters and query, and its 200 answer. */
export interface RouteSchemas {
  body?: TSchema;
  params?: TSchema;
  query?: TSchema;
  /** Absent where the answer is not JSON described by a schema (`/execute/stream` is SSE, `/mcp` is JSON-RPC). */
  response?: TSchema;
  /** An SSE answer's events: each event name with the schema of its JSON `data`. */
  events?: Record<string, TSchema>;
}

/**
 * Every route of the wire contract that the OpenAPI document lists, keyed `METHOD /path` as that
 * document writes it, with the schemas the server validates it with. The server's routes are checked
 * against this table by `test/unit/contract/routes.test.ts`, and `src/client/route-coverage.ts` makes
 * `tsc` fail when the SDK has no answer for one of them.
 */
export const ROUTES = {
  "GET /health": { response: common.Health },

  "POST /execute": { body: execute.ExecuteBody, response: execute.ExecutionResult },
  "POST /execute/stream": {
    body: execute.ExecuteBody,
    events: {
      stdout: execute.OutputEvent,
      stderr: execute.OutputEvent,
      result: execute.OutputEvent,
      error: execute.OutputEvent,
      done: execute.ExecutionResult,
      failed: common.ErrorBody,
    },
  },
  "POST /execute_async": { body: execute.ExecuteBody, response: tasks.TaskSubmitted },
  "GET /v1/executions/{task_id}": { params: tasks.TaskIdParams, response: tasks.TaskView },

  "POST /sessions": { body: sessions.SeedCreateSession, response: sessions.SessionCreated },
  "GET /sessions": { response: sessions.SessionList },
  "GET /sessions/{id}": { params: sessions.SessionIdParams, response: sessions.SessionInfo },
  "DELETE /sessions/{id}": { params: sessions.SessionIdParams, response: common.Success },
  "POST /v1/sessions/session": { body: sessions.CreateSessionBody, response: sessions.InstaVMSessionCreated },
  "GET /v1/sessions/status/{id}": { params: sessions.SessionIdParams, response: sessions.SessionInfo },
  "GET /v1/sessions/usage/{id}": { params: sessions.SessionIdParams, response: sessions.Usage },
  "POST /kill": { body: sessions.KillBody, response: sessions.Killed },
  "GET /v1/sessions/sandboxes": { query: sessions.SandboxesQuery, response: sessions.SandboxList },

  /** Multipart, read as a stream: its form is documented by `UploadForm`, not validated by a schema. */
  "POST /upload": { response: files.Uploaded },
  "POST /download": { body: files.DownloadBody, response: files.Downloaded },
  "GET /files": { query: files.ListQuery, response: files.Listing },

  "POST /v1/browser/sessions/": { body: browser.CreateBrowserSessionBody, response: browser.BrowserSessionCreated },
  "GET /v1/browser/sessions/": { response: browser.BrowserSessionList },
  "GET /v1/browser/sessions/{id}": { params: browser.BrowserSessionParams, response: browser.BrowserSessionInfo },
  "DELETE /v1/browser/sessions/{id}": { params: browser.BrowserSessionParams, response: common.Success },
  "GET /v1/browser/sessions/{id}/downloads": { params: browser.BrowserSessionParams, response: browser.DownloadList },
  "POST /v1/browser/interactions/navigate": { body: browser.NavigateBody, response: browser.NavigateResult },
  "POST /v1/browser/interactions/click": { body: browser.ClickBody, response: browser.ActionResult },
  "POST /v1/browser/interactions/type": { body: browser.TypeBody, response: browser.ActionResult },
  "POST /v1/browser/interactions/fill": { body: browser.FillBody, response: browser.ActionResult },
  "POST /v1/browser/interactions/scroll": { body: browser.ScrollBody, response: browser.ActionResult },
  "POST /v1/browser/interactions/wait": { body: browser.WaitBody, response: browser.ActionResult },
  "POST /v1/browser/interactions/screenshot": { body: browser.ScreenshotBody, response: browser.ScreenshotResult },
  "POST /v1/browser/interactions/extract": { body: browser.ExtractBody, response: browser.ExtractResult },
  "POST /v1/browser/interactions/content": { body: browser.ContentBody, response: browser.ContentResult },
  "POST /v1/browser/interactions/snapshot": { body: browser.SnapshotBody, response: browser.SnapshotResult },
  "POST /v1/browser/interactions/upload": { body: browser.UploadBody, response: browser.ActionResult },

  /** JSON-RPC 2.0 (Model Context Protocol), validated by the MCP SDK. */
  "POST /mcp": {},
} as const satisfies Record<string, RouteSchemas>;

/** A route of the contract: `"POST /execute"`, `"GET /v1/sessions/status/{id}"`, ... */
export type Route = keyof typeof ROUTES;

/** The 200 answer of `R`, as the server sends it. */
export type ResponseOf<R extends Route> = (typeof ROUTES)[R] extends { response: { static: infer Answer } } ? Answer : unknown;

/** The JSON body `R` takes. */
export type BodyOf<R extends Route> = (typeof ROUTES)[R] extends { body: { static: infer Body } } ? Body : never;
