/**
 * Vercel AI SDK: `generateText` runs CodeRunner's tools on the model's tool calls.
 *
 * Run: AI_GATEWAY_API_KEY=... bun examples/vercel-ai-tools.ts   (model "openai/gpt-4.1-mini" through the AI Gateway)
 * Without a key, a scripted mock model (from `ai/test`) makes the tool call, so the example runs offline;
 * any provider's model (`openai("gpt-4.1")`, `anthropic(...)`) drops in the same way.
 */
import { generateText, stepCountIs, type LanguageModel } from "ai";
import { MockLanguageModelV4 } from "ai/test";
import { CodeRunner } from "coderunner";
import { codeRunnerTools } from "coderunner/integrations/vercel-ai";

const usage = { inputTokens: { total: 0, noCache: 0, cacheRead: undefined, cacheWrite: undefined }, outputTokens: { total: 0, text: 0, reasoning: undefined } };
const scripted = new MockLanguageModelV4({
  doGenerate: [
    {
      content: [{ type: "tool-call", toolCallId: "t1", toolName: "execute_python_code", input: JSON.stringify({ code: "import statistics\nprint(statistics.mean([3, 5, 8, 13]))" }) }],
      finishReason: { unified: "tool-calls", raw: undefined },
      usage,
      warnings: [],
    },
    { content: [{ type: "text", text: "The mean is 7.25." }], finishReason: { unified: "stop", raw: undefined }, usage, warnings: [] },
  ],
});
const model: LanguageModel = process.env.AI_GATEWAY_API_KEY ? "openai/gpt-4.1-mini" : scripted;

await using runner = new CodeRunner();
const result = await generateText({
  model,
  tools: codeRunnerTools(runner),
  stopWhen: stepCountIs(5),
  prompt: "What is the mean of 3, 5, 8 and 13? Compute it with Python.",
});
for (const step of result.steps) for (const call of step.toolResults) console.log(`tool ${call.toolName} ->`, call.output);
console.log("assistant:", result.text);
