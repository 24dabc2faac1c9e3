import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import { Elysia } from "elysia";
import { AppError } from "../../errors";
import type { Executor } from "../../kernels/executor";
import type { SessionStore } from "../../kernels/session-store";
import type { Logger } from "../../log";
import { MCP_TOOL_NAMES, registerTools, type InternalCall } from "../../mcp/mcp-tools";
import { VERSION } from "../../version";

export interface MCPRouteOptions {
  executor: Executor;
  sessions: SessionStore;
  log: Logger;
  /** Sent with in-process requests to the file and browser routes when the server requires a key. */
  apiKey?: string;
}

type BunServerLike = { fetch(request: Request): Response | Promise<Response> } | null | undefined;

/** Calls this server's own routes in-process (Bun's `server.fetch`), so files and browser keep the REST API's rules. */
function internalCaller(server: BunServerLike, apiKey: string | undefined): InternalCall {
  return async (method, path, body) => {
    if (!server) throw new AppError("INTERNAL_ERROR", "The MCP file and browser tools need the HTTP server to be listening.");
    const headers: Record<string, string> = {};
    if (apiKey) headers["x-api-key"] = apiKey;
    let payload: BodyInit | undefined;
    if (body instanceof FormData) payload = body;
    else if (body !== undefined) {
      headers["content-type"] = "application/json";
      payload = JSON.stringify(body);
    }
    const response = await server.fetch(new Request(`http://coderunner.internal${path}`, { method, headers, body: payload }));
    const answer = (await response.json().catch(() => ({}))) as { detail?: string; code?: string };
    if (!response.ok) throw new Error(`${answer.detail ?? `HTTP ${response.status}`} (${answer.code ?? response.status})`);
    return answer;
  };
}

const CODES: Record<number, string> = { 400: "INVALID_REQUEST", 405: "METHOD_NOT_ALLOWED", 406: "INVALID_REQUEST", 413: "PAYLOAD_TOO_LARGE", 415: "UNSUPPORTED_MEDIA_TYPE" };

/**
 * A transport refusal (wrong Accept or Content-Type, not JSON-RPC) keeps its JSON-RPC error body for MCP
 * clients and gains the `{detail, code}` every CodeRunner error carries.
 */
async function withErrorModel(response: Response): Promise<Response> {
  if (response.ok) return response;
  const text = await response.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text);
  } catch {
    body = {};
  }
  const message = (body.error as { message?: unknown } | undefined)?.message;
  const detail = typeof message === "string" ? message : text || `The MCP request was refused (HTTP ${response.status}).`;
  const headers = new Headers(response.headers);
  headers.set("content-type", "application/json");
  headers.delete("content-length");
  return new Response(JSON.stringify({ ...body, detail, code: CODES[response.status] ?? (response.status >= 500 ? "INTERNAL_ERROR" : "INVALID_REQUEST") }), { status: response.status, headers });
}

const methodNotAllowed = () =>
  withErrorModel(
    new Response(JSON.stringify({ jsonrpc: "2.0", error: { code: -32000, message: "Method not allowed: this MCP endpoint is stateless; send JSON-RPC with POST." }, id: null }), {
      status: 405,
      headers: { "content-type": "application/json", allow: "POST" },
    }),
  );

/**
 * `/mcp`: a Model Context Protocol endpoint (streamable HTTP, stateless). Each POST gets a fresh MCP
 * server and transport, so no state is kept between requests; tools act on CodeRunner's sessions.
 */
export function mcpRoutes(options: MCPRouteOptions) {
  return new Elysia({ name: "mcp" })
    .post(
      "/mcp",
      async ({ request, body, server }) => {
        const mcp = new McpServer({ name: "coderunner", version: VERSION }, { capabilities: { tools: {} } });
        registerTools(mcp, { executor: options.executor, sessions: options.sessions, internal: internalCaller(server as BunServerLike, options.apiKey) });
        const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
        await mcp.connect(transport);
        try {
          return await withErrorModel(await transport.handleRequest(request, { parsedBody: body }));
        } finally {
          await mcp.close().catch((error) => options.log.debug(`Closing an MCP request's server: ${String(error)}`));
        }
      },
      {
        detail: {
          tags: ["MCP"],
          summary: "Model Context Protocol (streamable HTTP, stateless)",
          description:
            `JSON-RPC 2.0 over streamable HTTP. Tools: ${MCP_TOOL_NAMES.join(", ")}. Send the API key in X-API-Key when the server has one.`,
        },
      },
    )
    .get("/mcp", methodNotAllowed, { detail: { hide: true } })
    .delete("/mcp", methodNotAllowed, { detail: { hide: true } });
}
