import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import { messageOf } from "../errors";
import type { ExecutionResult, Executor } from "../kernels/executor";
import type { SessionStore } from "../kernels/session-store";
import { checkCode } from "../kernels/code-check";
import { checkEnvironment } from "../kernels/environment";

/**
 * CodeRunner's tools for Model Context Protocol clients: Python and bash run through the in-process
 * executor; files and the browser go through the server's own routes (an in-process request), so MCP
 * gets exactly the REST API's validation, confinement to the workspace and error sentences.
 */

/** Sends a request to this server's own routes in-process and returns the parsed JSON, or throws with its `detail`. */
export type InternalCall = (method: string, path: string, body?: unknown) => Promise<unknown>;

export interface MCPToolDeps {
  executor: Executor;
  sessions: SessionStore;
  internal: InternalCall;
}

/** Longest text one tool result carries; the rest is cut with a note. */
const MAX_TEXT = 50_000;

const clip = (text: string) => (text.length <= MAX_TEXT ? text : `${text.slice(0, MAX_TEXT)}\n[... ${text.length - MAX_TEXT} more characters cut]`);
const text = (value: string): CallToolResult["content"][number] => ({ type: "text", text: value });
const failure = (message: string): CallToolResult => ({ isError: true, content: [text(message)] });

const sessionId = z.string().optional().describe("Execution session to use; omit for the shared default session (its state persists).");
const timeout = z.number().positive().optional().describe("Seconds before the run is interrupted (default 30).");
const browserSession = z.string().optional().describe("Browser session; omit for the shared default browser session.");

/** A run's result as MCP content: output text, how it ended, and images from rich outputs. */
export function runContent(result: ExecutionResult): CallToolResult {
  const parts: string[] = [];
  if (result.stdout) parts.push(result.stdout);
  if (result.stderr) parts.push(`[stderr]\n${result.stderr}`);
  if (result.status === "timeout") parts.push("[the run timed out and was interrupted]");
  if (result.truncated) parts.push("[output was truncated at the server's cap]");
  if (!parts.length) parts.push("(no output)");
  const content: CallToolResult["content"] = [text(clip(parts.join("\n")))];
  const base64 = (value: unknown) => (value as string).replace(/\s+/g, "");
  for (const rich of result.results) {
    if (typeof rich["image/png"] === "string") content.push({ type: "image", data: base64(rich["image/png"]), mimeType: "image/png" });
    else if (typeof rich["image/jpeg"] === "string") content.push({ type: "image", data: base64(rich["image/jpeg"]), mimeType: "image/jpeg" });
    else if (typeof rich["text/plain"] === "string" && !result.stdout.includes(rich["text/plain"] as string)) content.push(text(clip(rich["text/plain"] as string)));
  }
  return {
    content,
    isError: result.status !== "ok",
    structuredContent: { status: result.status, session_id: result.session_id, execution_time: result.execution_time, exit_code: result.exit_code },
  };
}

/** Runs `work`; an error (a 4xx from a route, an unknown session) becomes a tool error the model can read. */
async function guarded(work: () => Promise<CallToolResult>): Promise<CallToolResult> {
  try {
    return await work();
  } catch (error) {
    return failure(messageOf(error));
  }
}

const json = (value: unknown): CallToolResult => ({ content: [text(clip(JSON.stringify(value, null, 2)))] });

