import type { BrowserSession } from "../client/browser";
import type { SandboxClient } from "../client/client";
import type { ExecutionResult } from "../client/types";
import { callTool, findTool, jsonSchemaOf, renderRun, toolsFor, type ToolBackend, type ToolDefinition, type ToolOutput } from "../tools";

/**
 * The catalogue's tools as the AI-framework adapters offer them: run with either client (`CodeRunner` or
 * `InstaVM`), answering JSON. Names, descriptions, schemas, limits and rendering all come from
 * `src/tools`; the adapters (`openai.ts`, `langchain.ts`, `vercel-ai.ts`) only translate calls.
 */

export { ELEMENT_WAIT_MS, MAX_TOOL_TEXT } from "../tools";
export { executePython, executeBash, createBrowserSession, navigateToURL, extractPageContent, clickElement, fillInput, takeScreenshot } from "../tools";
export type { ToolOutput } from "../tools";

/** Either client: local `CodeRunner` or cloud `InstaVM`. */
export type Runner = SandboxClient;

/** Per-conversation state: the browser session tools act on (default: the client's default session). */
export interface ToolContext {
  browserSession?: BrowserSession;
}

/** One tool of the catalogue. */
export type ToolSpec = ToolDefinition;

const offered = toolsFor("frameworks");
/** Code tools. */
export const CODE_TOOLS: ToolSpec[] = offered.filter((tool) => tool.session === "execution");
/** Browser tools. */
export const BROWSER_TOOLS: ToolSpec[] = offered.filter((tool) => tool.session !== "execution");

export interface ToolSelection {
  /** Include the browser tools (default true). */
  browser?: boolean;
}

export function selectTools(options: ToolSelection = {}): ToolSpec[] {
  return options.browser === false ? CODE_TOOLS : [...CODE_TOOLS, ...BROWSER_TOOLS];
}

/** The offered tool called `name` (or by a former name, such as MCP's `execute_python`). */
export function findFrameworkTool(name: string): ToolSpec | undefined {
  return findTool("frameworks", name);
}

/** A tool's arguments as plain JSON Schema, for the frameworks that take one. */
export function parametersOf(spec: ToolSpec): Record<string, unknown> & { type: "object" } {
  return jsonSchemaOf(spec, "frameworks");
}

/** A run's result as the model should see it: output, how it ended, and what rich outputs it made. */
export function runOutput(result: ExecutionResult): ToolOutput {
  return renderRun(result).json;
}

/** The tools' backend over an SDK client; `create_browser_session` records its session in `context` for later browser calls. */
export function clientBackend(runner: Runner, context: ToolContext): ToolBackend {
  return {
    execute: (code, options) => runner.execute(code, options),
    createSession: (env) => runner.startSession({ env }),
    closeSession: (sessionId) => runner.closeSession(sessionId),
    writeFile: (path, content, sessionId) => runner.uploadFile(content, path, { sessionId }),
    async readFile(path, sessionId) {
      const file = await runner.downloadFile(path, { sessionId });
      return { path: file.filename, content: Buffer.from(file.content).toString("base64") };
    },
    listFiles: async (path, sessionId) => ({ ...(await runner.listFiles(path, { sessionId })) }),
    async createBrowserSession({ width, height }) {
      const session = await runner.browser.createSession({ viewportWidth: width, viewportHeight: height });
      context.browserSession = session;
      return session.sessionId;
    },
    browser() {
      const browser = context.browserSession ?? runner.browser;
      return {
        navigate: (url) => browser.navigate(url),
        content: ({ url }) => browser.extractContent({ url }),
        snapshot: (options) => browser.snapshot({ query: options.query, selector: options.selector, maxTokens: options.max_tokens, cursor: options.cursor }),
        click: (selector, timeout) => browser.click(selector, { timeout }),
        fill: (selector, value, timeout) => browser.fill(selector, value, { timeout }),
        extract: (selector, attributes) => browser.extractElements(selector, attributes),
        screenshot: (fullPage) => browser.screenshot({ fullPage }),
      };
    },
  };
}

/** Validates `args` against the tool's schema and runs it; every failure becomes `{success: false, error}`. */
export async function runTool(spec: ToolSpec, runner: Runner, args: unknown, context: ToolContext): Promise<ToolOutput> {
  return (await callTool(spec, "frameworks", clientBackend(runner, context), args)).json;
}
