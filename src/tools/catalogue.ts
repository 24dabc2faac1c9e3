import { Type, type TObject } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { createBrowserSession, browserExtract, browserSnapshot, clickElement, extractPageContent, fillInput, navigateToURL, takeScreenshot } from "./browser-tools";
import { closeSession, createSession, executeBash, executePython } from "./code-tools";
import { listFiles, readFile, writeFile } from "./file-tools";
import { failure } from "./render";
import type { SessionKind, Surface, ToolAnswer, ToolBackend, ToolDefinition } from "./tool";

/**
 * The one catalogue of CodeRunner's tools. Each surface takes the tools offered to it with
 * {@link toolsFor}, lists them with {@link inputSchema}, finds a called one with {@link findTool} (which
 * also knows the old names) and runs it with {@link callTool}.
 */

/** Every tool, in the order surfaces list them: code, sessions, files, browser. */
export const TOOLS: readonly ToolDefinition[] = [
  executePython,
  executeBash,
  createSession,
  closeSession,
  writeFile,
  readFile,
  listFiles,
  createBrowserSession,
  navigateToURL,
  extractPageContent,
  browserSnapshot,
  clickElement,
  fillInput,
  browserExtract,
  takeScreenshot,
];

/** The tools one surface offers, in catalogue order. */
export function toolsFor(surface: Surface): ToolDefinition[] {
  return TOOLS.filter((tool) => tool.surfaces.includes(surface));
}

/** The tool called `name` on `surface`, by its name or a former one. */
export function findTool(surface: Surface, name: string): ToolDefinition | undefined {
  return toolsFor(surface).find((tool) => tool.name === name || tool.aliases?.includes(name));
}

const SESSION_ID: Record<SessionKind, string> = {
  execution: "Execution session to use; omit for the shared default session (its state persists).",
  browser: "Browser session; omit for the shared default browser session.",
};

/** Whether `surface` names sessions by id in tool arguments (a framework's client holds its own session instead). */
const namesSessions = (surface: Surface) => surface === "mcp";

const schemas = new Map<string, TObject>();

/** The TypeBox (JSON Schema) object a tool takes on `surface`: its own arguments, plus `session_id` where the surface names sessions. */
export function inputSchema(tool: ToolDefinition, surface: Surface): TObject {
  const key = `${surface}:${tool.name}`;
  let schema = schemas.get(key);
  if (!schema) {
    schema = tool.session && namesSessions(surface) ? Type.Object({ ...tool.params.properties, session_id: Type.Optional(Type.String({ description: SESSION_ID[tool.session] })) }) : tool.params;
    schemas.set(key, schema);
  }
  return schema;
}

/** `inputSchema` as plain JSON Schema (no TypeBox symbols), for protocols that send it. */
export function jsonSchemaOf(tool: ToolDefinition, surface: Surface): Record<string, unknown> & { type: "object" } {
  return JSON.parse(JSON.stringify(inputSchema(tool, surface)));
}

/** What is wrong with `args` for `tool`, one problem per argument; undefined when they are valid. */
export function argumentProblems(tool: ToolDefinition, surface: Surface, args: unknown): string | undefined {
  const schema = inputSchema(tool, surface);
  if (Value.Check(schema, args)) return undefined;
  const problems = new Map<string, string>();
  for (const error of Value.Errors(schema, args)) {
    const where = error.path.slice(1).replaceAll("/", ".") || "arguments";
    if (!problems.has(where)) problems.set(where, error.message);
  }
  return [...problems].map(([where, message]) => `${where}: ${message}`).join("; ");
}

/**
 * Validates `args` against the tool's schema on `surface` and runs it on `backend` with the arguments the
 * schema defines. It never throws: bad arguments and failures become an answer with `isError` and a
 * sentence naming the tool.
 */
export async function callTool(tool: ToolDefinition, surface: Surface, backend: ToolBackend, args: unknown): Promise<ToolAnswer> {
  const given = args ?? {};
  const problems = argumentProblems(tool, surface, given);
  if (problems) return failure(`Invalid arguments for ${tool.name}: ${problems}`);
  // Arguments the surface does not define are dropped, as a model's stray ones should be (a framework's session_id included).
  const known = Value.Clean(inputSchema(tool, surface), structuredClone(given));
  try {
    return await tool.run(backend, known as never);
  } catch (error) {
    return failure(`${tool.name} failed: ${error instanceof Error ? error.message : String(error)}`);
  }
}
