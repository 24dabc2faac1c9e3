/**
 * Which SDK method answers each route of the contract, checked by `tsc`: a route added to the
 * contract (`ROUTES` in `src/contract/routes.ts`) without an entry here, an entry for a route that
 * does not exist, or a method the SDK does not have, fails the type check. Nothing imports this file;
 * it exists to be type-checked.
 */
import type { Route } from "../contract/routes";
import type { BrowserManager, BrowserSession } from "./browser";
import type { SandboxClient } from "./client";

type MethodsOf<T> = { [K in keyof T]-?: T[K] extends (...args: never[]) => unknown ? K : never }[keyof T] & string;

/** A public method of the SDK: on the client (`runner.x`), its browser manager (`runner.browser.x`) or a browser session. */
export type SDKMethod = `SandboxClient.${MethodsOf<SandboxClient>}` | `BrowserManager.${MethodsOf<BrowserManager>}` | `BrowserSession.${MethodsOf<BrowserSession>}`;

/** A route the SDK leaves out on purpose, and why. */
export interface NotInSDK {
  notInSDK: string;
}

/** Every route, and where the SDK answers it. */
export type RouteCoverage = { readonly [R in Route]: SDKMethod | NotInSDK };

export const ROUTE_COVERAGE = {
  "GET /health": "SandboxClient.health",

  "POST /execute": "SandboxClient.execute",
  "POST /execute/stream": "SandboxClient.executeStream",
  "POST /execute_async": "SandboxClient.executeAsync",
  "GET /v1/executions/{task_id}": "SandboxClient.getTask",

  "POST /sessions": { notInSDK: "the seed's create; the SDK creates sessions with POST /v1/sessions/session (startSession)" },
  "GET /sessions": { notInSDK: "the seed's list; the SDK lists with GET /v1/sessions/sandboxes (listSessions)" },
  "GET /sessions/{id}": { notInSDK: "the seed's read; the SDK reads GET /v1/sessions/status/{id} (getSessionInfo)" },
  "DELETE /sessions/{id}": "SandboxClient.closeSession",
  "POST /v1/sessions/session": "SandboxClient.startSession",
  "GET /v1/sessions/status/{id}": "SandboxClient.getSessionInfo",
  "GET /v1/sessions/usage/{id}": "SandboxClient.getUsage",
  "POST /kill": "SandboxClient.kill",
  "GET /v1/sessions/sandboxes": "SandboxClient.listSessions",

  "POST /upload": "SandboxClient.uploadFile",
  "POST /download": "SandboxClient.downloadFile",
  "GET /files": "SandboxClient.listFiles",

  "POST /v1/browser/sessions/": "BrowserManager.createSession",
  "GET /v1/browser/sessions/": "BrowserManager.listSessions",
  "GET /v1/browser/sessions/{id}": "BrowserSession.info",
  "DELETE /v1/browser/sessions/{id}": "BrowserSession.close",
  "GET /v1/browser/sessions/{id}/downloads": "BrowserSession.listDownloads",
  "POST /v1/browser/interactions/navigate": "BrowserManager.navigate",
  "POST /v1/browser/interactions/click": "BrowserManager.click",
  "POST /v1/browser/interactions/type": "BrowserManager.type",
  "POST /v1/browser/interactions/fill": "BrowserManager.fill",
  "POST /v1/browser/interactions/scroll": "BrowserManager.scroll",
  "POST /v1/browser/interactions/wait": "BrowserManager.waitFor",
  "POST /v1/browser/interactions/screenshot": "BrowserManager.screenshot",
  "POST /v1/browser/interactions/extract": "BrowserManager.extractElements",
  "POST /v1/browser/interactions/content": "BrowserManager.extractContent",
  "POST /v1/browser/interactions/snapshot": "BrowserManager.snapshot",
  "POST /v1/browser/interactions/upload": "BrowserManager.uploadFiles",

  "POST /mcp": { notInSDK: "Model Context Protocol: MCP clients speak it; the SDK calls the REST routes" },
} as const satisfies RouteCoverage;
