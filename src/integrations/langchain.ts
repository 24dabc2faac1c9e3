import { tool } from "@langchain/core/tools";
import { z } from "zod";
import { runTool, selectTools, type Runner, type ToolContext, type ToolOutput, type ToolSelection, type ToolSpec } from "./tools";

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
  return tool(async (args: unknown) => outputText(await runTool(spec, runner, args, context)), {
    name: spec.name,
    description: spec.description,
    schema: spec.schema,
  });
}

/**
 * The seed's single tool, `code_runner`: runs Python, or bash with `language: "bash"`.
 */
export function getLangChainTool(runner: Runner) {
  const context: ToolContext = {};
  const spec: ToolSpec = {
    name: "code_runner",
    description: "Execute Python code (or bash with language='bash') securely in a persistent sandbox. Print what you want to see.",
    schema: z.object({
      code: z.string().describe("The code to execute."),
      language: z.enum(["python", "bash", "shell"]).optional().describe("python (default), or bash/shell."),
    }),
    run: async (client, args) => {
      const { code, language } = args as { code: string; language?: "python" | "bash" | "shell" };
      const [python] = selectTools({ browser: false });
      return python!.run(client, { code, language }, context);
    },
  };
  return toLangChain(spec, runner, context);
}

/** Every CodeRunner tool (Python, bash and, unless `browser: false`, the browser) sharing one browser context. */
export function getLangChainTools(runner: Runner, options: ToolSelection = {}) {
  const context: ToolContext = {};
  return selectTools(options).map((spec) => toLangChain(spec, runner, context));
}
