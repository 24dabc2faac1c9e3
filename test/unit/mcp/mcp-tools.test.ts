import { describe, expect, test } from "bun:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { MCP_TOOL_NAMES, registerTools, type MCPToolDeps } from "../../../src/mcp/mcp-tools";

/** The catalogue served over MCP to the SDK's own client, in memory, with the executor and routes faked. */
async function connected(deps: Partial<MCPToolDeps> = {}) {
  const requests: unknown[][] = [];
  const server = new McpServer({ name: "coderunner", version: "test" }, { capabilities: { tools: {} } });
  registerTools(server, {
    executor: { execute: async (request: { command: string; session_id?: string }) => ({ stdout: `ran ${request.command}\n`, stderr: "", status: "ok", execution_time: 0, results: [], session_id: request.session_id ?? "default", truncated: false, exit_code: null }) } as never,
    sessions: {} as never,
    internal: async (...request) => {
      requests.push(request);
      return { url: "http://x/", title: "X" };
    },
    ...deps,
  });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  const client = new Client({ name: "test", version: "1" });
  await client.connect(clientSide);
  return {
    client,
    requests,
    call: async (name: string, args: Record<string, unknown> = {}) => (await client.callTool({ name, arguments: args })) as { content: { type: string; text?: string }[]; isError?: boolean },
    async [Symbol.asyncDispose]() {
      await client.close();
      await server.close();
    },
  };
}

describe("MCP tools", () => {
  test("tools/list answers the catalogue's names with titles, JSON Schemas and hints, and not the former names", async () => {
    await using mcp = await connected();
    const { tools } = await mcp.client.listTools();
    expect(tools.map((tool) => tool.name)).toEqual(MCP_TOOL_NAMES);
    for (const former of ["execute_python", "execute_bash", "browser_navigate", "browser_content", "browser_click", "browser_fill", "browser_screenshot"]) {
      expect(MCP_TOOL_NAMES).not.toContain(former);
    }
    const python = tools.find((tool) => tool.name === "execute_python_code")!;
    expect(python).toMatchObject({ title: "Run Python", annotations: { openWorldHint: true } });
    expect(python.inputSchema).toMatchObject({ type: "object", required: ["code"] });
    expect(Object.keys(python.inputSchema.properties!)).toContain("session_id");
  });

  test("a tool runs under its name and under its former name alike", async () => {
    await using mcp = await connected();
    const current = await mcp.call("execute_python_code", { code: "1", session_id: "s1" });
    const former = await mcp.call("execute_python", { code: "1", session_id: "s1" });
    expect(current).toEqual(former);
    expect(current.content).toEqual([{ type: "text", text: "ran 1\n" }]);
    await mcp.call("browser_navigate", { url: "http://x/", session_id: "b1" });
    await mcp.call("navigate_to_url", { url: "http://x/" });
    expect(mcp.requests).toEqual([
      ["POST", "/v1/browser/interactions/navigate", { url: "http://x/", session_id: "b1" }],
      ["POST", "/v1/browser/interactions/navigate", { url: "http://x/", session_id: undefined }],
    ]);
  });

  test("an unknown tool and bad arguments are tool errors the model can read", async () => {
    await using mcp = await connected();
    const unknown = await mcp.call("launch_rockets");
    expect(unknown.isError).toBe(true);
    expect(unknown.content[0]!.text).toStartWith("Unknown tool: launch_rockets. The tools are execute_python_code, ");
    const bad = await mcp.call("execute_python_code", { code: 42 });
    expect(bad.isError).toBe(true);
    expect(bad.content[0]!.text).toStartWith("Invalid arguments for execute_python_code: code: ");
  });

  test("a route's refusal reaches the model with its code", async () => {
    await using mcp = await connected({ internal: async () => Promise.reject(new Error("No element matches #nope (ELEMENT_NOT_FOUND)")) });
    const missing = await mcp.call("click_element", { selector: "#nope" });
    expect(missing).toMatchObject({ isError: true, content: [{ type: "text", text: "click_element failed: No element matches #nope (ELEMENT_NOT_FOUND)" }] });
  });
});
