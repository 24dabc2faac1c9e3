import { findFrameworkTool, parametersOf, runTool, selectTools, type Runner, type ToolContext, type ToolOutput, type ToolSelection } from "./tools";

/**
 * OpenAI function calling for CodeRunner — works the same with `CodeRunner` and `InstaVM`.
 *
 * @example
 * import OpenAI from "openai";
 * import { CodeRunner } from "coderunner";
 * import { getTools, executeTool, toolMessage } from "coderunner/integrations/openai";
 *
 * const runner = new CodeRunner();
 * const response = await new OpenAI().chat.completions.create({ model: "gpt-4.1", messages, tools: getTools() });
 * for (const call of response.choices[0].message.tool_calls ?? []) {
 *   messages.push(toolMessage(call, await executeTool(runner, call)));
 * }
 */

/** A Chat Completions tool definition (`ChatCompletionTool`). */
export interface OpenAITool {
  type: "function";
  function: { name: string; description: string; parameters: Record<string, unknown> };
}

/** A Chat Completions tool call, as in `message.tool_calls[i]`. */
export interface ChatToolCall {
  id?: string;
  type?: "function";
  function: { name: string; arguments: string };
}

/** A Responses API function call item (`{type: "function_call", call_id, name, arguments}`). */
export interface ResponsesFunctionCall {
  type: "function_call";
  call_id?: string;
  name: string;
  arguments: string;
}

export type OpenAIToolCall = ChatToolCall | ResponsesFunctionCall;

/** Tool definitions for `chat.completions.create({ tools })`: Python, bash and (unless `browser: false`) the browser. */
export function getTools(options: ToolSelection = {}): OpenAITool[] {
  return selectTools(options).map((spec) => ({
    type: "function",
    function: { name: spec.name, description: spec.description, parameters: parametersOf(spec) },
  }));
}

/** The same tools in the Responses API's flat shape (`responses.create({ tools })`). */
export function getResponsesTools(options: ToolSelection = {}) {
  return getTools(options).map(({ function: fn }) => ({ type: "function" as const, name: fn.name, description: fn.description, parameters: fn.parameters }));
}

export interface ExecuteToolOptions extends ToolContext {}

function nameAndArguments(call: OpenAIToolCall): { name: string; raw: string } {
  if ("function" in call && call.function) return { name: call.function.name, raw: call.function.arguments };
  const flat = call as ResponsesFunctionCall;
  return { name: flat.name, raw: flat.arguments };
}

/**
 * Runs one tool call with either client and returns a JSON-able result; it never throws for a bad
 * call: unknown tools, malformed JSON arguments and failed runs all answer `{success: false, error}`.
 * `create_browser_session` sets `options.browserSession`, which later browser calls then use; without
 * one they act on the client's default browser session.
 */
export async function executeTool(runner: Runner, toolCall: OpenAIToolCall, options: ExecuteToolOptions = {}): Promise<ToolOutput> {
  const { name, raw } = nameAndArguments(toolCall);
  const spec = findFrameworkTool(name);
  if (!spec) return { success: false, error: `Unknown function: ${name}` };
  let args: unknown;
  try {
    args = raw === undefined || raw === "" ? {} : JSON.parse(raw);
  } catch (error) {
    return { success: false, error: `Invalid function arguments JSON for ${name}: ${error instanceof Error ? error.message : String(error)}` };
  }
  if (!args || typeof args !== "object" || Array.isArray(args)) return { success: false, error: `The arguments of ${name} must be a JSON object.` };
  return runTool(spec, runner, args, options);
}

/** The message that answers a Chat Completions tool call: `{role: "tool", tool_call_id, content}`. */
export function toolMessage(toolCall: ChatToolCall, result: ToolOutput): { role: "tool"; tool_call_id: string; content: string } {
  return { role: "tool", tool_call_id: toolCall.id ?? "", content: JSON.stringify(result) };
}

/** The input item that answers a Responses API function call. */
export function functionCallOutput(call: ResponsesFunctionCall, result: ToolOutput): { type: "function_call_output"; call_id: string; output: string } {
  return { type: "function_call_output", call_id: call.call_id ?? "", output: JSON.stringify(result) };
}
