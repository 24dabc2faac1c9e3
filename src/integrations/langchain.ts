import { tool } from "@langchain/core/tools";
import type { JsonSchema7Type } from "@langchain/core/utils/json_schema";
import { Type } from "@sinclair/typebox";
import { defineTool, executePython } from "../tools";
import { parametersOf, runTool, selectTools, type Runner, type ToolContext, type ToolOutput, type ToolSelection, type ToolSpec } from "./tools";

/**
 * LangChain.js tools for CodeRunner (`@langchain/core` is an optional peer dependency: install it to use
 * this module). Each tool takes either client and returns text for the model; invoking one with a
 * `ToolCall` (`{name, args, id, type: "tool_call"}`, as chat models produce) returns a `ToolMessage`.
 *
 * @example
 * import { CodeRunner } from "coderunner";
 * import { getLangChainTools } from "coderunner/integrations/langchain";
 * const tools = getLangChainTools(new CodeRunner());
 * const model = new ChatOpenAI({ model: "gpt-4.1" }).bindTools(tools);
 */

/** What the model reads: the seed's "stdout, then Errors:" text for runs, JSON for everything else. */
export function outputText(output: ToolOutput): string {
  if (!output.success) return `Error: ${output.error}`;
  if (typeof output.stdout === "string") {
    let text = output.stdout;
    if (output.stderr) text += `${text ? "\n" : ""}Errors: ${output.stderr}`;
    if (output.status === "timeout") text += "\n(The run timed out.)";
    return text === "" ? "(no output)" : text;
  }
  const { screenshot, ...rest } = output;
  return JSON.stringify(screenshot ? { ...rest, screenshot: "(base64 PNG omitted)" } : rest);
}

function toLangChain(spec: ToolSpec, runner: Runner, context: ToolContext) {
  // Typed input, so invoking with a ToolCall is typed as answering a ToolMessage.
  return tool<JsonSchema7Type, string, Record<string, unknown>, Record<string, unknown>>(async (args: unknown) => outputText(await runTool(spec, runner, args, context)), {
    name: spec.name,
    description: spec.description,
    schema: parametersOf(spec) as JsonSchema7Type,
  });
}

/** The seed's single tool: Python, or bash with `language: "bash"`, answered as `execute_python_code` answers. */
const codeRunner = defineTool({
  name: "code_runner",
  title: "Run code",
  description: "Execute Python code (or bash with language='bash') securely in a persistent sandbox. Print what you want to see.",
  params: Type.Object({
    code: Type.String({ description: "The code to execute." }),
    language: Type.Optional(Type.Union([Type.Literal("python"), Type.Literal("bash"), Type.Literal("shell")], { description: "python (default), or bash/shell." })),
  }),
  surfaces: [],
  run: (backend, args) => executePython.run(backend, { code: args.code, language: args.language }),
});

/**
 * The seed's single tool, `code_runner`: runs Python, or bash with `language: "bash"`.
 */
export function getLangChainTool(runner: Runner) {
  return toLangChain(codeRunner, runner, {});
}

/** Every CodeRunner tool (Python, bash and, unless `browser: false`, the browser) sharing one browser context. */
export function getLangChainTools(runner: Runner, options: ToolSelection = {}) {
  const context: ToolContext = {};
  return selectTools(options).map((spec) => toLangChain(spec, runner, context));
}
