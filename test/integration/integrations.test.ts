import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { AIMessage, ToolMessage } from "@langchain/core/messages";
import { generateText, stepCountIs } from "ai";
import { MockLanguageModelV4 } from "ai/test";
import { CodeRunner } from "../../src/client/index";
import { getLangChainTool, getLangChainTools } from "../../src/integrations/langchain";
import { executeTool, functionCallOutput, getResponsesTools, getTools, toolMessage, type ChatToolCall } from "../../src/integrations/openai";
import type { ToolContext } from "../../src/integrations/tools";
import { codeRunnerTools } from "../../src/integrations/vercel-ai";
import { startTestServer, type TestServer } from "../helpers/server";
import { servePages } from "../helpers/pages";

/**
 * The AI-framework tools against a real server (kernels, shells, Chromium), fed the tool-call objects
 * each library produces — no model is called over the network.
 */

setDefaultTimeout(60_000);

let pages: ReturnType<typeof servePages>;
let base: string;
let server: TestServer;
let runner: CodeRunner;

beforeAll(async () => {
  pages = servePages({
    "*": `<!doctype html><html><head><title>Your IP</title></head><body><h1>Origin</h1><p id="origin">127.0.0.1</p><a id="more" href="/more">More details</a></body></html>`,
  });
  base = pages.base;
  server = await startTestServer({ kernelPoolSize: 1 }, { listen: true });
  runner = new CodeRunner({ baseURL: server.url, autoStart: false });
});

afterAll(async () => {
  await runner?.close();
  await server?.stop();
  pages?.stop();
});

let callCount = 0;
const chatCall = (name: string, args: unknown): ChatToolCall => ({
  id: `call_${++callCount}`,
  type: "function",
  function: { name, arguments: typeof args === "string" ? args : JSON.stringify(args) },
});

describe("OpenAI", () => {
  test("getTools gives Chat Completions function definitions with JSON-schema parameters", () => {
    const tools = getTools();
    expect(tools.map((tool) => tool.function.name)).toEqual([
      "execute_python_code",
      "execute_bash_command",
      "create_browser_session",
      "navigate_to_url",
      "extract_page_content",
      "click_element",
      "fill_input",
      "take_screenshot",
    ]);
    const python = tools[0]!.function.parameters as { type: string; properties: Record<string, unknown>; required: string[] };
    expect(python.type).toBe("object");
    expect(python.required).toEqual(["code"]);
    expect(Object.keys(python.properties)).toEqual(["code", "language", "timeout"]);
    expect(getTools({ browser: false })).toHaveLength(2);
    expect(getResponsesTools()[0]).toMatchObject({ type: "function", name: "execute_python_code" });
  });

  test("python and bash tool calls run, with state kept between calls", async () => {
    const first = await executeTool(runner, chatCall("execute_python_code", { code: "import math\nroot = math.sqrt(144)" }));
    expect(first).toMatchObject({ success: true, status: "ok" });
    const second = await executeTool(runner, chatCall("execute_python_code", { code: "print(root)" }));
    expect(second.stdout).toBe("12.0\n");
    const bash = await executeTool(runner, chatCall("execute_bash_command", { command: "echo $((6*7))" }));
    expect(bash).toMatchObject({ success: true, stdout: "42\n", output: "42\n" });
    const message = toolMessage(chatCall("execute_python_code", "{}"), second);
    expect(message.role).toBe("tool");
    expect(JSON.parse(message.content).stdout).toBe("12.0\n");
  });

  test("an exception in the code is reported, not thrown", async () => {
    const result = await executeTool(runner, chatCall("execute_python_code", { code: "raise ValueError('bad input')" }));
    expect(result).toMatchObject({ success: true, status: "error", exception: "ValueError: bad input" });
  });

  test("malformed JSON, wrong arguments and unknown tools answer an error result", async () => {
    const malformed = await executeTool(runner, chatCall("execute_python_code", '{"code": "print(1)"'));
    expect(malformed.success).toBe(false);
    expect(malformed.error).toContain("Invalid function arguments JSON");
    const missing = await executeTool(runner, chatCall("execute_bash_command", { cmd: "ls" }));
    expect(missing.success).toBe(false);
    expect(missing.error).toContain("command");
    const notObject = await executeTool(runner, chatCall("execute_bash_command", "[1]"));
    expect(notObject.success).toBe(false);
    expect(await executeTool(runner, chatCall("launch_rockets", {}))).toEqual({ success: false, error: "Unknown function: launch_rockets" });
  });

  test("a Responses API function_call item works too", async () => {
    const item = { type: "function_call" as const, call_id: "fc_1", name: "execute_python_code", arguments: '{"code":"print(\'responses\')"}' };
    const result = await executeTool(runner, item);
    expect(result.stdout).toBe("responses\n");
    expect(functionCallOutput(item, result)).toMatchObject({ type: "function_call_output", call_id: "fc_1" });
  });

  test("the seed's browser flow: create a session, navigate, read, click, screenshot", async () => {
    const context: ToolContext = {};
    const created = await executeTool(runner, chatCall("create_browser_session", { width: 800, height: 600 }), context);
    expect(created.success).toBe(true);
    expect(context.browserSession?.sessionId).toBe(created.session_id as string);
    const navigated = await executeTool(runner, chatCall("navigate_to_url", { url: base }), context);
    expect(navigated).toMatchObject({ success: true, title: "Your IP" });
    const read = await executeTool(runner, chatCall("extract_page_content", { selector: "#origin" }), context);
    expect(read).toMatchObject({ success: true, content: "127.0.0.1" });
    const page = await executeTool(runner, chatCall("extract_page_content", {}), context);
    const links = page.interactive_elements as { text: string; selector: string }[];
    const more = links.find((link) => link.text.includes("More details"))!;
    expect((await executeTool(runner, chatCall("click_element", { selector: more.selector }), context)).success).toBe(true);
    const missing = await executeTool(runner, chatCall("click_element", { selector: "#nothing-here" }), context);
    expect(missing.success).toBe(false);
    expect(missing.error).toContain("click_element failed");
    const shot = await executeTool(runner, chatCall("take_screenshot", { full_page: false }), context);
    expect(Buffer.from(shot.screenshot as string, "base64").subarray(1, 4).toString()).toBe("PNG");
    await context.browserSession!.close();
  });
});