/** Registers every CodeRunner tool on `server`. */
export function registerTools(server: McpServer, deps: MCPToolDeps): void {
  const { executor, sessions, internal } = deps;
  const run = (command: string, language: "python" | "bash", args: { session_id?: string; timeout?: number }) =>
    guarded(async () => runContent(await executor.execute({ command: checkCode(command), language, timeout: args.timeout, session_id: args.session_id })));

  server.registerTool(
    "execute_python",
    {
      title: "Run Python",
      description: "Run Python code in a persistent Jupyter kernel: variables, imports and files survive between calls. Plots come back as images. Print what you want to see.",
      inputSchema: { code: z.string().describe("Python code to run."), session_id: sessionId, timeout },
      annotations: { openWorldHint: true },
    },
    (args) => run(args.code, "python", args),
  );

  server.registerTool(
    "execute_bash",
    {
      title: "Run bash",
      description: "Run a bash command in a persistent shell: cd and export carry over to the next call.",
      inputSchema: { command: z.string().describe("The bash command."), session_id: sessionId, timeout },
      annotations: { openWorldHint: true },
    },
    (args) => run(args.command, "bash", args),
  );

  server.registerTool(
    "create_session",
    {
      title: "Create a session",
      description: "Start a fresh execution session (its own Python kernel, shell and working directory). Pass its id as session_id to other tools.",
      inputSchema: { env: z.record(z.string(), z.string()).optional().describe("Environment variables for the session.") },
    },
    (args) => guarded(async () => json({ session_id: (await sessions.create({ env: checkEnvironment(args.env) })).id })),
  );

  server.registerTool(
    "close_session",
    {
      title: "Close a session",
      description: "Close an execution session and release its kernel and shell.",
      inputSchema: { session_id: z.string() },
      annotations: { destructiveHint: true },
    },
    (args) =>
      guarded(async () => {
        if (!(await sessions.close(args.session_id))) sessions.get(args.session_id);
        return json({ success: true });
      }),
  );

  server.registerTool(
    "write_file",
    {
      title: "Write a file",
      description: "Write a text file in the sandbox (relative paths resolve in the session's working directory; parent directories are created).",
      inputSchema: { path: z.string(), content: z.string(), session_id: sessionId },
    },
    (args) =>
      guarded(async () => {
        const form = new FormData();
        form.append("file", new Blob([args.content]), args.path.split("/").pop() || "file");
        form.append("remote_path", args.path);
        if (args.session_id) form.append("session_id", args.session_id);
        const written = (await internal("POST", "/upload", form)) as { path: string; size: number };
        return json({ success: true, path: written.path, size: written.size });
      }),
  );

  server.registerTool(
    "read_file",
    {
      title: "Read a file",
      description: "Read a file from the sandbox. Text comes back as text; images as images; other binary files as base64.",
      inputSchema: { path: z.string(), session_id: sessionId },
      annotations: { readOnlyHint: true },
    },
    (args) =>
      guarded(async () => {
        const file = (await internal("POST", "/download", { filename: args.path, session_id: args.session_id })) as { content: string; size: number; path: string };
        const bytes = Buffer.from(file.content, "base64");
        const lower = args.path.toLowerCase();
        if (/\.png$/.test(lower)) return { content: [{ type: "image", data: file.content, mimeType: "image/png" }] };
        if (/\.jpe?g$/.test(lower)) return { content: [{ type: "image", data: file.content, mimeType: "image/jpeg" }] };
        try {
          return { content: [text(clip(new TextDecoder("utf-8", { fatal: true }).decode(bytes)))] };
        } catch {
          return { content: [{ type: "resource", resource: { uri: `file://${file.path}`, mimeType: "application/octet-stream", blob: file.content } }] };
        }
      }),
  );

  server.registerTool(
    "list_files",
    {
      title: "List files",
      description: "List a directory of the sandbox (default: the session's working directory).",
      inputSchema: { path: z.string().optional(), session_id: sessionId },
      annotations: { readOnlyHint: true },
    },
    (args) =>
      guarded(async () => {
        const query = new URLSearchParams();
        if (args.path) query.set("path", args.path);
        if (args.session_id) query.set("session_id", args.session_id);
        return json(await internal("GET", `/files?${query}`));
      }),
  );

  server.registerTool(
    "browser_navigate",
    {
      title: "Open a web page",
      description: "Open a URL in the headless browser and wait for it to load. Returns the final URL and title.",
      inputSchema: { url: z.string().describe("Absolute http(s) URL."), session_id: browserSession },
      annotations: { openWorldHint: true },
    },
    (args) => guarded(async () => json(await internal("POST", "/v1/browser/interactions/navigate", { url: args.url, session_id: args.session_id }))),
  );

  server.registerTool(
    "browser_content",
    {
      title: "Read the page",
      description:
        "The current page's readable text plus its links, buttons and inputs with CSS selectors usable in browser_click and browser_fill. Give url to open a page first.",
      inputSchema: { url: z.string().optional(), session_id: browserSession },
      annotations: { readOnlyHint: true, openWorldHint: true },
    },
    (args) =>
      guarded(async () => {
        const page = (await internal("POST", "/v1/browser/interactions/content", { url: args.url, session_id: args.session_id, max_anchors: 20 })) as {
          url: string;
          title: string;
          readable_content: { content: string };
          interactive_elements: { text: string; selector: string; interactive_type: string }[];
        };
        const controls = page.interactive_elements.slice(0, 60).map((element) => `- [${element.interactive_type}] ${element.text.trim().slice(0, 80)} → ${element.selector}`);
        return { content: [text(clip(`# ${page.title}\n${page.url}\n\n${page.readable_content.content}\n\n## Interactive elements\n${controls.join("\n")}`))] };
      }),
  );

  server.registerTool(
    "browser_snapshot",
    {
      title: "See the page, compactly",
      description:
        "The current page as a short text tree: one line per heading, text, link, button or field (role, name, state, value), each interactive one with a ref " +
        'to pass as selector "ref=e12" to browser_click and browser_fill. At most max_tokens (default 3000); pass the returned cursor to read on. ' +
        "query or selector shows only one region. Refs go stale when the page changes: take a new snapshot then.",
      inputSchema: {
        session_id: browserSession,
        query: z.string().optional().describe("Only the parts containing this text (case-insensitive), with what surrounds them."),
        selector: z.string().optional().describe("Only this element's part of the page (CSS selector or ref=eN)."),
        max_tokens: z.number().int().min(50).max(100_000).optional().describe("Cap on the answer, in tokens (characters / 4). Default 3000."),
        cursor: z.string().optional().describe("The cursor a previous snapshot returned: its next part."),
      },
      annotations: { readOnlyHint: true },
    },
    (args) =>
      guarded(async () => {
        const view = (await internal("POST", "/v1/browser/interactions/snapshot", {
          session_id: args.session_id,
          query: args.query,
          selector: args.selector,
          max_tokens: args.max_tokens,
          cursor: args.cursor,
        })) as { url: string; title: string | null; snapshot: string; cursor: string | null; lines: { from: number; to: number; total: number } };
        const head = view.title === null ? `${view.url} (continued)` : `# ${view.title}\n${view.url}`;
        const more = view.cursor ? `\n\n(lines ${view.lines.from}-${view.lines.to} of ${view.lines.total}; cursor "${view.cursor}" reads on)` : "";
        return { content: [text(`${head}\n\n${view.snapshot}${more}`)] };
      }),
  );

  server.registerTool(
    "browser_click",
    {
      title: "Click",
      description: 'Click the element matching a CSS selector, or a snapshot ref as "ref=e12".',
      inputSchema: { selector: z.string(), session_id: browserSession, timeout: z.number().positive().optional().describe("Milliseconds to wait for the element (default 5000).") },
    },
    (args) => guarded(async () => json(await internal("POST", "/v1/browser/interactions/click", { selector: args.selector, session_id: args.session_id, timeout: args.timeout ?? 5000 }))),
  );

  server.registerTool(
    "browser_fill",
    {
      title: "Fill an input",
      description: 'Set the value of an input or textarea matching a CSS selector, or a snapshot ref as "ref=e12".',
      inputSchema: { selector: z.string(), value: z.string(), session_id: browserSession },
    },
    (args) => guarded(async () => json(await internal("POST", "/v1/browser/interactions/fill", { selector: args.selector, value: args.value, session_id: args.session_id, timeout: 5000 }))),
  );

  server.registerTool(
    "browser_extract",
    {
      title: "Extract elements",
      description: "The text (and the given attributes) of every element matching a CSS selector.",
      inputSchema: { selector: z.string(), attributes: z.array(z.string()).optional(), session_id: browserSession },
      annotations: { readOnlyHint: true },
    },
    (args) => guarded(async () => json(await internal("POST", "/v1/browser/interactions/extract", { selector: args.selector, attributes: args.attributes, session_id: args.session_id }))),
  );

  server.registerTool(
    "browser_screenshot",
    {
      title: "Screenshot",
      description: "A PNG screenshot of the current page.",
      inputSchema: { full_page: z.boolean().optional().describe("The whole page rather than the viewport (default false)."), session_id: browserSession },
      annotations: { readOnlyHint: true },
    },
    (args) =>
      guarded(async () => {
        const shot = (await internal("POST", "/v1/browser/interactions/screenshot", { full_page: args.full_page ?? false, session_id: args.session_id })) as { screenshot: string };
        return { content: [{ type: "image", data: shot.screenshot, mimeType: "image/png" }] };
      }),
  );
}
