import type { Feature, FeatureContext } from "../feature";
import { mcpRoutes } from "../routes/mcp";

/**
 * The Model Context Protocol endpoint (`/mcp`), so desktop assistants and coding agents use CodeRunner's
 * Python, bash, files and browser as tools directly. It owns nothing: each request is self-contained.
 */
export function mcpFeature({ config, log, sessions, executor }: FeatureContext): Feature {
  return {
    name: "mcp",
    plugin: mcpRoutes({ executor, sessions, log, apiKey: config.apiKey }),
    health: () => ({ mcp: { path: "/mcp", transport: "streamable-http" } }),
  };
}
