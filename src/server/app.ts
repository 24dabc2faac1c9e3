import { Elysia } from "elysia";
import type { Executor } from "../kernels/executor";
import type { SessionStore } from "../kernels/session-store";
import type { Logger } from "../log";
import { apiKeyGuard } from "./auth";
import { apiDocs } from "./docs";
import { bodyParsing, errorHandling } from "./http-errors";
import { executeRoutes } from "./routes/execute";
import { healthRoutes } from "./routes/health";
import { sessionRoutes } from "./routes/sessions";

export interface AppDeps {
  log: Logger;
  apiKey?: string;
  /** Largest JSON or form body accepted. */
  maxBodyBytes: number;
  sessions: SessionStore;
  executor: Executor;
  /** Extra fields for `GET /health` (kernels, browser, ...). */
  health?: () => Record<string, unknown>;
  /**
   * Compile every route when the app is built instead of on its first request: ~100 ms more to
   * start, ~10 ms less on each route's first call (a warm sandbox's claim and first run).
   */
  precompile?: boolean;
  /** Feature plugins mounted after the core routes (browser, files, tasks, MCP). */
  plugins?: Elysia<any, any, any, any, any, any, any>[];
}

/**
 * The REST application: error model, body parsing, API key, docs and every route. It owns no
 * process or timer; `createServer` in `serve.ts` starts and stops the components it is given.
 */
export function createApp(deps: AppDeps) {
  let app = new Elysia({ name: "coderunner", precompile: deps.precompile ?? false })
    .use(errorHandling(deps.log))
    .use(bodyParsing(deps.maxBodyBytes))
    .use(apiKeyGuard(deps.apiKey))
    .use(apiDocs())
    .use(healthRoutes(deps.health ?? (() => ({}))))
    .use(executeRoutes(deps.executor))
    .use(sessionRoutes(deps.sessions));
  for (const plugin of deps.plugins ?? []) app = app.use(plugin) as typeof app;
  return app;
}

export type App = ReturnType<typeof createApp>;
