import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { join } from "node:path";
import { startTestServer, type TestServer } from "../helpers/server";
import { servePages } from "../helpers/pages";

/**
 * `/mcp` with the official MCP SDK's own client over streamable HTTP, against a real listening server
 * (kernels, shells, Chromium) started with an API key.
 */

setDefaultTimeout(60_000);

const KEY = "mcp-test-key";
// A 1x1 PNG.
const PIXEL = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";

let pages: ReturnType<typeof servePages>;
let base: string;
let server: TestServer;
let client: Client;

type Content = { type: string; text?: string; data?: string; mimeType?: string };
type Result = { content: Content[]; isError?: boolean; structuredContent?: Record<string, unknown> };

async function connect(headers: Record<string, string>): Promise<Client> {
  const mcp = new Client({ name: "coderunner-test", version: "1.0.0" });
  await mcp.connect(new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`), { requestInit: { headers } }));
  return mcp;
}

async function call(name: string, args: Record<string, unknown> = {}): Promise<Result> {
  return (await client.callTool({ name, arguments: args })) as Result;
}

const textOf = (result: Result) => result.content.filter((c) => c.type === "text").map((c) => c.text).join("\n");

beforeAll(async () => {
  pages = servePages({
    "/next": "<title>Next</title><p id=arrived>Arrived</p>",
    "*": `<!doctype html><title>MCP page</title><main><h1>Tools for agents</h1><p>CodeRunner exposes its sandbox over the Model Context Protocol so assistants can run code.</p><a href="/next">Next page</a><input id="q"></main>`,
  });
  base = pages.base;
  server = await startTestServer({ kernelPoolSize: 1, apiKey: KEY }, { listen: true });
  client = await connect({ "X-API-Key": KEY });
});

afterAll(async () => {
  await client?.close();
  await server?.stop();
  pages?.stop();
});

describe("MCP endpoint", () => {
  test("lists CodeRunner's tools with their input schemas", async () => {
    const { tools } = await client.listTools();
    const names = tools.map((tool) => tool.name);
    expect(names).toEqual(
      expect.arrayContaining(["execute_python_code", "execute_bash_command", "create_session", "close_session", "write_file", "read_file", "list_files", "navigate_to_url", "extract_page_content", "click_element", "fill_input", "browser_extract", "take_screenshot", "browser_snapshot"]),
    );
    const python = tools.find((tool) => tool.name === "execute_python_code")!;
    expect(python.inputSchema.required).toEqual(["code"]);
    expect(client.getServerVersion()?.name).toBe("coderunner");
  });

  test("execute_python runs code, and the default session keeps state between requests", async () => {
    const first = await call("execute_python", { code: "answer = 6 * 7" });
    expect(first.isError).toBe(false);
    const second = await call("execute_python", { code: "print(answer)" });
    expect(textOf(second)).toBe("42\n");
    expect(second.structuredContent).toMatchObject({ status: "ok", session_id: "default" });
  });

  test("an exception is a tool error carrying the traceback", async () => {
    const result = await call("execute_python", { code: "int('x')" });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toContain("ValueError");
  });

  test("rich image outputs come back as MCP image content", async () => {
    const result = await call("execute_python", { code: `import base64\nfrom IPython.display import Image, display\ndisplay(Image(data=base64.b64decode("${PIXEL}")))` });
    const image = result.content.find((c) => c.type === "image");
    expect(image?.mimeType).toBe("image/png");
    expect(image?.data).toBe(PIXEL);
  });

  test("execute_bash and separate sessions", async () => {
    const { session_id } = JSON.parse(textOf(await call("create_session", { env: { WHO: "mcp" } })));
    expect(session_id).toBeString();
    expect(textOf(await call("execute_bash", { command: "echo $WHO", session_id }))).toBe("mcp\n");
    expect(textOf(await call("execute_bash", { command: "echo ${WHO:-none}" }))).toBe("none\n");
    expect((await call("close_session", { session_id })).isError).toBeFalsy();
    const gone = await call("execute_bash", { command: "true", session_id });
    expect(gone.isError).toBe(true);
    expect(textOf(gone)).toContain(session_id);
  });

  test("write_file, read_file and list_files go through the sandbox's file area", async () => {
    const written = await call("write_file", { path: "notes/todo.txt", content: "ship the SDK" });
    expect(written.isError).toBeFalsy();
    expect(textOf(await call("read_file", { path: "notes/todo.txt" }))).toBe("ship the SDK");
    expect(textOf(await call("execute_python", { code: "print(open('notes/todo.txt').read())" }))).toBe("ship the SDK\n");
    expect(textOf(await call("list_files", { path: "notes" }))).toContain("todo.txt");
    const escape = await call("read_file", { path: "../../../../etc/passwd" });
    expect(escape.isError).toBe(true);
    expect(textOf(escape)).toContain("INVALID_PATH");
  });

  test("browser tools: navigate, read the page, click a selector it gave, screenshot", async () => {
    const navigated = JSON.parse(textOf(await call("browser_navigate", { url: base })));
    expect(navigated.title).toBe("MCP page");
    const content = textOf(await call("browser_content"));
    expect(content).toContain("# MCP page");
    expect(content).toContain("Model Context Protocol");
    const selector = /Next page → (.+)/.exec(content)?.[1];
    expect(selector).toBeDefined();
    expect((await call("browser_fill", { selector: "#q", value: "hello" })).isError).toBeFalsy();
    expect((await call("browser_click", { selector: selector! })).isError).toBeFalsy();
    const [arrived] = JSON.parse(textOf(await call("browser_extract", { selector: "#arrived" }))).elements;
    expect(arrived.text).toBe("Arrived");
    const shot = await call("browser_screenshot");
    expect(shot.content[0]).toMatchObject({ type: "image", mimeType: "image/png" });
    expect(Buffer.from(shot.content[0]!.data!, "base64").subarray(1, 4).toString()).toBe("PNG");
    const missing = await call("browser_click", { selector: "#nope", timeout: 300 });
    expect(missing.isError).toBe(true);
    expect(textOf(missing)).toContain("ELEMENT_NOT_FOUND");
  });

  test("browser_snapshot: a short tree whose refs browser_fill and browser_click take", async () => {
    await call("browser_navigate", { url: base });
    const view = textOf(await call("browser_snapshot"));
    expect(view).toContain("# MCP page");
    expect(view).toContain('heading "Tools for agents" [level=1]');
    const field = /textbox \[ref=(e\d+)\]/.exec(view)![1];
    const link = /link "Next page" \[ref=(e\d+)\]/.exec(view)![1];
    expect((await call("browser_fill", { selector: `ref=${field}`, value: "hello" })).isError).toBeFalsy();
    expect((await call("browser_click", { selector: `ref=${link}` })).isError).toBeFalsy();
    await call("browser_navigate", { url: `${base}/next` });
    const stale = await call("browser_click", { selector: `ref=${link}` });
    expect(stale.isError).toBe(true);
    expect(textOf(stale)).toContain("STALE_REF");
    const part = textOf(await call("browser_snapshot", { query: "arrived", max_tokens: 50 }));
    expect(part).toContain("Arrived");
  });

  test("the listed names run the tools the former names run", async () => {
    expect(textOf(await call("execute_python_code", { code: "print(6 * 7)" }))).toBe("42\n");
    expect(textOf(await call("execute_bash_command", { command: "echo $((6 * 7))" }))).toBe("42\n");
    expect(JSON.parse(textOf(await call("navigate_to_url", { url: base }))).title).toBe("MCP page");
    expect(textOf(await call("extract_page_content"))).toContain("# MCP page");
    expect((await call("take_screenshot")).content[0]).toMatchObject({ type: "image", mimeType: "image/png" });
  });

  test("bad tool arguments are refused by the protocol layer, not run", async () => {
    const result = (await client.callTool({ name: "execute_python", arguments: { code: 42 } })) as Result;
    expect(result.isError).toBe(true);
    expect(textOf(result).toLowerCase()).toContain("invalid");
  });

  test("a wrong or missing API key is refused with 401", async () => {
    for (const headers of [{ "X-API-Key": "wrong" }, {}] as Record<string, string>[]) {
      const error = await connect(headers).catch((e) => e);
      expect(error.code).toBe(401);
      expect(error.message).toContain("UNAUTHORIZED");
    }
  });

  test("GET on the stateless endpoint is 405", async () => {
    const response = await fetch(`${server.url}/mcp`, { headers: { "x-api-key": KEY, accept: "text/event-stream" } });
    expect(response.status).toBe(405);
    expect(await response.json()).toMatchObject({ code: "METHOD_NOT_ALLOWED", detail: expect.stringContaining("POST") });
  });

  test("bad requests are 4xx with {detail, code}, never a 500", async () => {
    const post = async (body: string, headers: Record<string, string>) => {
      const response = await fetch(`${server.url}/mcp`, { method: "POST", body, headers: { "x-api-key": KEY, ...headers } });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };
    const both = { "content-type": "application/json", accept: "application/json, text/event-stream" };
    const malformed = await post('{"jsonrpc": "2.0", ', both);
    expect(malformed.status).toBe(400);
    expect(malformed.body.code).toBe("INVALID_JSON");
    const notRPC = await post('{"hello": 1}', both);
    expect(notRPC.status).toBe(400);
    expect(notRPC.body).toMatchObject({ code: "INVALID_REQUEST", detail: expect.any(String) });
    const noAccept = await post(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }), { "content-type": "application/json" });
    expect(noAccept.status).toBe(406);
    expect(noAccept.body).toMatchObject({ code: "INVALID_REQUEST", detail: expect.stringContaining("Accept") });
  });
});
