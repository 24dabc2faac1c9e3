/**
 * Model Context Protocol: CodeRunner serves its tools at /mcp (streamable HTTP). Desktop assistants and
 * coding agents connect with the URL; here the official MCP SDK's client does.
 *
 * Run: bun examples/mcp-client.ts   (against a running `coderunner serve` / `coderunner up`)
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const base = process.env.CODERUNNER_URL ?? "http://127.0.0.1:8223";
const headers: Record<string, string> = process.env.CODERUNNER_API_KEY ? { "X-API-Key": process.env.CODERUNNER_API_KEY } : {};

const client = new Client({ name: "coderunner-example", version: "1.0.0" });
await client.connect(new StreamableHTTPClientTransport(new URL(`${base}/mcp`), { requestInit: { headers } }));

const { tools } = await client.listTools();
console.log("tools:", tools.map((tool) => tool.name).join(", "));

const result = (await client.callTool({ name: "execute_python_code", arguments: { code: "print(f'{2 ** 100:,}')" } })) as { content: { type: string; text?: string }[] };
console.log("execute_python_code ->", result.content[0]?.text?.trim());

await client.close();
