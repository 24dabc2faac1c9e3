import { describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../../src/config";
import { ROUTES, type Route, type RouteSchemas } from "../../../src/contract";
import type { Executor } from "../../../src/kernels/executor";
import type { KernelPool } from "../../../src/kernels/kernel-pool";
import { SessionStore } from "../../../src/kernels/session-store";
import { silentLogger } from "../../../src/log";
import { createApp } from "../../../src/server/app";
import { FEATURES } from "../../../src/server/features";

type Hooks = { body?: unknown; params?: unknown; query?: unknown; response?: unknown; detail?: { hide?: boolean } };

/** The routes `coderunner serve` mounts, every feature included, keyed as the OpenAPI document writes them. */
function servedRoutes(): Map<string, Hooks> {
  const workspace = mkdtempSync(join(tmpdir(), "coderunner-contract-"));
  const config = loadConfig({ CODERUNNER_WORKSPACE: workspace, CODERUNNER_STATE_DIR: ":memory:" });
  const sessions = new SessionStore({ pool: {} as KernelPool, workspace, idleSeconds: 60, maxSessions: 1, log: silentLogger });
  const executor = {} as Executor;
  const plugins = FEATURES.map((feature) => feature({ config, log: silentLogger, sessions, executor }).plugin);
  const app = createApp({ log: silentLogger, maxBodyBytes: 1024, sessions, executor, plugins });
  const routes = new Map<string, Hooks>();
  for (const route of app.routes as { method: string; path: string; hooks: Hooks }[]) {
    if (route.hooks.detail?.hide) continue;
    routes.set(`${route.method} ${route.path.replace(/:(\w+)/g, "{$1}")}`, route.hooks);
  }
  return routes;
}

/** The 200 schema of a route's `response` hook: a status map, or one schema for every status. */
function answerOf(response: unknown): unknown {
  if (response && typeof response === "object" && !("type" in response) && !("anyOf" in response)) return (response as Record<string, unknown>)[200];
  return response;
}

describe("the contract's route table", () => {
  const served = servedRoutes();
  const documented = [...served.keys()].filter((key) => !key.startsWith("GET /docs"));

  test("lists exactly the routes the server documents", () => {
    expect(Object.keys(ROUTES).sort()).toEqual(documented.sort());
  });

  test("holds the very schemas each route is validated with", () => {
    for (const [route, schemas] of Object.entries(ROUTES) as [Route, RouteSchemas][]) {
      const hooks = served.get(route)!;
      expect({ route, body: hooks.body, params: hooks.params, query: hooks.query }).toEqual({ route, body: schemas.body, params: schemas.params, query: schemas.query });
      // Identity, not likeness: the server must use the contract's schema object itself.
      for (const part of ["body", "params", "query"] as const) if (schemas[part]) expect(hooks[part]).toBe(schemas[part]);
      if (schemas.response) expect(answerOf(hooks.response)).toBe(schemas.response);
      else expect(answerOf(hooks.response)).toBeUndefined();
    }
  });
});
