/**
 * OpenAI function calling with CodeRunner's tools — works the same with the cloud client
 * (`import { InstaVM as CodeRunner } from "coderunner/cloud"`).
 *
 * Run: OPENAI_API_KEY=... bun examples/openai-tools.ts
 * Without OPENAI_API_KEY the model's turn is played back from a recording of the calls a model makes,
 * so the example also runs offline. With the `openai` package, `client.chat.completions.create({ model,
 * messages, tools })` replaces the `fetch` below; the tool calls it returns are fed to `executeTool` the same way.
 */
import { CodeRunner } from "coderunner";
import { executeTool, getTools, toolMessage, type ChatToolCall } from "coderunner/integrations/openai";

type Message = { role: string; content: string | null; tool_calls?: ChatToolCall[]; tool_call_id?: string };

await using runner = new CodeRunner();
const tools = getTools();
const messages: Message[] = [{ role: "user", content: "Calculate the square root of 144, and tell me which Python version computed it." }];

const recorded: Message[] = [
  {
    role: "assistant",
    content: null,
    tool_calls: [
      { id: "call_1", type: "function", function: { name: "execute_python_code", arguments: JSON.stringify({ code: "import math, sys\nprint(math.sqrt(144), sys.version.split()[0])" }) } },
    ],
  },
  { role: "assistant", content: "√144 = 12 (computed with the Python shown above)." },
];

async function modelTurn(): Promise<Message> {
  if (!process.env.OPENAI_API_KEY) return recorded.shift()!;
  const response = await fetch("https://api.openai.com/v1/chat/completions", {
    method: "POST",
    headers: { authorization: `Bearer ${process.env.OPENAI_API_KEY}`, "content-type": "application/json" },
    body: JSON.stringify({ model: process.env.OPENAI_MODEL ?? "gpt-4.1-mini", messages, tools, tool_choice: "auto" }),
  });
  if (!response.ok) throw new Error(`OpenAI answered ${response.status}: ${await response.text()}`);
  return ((await response.json()) as { choices: { message: Message }[] }).choices[0]!.message;
}

for (let turn = 0; turn < 5; turn++) {
  const message = await modelTurn();
  messages.push(message);
  if (!message.tool_calls?.length) {
    console.log("assistant:", message.content);
    break;
  }
  for (const call of message.tool_calls) {
    const result = await executeTool(runner, call);
    console.log(`tool ${call.function.name} ->`, result.success ? result.stdout ?? result : result.error);
    messages.push(toolMessage(call, result));
  }
}
