import type { TObject, TProperties, Static } from "@sinclair/typebox";
import type { ExecutionResult as ContractExecutionResult } from "../contract/execute";

/** A finished run, as the execute route answers it. */
export type ExecutionResult = ContractExecutionResult;

/**
 * What one CodeRunner tool is, independent of who offers it: its name, the old names it still answers
 * to, what it tells the model, the TypeBox schema of its arguments, and how it runs against a
 * {@link ToolBackend} and renders its answer. The MCP endpoint and the OpenAI / LangChain / Vercel AI
 * adapters are generated from these definitions (see `catalogue.ts`).
 */

/** Who offers a tool: the `/mcp` endpoint, or the AI-framework adapters (`coderunner/integrations/*`). */
export type Surface = "mcp" | "frameworks";

/** Which session a tool's `session_id` names, when the surface addresses sessions by id (MCP does; a framework client holds its own). */
export type SessionKind = "execution" | "browser";

/** A page's readable text and controls, as the content route answers. */
export interface PageContent {
  url: string;
  title: string;
  readable_content: { content: string };
  interactive_elements: { text: string; selector: string; interactive_type: string }[];
}

/** A compact page tree, as the snapshot route answers. */
export interface PageView {
  url: string;
  title: string | null;
  snapshot: string;
  cursor: string | null;
  lines: { from: number; to: number; total: number };
}

/** The browser actions the tools use, on one browser session. */
export interface BrowserPort {
  navigate(url: string): Promise<{ url: string; title: string }>;
  content(options: { url?: string }): Promise<PageContent>;
  snapshot(options: { query?: string; selector?: string; max_tokens?: number; cursor?: string }): Promise<PageView>;
  click(selector: string, timeoutMs: number): Promise<unknown>;
  fill(selector: string, value: string, timeoutMs: number): Promise<unknown>;
  extract(selector: string, attributes?: string[]): Promise<{ text: string; [field: string]: unknown }[]>;
  /** A PNG, base64-encoded. */
  screenshot(fullPage: boolean): Promise<string>;
}

/**
 * Everything the tools do to a sandbox. The frameworks implement it with the SDK client (`CodeRunner` or
 * `InstaVM`); the MCP endpoint with the server's executor and its own routes. `sessionId` is undefined
 * for the default session (or, with a client, its current one).
 */
export interface ToolBackend {
  execute(code: string, options: { language: "python" | "bash"; timeout?: number; sessionId?: string }): Promise<ExecutionResult>;
  createSession(env?: Record<string, string>): Promise<string>;
  closeSession(sessionId: string): Promise<void>;
  writeFile(path: string, content: string, sessionId?: string): Promise<{ path: string; size: number }>;
  /** The file's bytes, base64-encoded, and where it is. */
  readFile(path: string, sessionId?: string): Promise<{ path: string; content: string }>;
  listFiles(path?: string, sessionId?: string): Promise<Record<string, unknown>>;
  /** Opens a browser session and answers its id; a client also makes it the one its later browser tools act on. */
  createBrowserSession(viewport: { width?: number; height?: number }): Promise<string>;
  browser(sessionId?: string): BrowserPort;
}

/** One piece of what an MCP client shows the model. */
export type ContentBlock =
  | { type: "text"; text: string }
  | { type: "image"; data: string; mimeType: string }
  | { type: "resource"; resource: { uri: string; mimeType: string; blob: string } };

/** A tool's answer as JSON (what the frameworks hand the model): `success` false with `error` when it could not be done. */
export type ToolOutput = { success: boolean; error?: string; [key: string]: unknown };

/** A tool's answer, rendered once for every surface. */
export interface ToolAnswer {
  /** For OpenAI, LangChain and Vercel AI. */
  json: ToolOutput;
  /** For MCP: text and images in reading order. */
  content: ContentBlock[];
  /** True when the model should read the answer as a failure: the tool could not act, or the code raised or timed out. */
  isError: boolean;
  /** Small machine-readable facts (MCP `structuredContent`). */
  structured?: Record<string, unknown>;
}

/** Arguments every tool receives on top of its own: the session, where the surface names one. */
export interface SessionArgs {
  session_id?: string;
}

export interface ToolDefinition<Params extends TProperties = TProperties> {
  /** The name models call it by. */
  name: string;
  /** Earlier names, still accepted when called (not listed). */
  aliases?: string[];
  /** A short human title (MCP `title`). */
  title: string;
  description: string;
  /** Its own arguments; `session_id` is added for surfaces that address sessions by id. */
  params: TObject<Params>;
  /** Which session a `session_id` argument would name; absent for tools that act on no session. */
  session?: SessionKind;
  surfaces: readonly Surface[];
  /** MCP tool annotations (hints for clients). */
  annotations?: { readOnlyHint?: boolean; destructiveHint?: boolean; openWorldHint?: boolean };
  run(backend: ToolBackend, args: Static<TObject<Params>> & SessionArgs): Promise<ToolAnswer>;
}

/** Keeps a definition's argument types while it is written. */
export const defineTool = <Params extends TProperties>(definition: ToolDefinition<Params>) => definition as unknown as ToolDefinition;
