import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { CallToolRequestSchema, ListToolsRequestSchema, type CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import type { Executor } from "../kernels/executor";
import type { SessionStore } from "../kernels/session-store";
import { checkCode } from "../kernels/code-check";
import { checkEnvironment } from "../kernels/environment";
import { callTool, failure, findTool, jsonSchemaOf, toolsFor, type BrowserPort, type PageContent, type PageView, type ToolAnswer, type ToolBackend } from "../tools";

/**
 * The tool catalogue (`src/tools`) served to Model Context Protocol clients. Python and bash run through
 * the in-process executor; files and the browser go through the server's own routes (an in-process
 * request), so MCP gets exactly the REST API's validation, confinement to the workspace and error
 * sentences. Tools are listed under their current names; a former name (`execute_python`,
 * `browser_navigate`, ...) is not listed but still runs its tool.
 */

/** Sends a request to this server's own routes in-process and returns the parsed JSON, or throws with its `detail`. */
export type InternalCall = (method: string, path: string, body?: unknown) => Promise<unknown>;

export interface MCPToolDeps {
  executor: Executor;
  sessions: SessionStore;
  internal: InternalCall;
}

/** The tools' backend inside the server. */
export function serverBackend({ executor, sessions, internal }: MCPToolDeps): ToolBackend {
  const interact = <T>(action: string, body: Record<string, unknown>) => internal("POST", `/v1/browser/interactions/${action}`, body) as Promise<T>;
  const browser = (sessionId?: string): BrowserPort => ({
    navigate: (url) => interact("navigate", { url, session_id: sessionId }),
    content: ({ url }) => interact<PageContent>("content", { url, session_id: sessionId, max_anchors: 20 }),
    snapshot: (options) => interact<PageView>("snapshot", { ...options, session_id: sessionId }),
    click: (selector, timeout) => interact("click", { selector, timeout, session_id: sessionId }),
    fill: (selector, value, timeout) => interact("fill", { selector, value, timeout, session_id: sessionId }),
    extract: async (selector, attributes) => (await interact<{ elements: { text: string }[] }>("extract", { selector, attributes, session_id: sessionId })).elements,
    screenshot: async (fullPage) => (await interact<{ screenshot: string }>("screenshot", { full_page: fullPage, session_id: sessionId })).screenshot,
  });
  return {
    execute: (code, options) => executor.execute({ command: checkCode(code), language: options.language, timeout: options.timeout, session_id: options.sessionId }),
    createSession: async (env) => (await sessions.create({ env: checkEnvironment(env) })).id,
    async closeSession(sessionId) {
      // An unknown id is the registry's "no such session" error.
      if (!(await sessions.close(sessionId))) sessions.get(sessionId);
    },
    writeFile(path, content, sessionId) {
      const form = new FormData();
      form.append("file", new Blob([content]), path.split("/").pop() || "file");
      form.append("remote_path", path);
      if (sessionId) form.append("session_id", sessionId);
      return internal("POST", "/upload", form) as Promise<{ path: string; size: number }>;
    },
    readFile: (path, sessionId) => internal("POST", "/download", { filename: path, session_id: sessionId }) as Promise<{ path: string; content: string }>,
    listFiles(path, sessionId) {
      const query = new URLSearchParams();
      if (path) query.set("path", path);
      if (sessionId) query.set("session_id", sessionId);
      return internal("GET", `/files?${query}`) as Promise<Record<string, unknown>>;
    },
    async createBrowserSession({ width, height }) {
      const created = (await internal("POST", "/v1/browser/sessions/", { viewport_width: width, viewport_height: height })) as { session_id: string };
      return created.session_id;
    },
    browser,
  };
}

/** A tool answer as an MCP tool result. */
export function toCallToolResult(answer: ToolAnswer): CallToolResult {
  const result: CallToolResult = { content: answer.content, isError: answer.isError };
  if (answer.structured) result.structuredContent = answer.structured;
  return result;
}

/** The names `tools/list` answers, in catalogue order. */
export const MCP_TOOL_NAMES = toolsFor("mcp").map((tool) => tool.name);

/** Serves the catalogue's MCP tools on `server`: `tools/list` from their definitions, `tools/call` by name or former name. */
export function registerTools(server: McpServer, deps: MCPToolDeps): void {
  const backend = serverBackend(deps);
  const listed = toolsFor("mcp").map((tool) => ({
    name: tool.name,
    title: tool.title,
    description: tool.description,
    inputSchema: jsonSchemaOf(tool, "mcp"),
    ...(tool.annotations ? { annotations: tool.annotations } : {}),
  }));
  // McpServer.registerTool takes only zod schemas; the catalogue's are TypeBox (JSON Schema), so the tool
  // requests are answered on the underlying Server, as the SDK advises for custom handlers.
  server.server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: listed }));
  server.server.setRequestHandler(CallToolRequestSchema, async (request) => {
    const tool = findTool("mcp", request.params.name);
    const answer = tool ? await callTool(tool, "mcp", backend, request.params.arguments) : failure(`Unknown tool: ${request.params.name}. The tools are ${MCP_TOOL_NAMES.join(", ")}.`);
    return toCallToolResult(answer);
  });
}