describe("LangChain", () => {
  test("the seed's code_runner tool answers a model's ToolCall with a ToolMessage", async () => {
    const codeRunner = getLangChainTool(runner);
    expect(codeRunner.name).toBe("code_runner");
    const message = new AIMessage({ content: "", tool_calls: [{ id: "lc_1", name: "code_runner", args: { code: "print(sum(range(10)))" } }] });
    const answer = await codeRunner.invoke({ ...message.tool_calls![0]!, type: "tool_call" });
    expect(answer).toBeInstanceOf(ToolMessage);
    expect(answer.tool_call_id).toBe("lc_1");
    expect(answer.content).toBe("45\n");
    const bash = await codeRunner.invoke({ id: "lc_2", name: "code_runner", args: { code: "echo from-bash >&2", language: "bash" }, type: "tool_call" });
    expect(bash.content).toBe("Errors: from-bash\n");
  });

  test("the tool set covers bash and the browser, with plain-args invocation too", async () => {
    const tools = getLangChainTools(runner);
    const byName = Object.fromEntries(tools.map((tool) => [tool.name, tool]));
    expect(Object.keys(byName)).toContain("navigate_to_url");
    expect(await byName.execute_bash_command!.invoke({ command: "echo plain" })).toBe("plain\n");
    const navigated = await byName.navigate_to_url!.invoke({ id: "lc_3", name: "navigate_to_url", args: { url: base }, type: "tool_call" });
    expect(JSON.parse(navigated.content as string)).toMatchObject({ success: true, title: "Your IP" });
    const bad = await byName.navigate_to_url!.invoke({ url: "not a url" });
    expect(bad).toStartWith("Error: navigate_to_url failed");
    await runner.browser.close();
  });
});

describe("Vercel AI SDK", () => {
  const usage = {
    inputTokens: { total: 1, noCache: 1, cacheRead: undefined, cacheWrite: undefined },
    outputTokens: { total: 1, text: 1, reasoning: undefined },
  };

  test("generateText runs the tools on the model's tool calls and feeds the results back", async () => {
    const model = new MockLanguageModelV4({
      doGenerate: [
        {
          content: [
            { type: "tool-call", toolCallId: "v1", toolName: "execute_python_code", input: JSON.stringify({ code: "print(2**10)" }) },
            { type: "tool-call", toolCallId: "v2", toolName: "execute_bash_command", input: JSON.stringify({ command: "echo vercel" }) },
          ],
          finishReason: { unified: "tool-calls", raw: undefined },
          usage,
          warnings: [],
        },
        { content: [{ type: "text", text: "1024 and vercel" }], finishReason: { unified: "stop", raw: undefined }, usage, warnings: [] },
      ],
    });
    const result = await generateText({ model, tools: codeRunnerTools(runner), stopWhen: stepCountIs(3), prompt: "compute" });
    expect(result.text).toBe("1024 and vercel");
    const outputs = Object.fromEntries(result.steps[0]!.toolResults.map((r) => [r.toolCallId, r.output as Record<string, unknown>]));
    expect(outputs.v1).toMatchObject({ success: true, stdout: "1024\n" });
    expect(outputs.v2).toMatchObject({ success: true, stdout: "vercel\n" });
    // The second model call saw the tool results.
    const secondPrompt = JSON.stringify(model.doGenerateCalls[1]!.prompt);
    expect(secondPrompt).toContain("1024");
  });

  test("a browser screenshot goes back to the model as an image", async () => {
    const model = new MockLanguageModelV4({
      doGenerate: [
        {
          content: [{ type: "tool-call", toolCallId: "b1", toolName: "navigate_to_url", input: JSON.stringify({ url: base }) }],
          finishReason: { unified: "tool-calls", raw: undefined },
          usage,
          warnings: [],
        },
        {
          content: [{ type: "tool-call", toolCallId: "b2", toolName: "take_screenshot", input: JSON.stringify({ full_page: false }) }],
          finishReason: { unified: "tool-calls", raw: undefined },
          usage,
          warnings: [],
        },
        { content: [{ type: "text", text: "seen" }], finishReason: { unified: "stop", raw: undefined }, usage, warnings: [] },
      ],
    });
    await using local = new CodeRunner({ baseURL: server.url, autoStart: false });
    const result = await generateText({ model, tools: codeRunnerTools(local), stopWhen: stepCountIs(4), prompt: "look" });
    expect(result.text).toBe("seen");
    expect(result.steps[0]!.toolResults[0]!.output).toMatchObject({ success: true, title: "Your IP" });
    const lastPrompt = JSON.stringify(model.doGenerateCalls[2]!.prompt);
    expect(lastPrompt).toContain("image/png");
  });

  test("bad tool input from the model becomes an error result the model can read", async () => {
    const tools = codeRunnerTools(runner, { browser: false });
    expect(Object.keys(tools)).toEqual(["execute_python_code", "execute_bash_command"]);
    const output = await tools.execute_bash_command!.execute!({ command: "exit 3" } as never, { toolCallId: "x", messages: [] } as never);
    expect(output).toMatchObject({ success: true, status: "error" });
  });
});
