/**
 * LangChain.js: CodeRunner's tools as LangChain tools (install `@langchain/core`).
 * Bind them to any tool-calling chat model — `model.bindTools(tools)` — and answer the `tool_calls` of
 * its AIMessage with `tool.invoke(toolCall)`. Here the AIMessage is written by hand, so the example runs
 * without a model.
 *
 * Run: bun examples/langchain-tools.ts
 */
import { AIMessage } from "@langchain/core/messages";
import { CodeRunner } from "coderunner";
import { getLangChainTool, getLangChainTools } from "coderunner/integrations/langchain";

await using runner = new CodeRunner();

// The seed's single tool: code_runner({ code, language })
const codeRunner = getLangChainTool(runner);
console.log(await codeRunner.invoke({ code: "print(sum(range(101)))" })); // "5050"

// The full set, as a model would call it
const tools = getLangChainTools(runner, { browser: false });
const byName = new Map(tools.map((tool) => [tool.name, tool]));
const aiMessage = new AIMessage({
  content: "",
  tool_calls: [
    { id: "call_a", name: "execute_python_code", args: { code: "import platform; print(platform.system())" } },
    { id: "call_b", name: "execute_bash_command", args: { command: "echo $((2 ** 16))" } },
  ],
});
for (const call of aiMessage.tool_calls ?? []) {
  const toolMessage = await byName.get(call.name)!.invoke({ ...call, type: "tool_call" });
  console.log(`${call.name}:`, toolMessage.content);
}
