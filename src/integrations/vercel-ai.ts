import { jsonSchema, tool, type Tool } from "ai";
import { parametersOf, runTool, selectTools, type Runner, type ToolContext, type ToolOutput, type ToolSelection, type ToolSpec } from "./tools";

/**
 * Vercel AI SDK tools for CodeRunner: pass them to `generateText` / `streamText` as `tools`, and the SDK
 * runs them on the model's tool calls. They take either client; failures come back to the model as
 * `{success: false, error}` rather than aborting the generation. Screenshots reach the model as images.
 *
 * @example
 * import { generateText, stepCountIs } from "ai";
 * import { CodeRunner } from "coderunner";
 * import { codeRunnerTools } from "coderunner/integrations/vercel-ai";
 * const { text } = await generateText({ model, tools: codeRunnerTools(new CodeRunner()), stopWhen: stepCountIs(5), prompt });
 */

function toVercel(spec: ToolSpec, runner: Runner, context: ToolContext): Tool {
  return tool({
    description: spec.description,
    inputSchema: jsonSchema(parametersOf(spec)),
    execute: (input: unknown) => runTool(spec, runner, input, context),
    toModelOutput: ({ output }: { output: ToolOutput }) => {
      if (typeof output?.screenshot === "string") {
        return {
          type: "content",
          value: [
            { type: "text", text: "Screenshot of the page:" },
            { type: "file", mediaType: "image/png", data: { type: "data", data: output.screenshot } },
          ],
        };
      }
      return { type: "json", value: output as never };
    },
  } as never) as Tool;
}

/**
 * CodeRunner's tools keyed by name (`execute_python_code`, `execute_bash_command`, and unless
 * `browser: false` the browser tools), sharing one browser context.
 */
export function codeRunnerTools(runner: Runner, options: ToolSelection = {}): Record<string, Tool> {
  const context: ToolContext = {};
  return Object.fromEntries(selectTools(options).map((spec) => [spec.name, toVercel(spec, runner, context)]));
}
