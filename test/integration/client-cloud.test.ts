import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { AuthenticationError, InstaVM, SessionError, type StreamEvent } from "../../src/client/cloud";
import { CodeRunner } from "../../src/client/index";
import { getLangChainTool } from "../../src/integrations/langchain";
import { executeTool } from "../../src/integrations/openai";
import { codeRunnerTools } from "../../src/integrations/vercel-ai";
import { startTestServer, type TestServer } from "../helpers/server";

/**
 * The cloud client (`coderunner/cloud`) against our own server started with an API key: CodeRunner
 * speaks the InstaVM contract, so this is the cloud path end to end, including wrong and missing keys.
 */

setDefaultTimeout(60_000);

const KEY = "test-key-0123456789";
let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ kernelPoolSize: 1, apiKey: KEY }, { listen: true });
});

afterAll(async () => {
  await server?.stop();
});

describe("InstaVM with the right key", () => {
  test("the seed's code runs unchanged: execute, bash, sessions, usage, async, stream, dispose", async () => {
    let sessionId: string;
    {
      // The one line that changes when moving to the cloud:
      const CodeRunnerCloud = InstaVM;
      await using runner = new CodeRunnerCloud({ apiKey: KEY, baseURL: server.url });
      const result = await runner.execute("print('Hello Cloud!')");
      expect(result.stdout).toBe("Hello Cloud!\n");
      sessionId = result.session_id;
      expect((await runner.execute("echo 'Hello Bash!'", { language: "bash" })).stdout).toBe("Hello Bash!\n");
      expect(await runner.isSessionActive()).toBe(true);
      expect((await runner.getUsage()).executions).toBe(2);
      const taskId = await runner.executeAsync("print('later')");
      expect((await runner.getTaskResult(taskId, { pollInterval: 0.05 })).serialized_stdout).toBe("later\n");
      const events: StreamEvent[] = [];
      for await (const event of runner.executeStream("print('streamed')")) events.push(event);
      expect(events.at(-1)?.type).toBe("result");
      expect(events.some((e) => e.type === "stdout" && e.text === "streamed\n")).toBe(true);
      const file = await runner.downloadFile("missing.txt").catch((e) => e);
      expect(file.status).toBe(404);
    }
    const after = await fetch(`${server.url}/sessions/${sessionId}`, { headers: { "x-api-key": KEY } });
    expect(after.status).toBe(404);
  });

  test("defaults to the InstaVM cloud URL", () => {
    expect(new InstaVM({ apiKey: "k" }).baseURL).toBe("https://api.instavm.io");
  });

  test("CodeRunner with apiKey talks to a keyed server too", async () => {
    await using runner = new CodeRunner({ baseURL: server.url, apiKey: KEY, autoStart: false });
    expect((await runner.execute("print(2 + 2)")).stdout).toBe("4\n");
  });

  test("server errors keep their classes through the cloud client", async () => {
    const runner = new InstaVM({ apiKey: KEY, baseURL: server.url });
    expect(runner.execute("1", { sessionId: "unknown" })).rejects.toBeInstanceOf(SessionError);
  });
});

describe("InstaVM with a wrong or missing key", () => {
  test("a wrong key is an AuthenticationError (401, UNAUTHORIZED) on the first call", async () => {
    const runner = new InstaVM({ apiKey: "wrong-key", baseURL: server.url });
    const error = await runner.execute("print(1)").catch((e) => e);
    expect(error).toBeInstanceOf(AuthenticationError);
    expect(error.status).toBe(401);
    expect(error.code).toBe("UNAUTHORIZED");
    expect(error.detail).toContain("not valid");
    expect(runner.sessionId).toBeUndefined();
  });

  test("a missing key is an AuthenticationError that says how to send one", async () => {
    const saved = process.env.INSTAVM_API_KEY;
    delete process.env.INSTAVM_API_KEY;
    try {
      const runner = new InstaVM({ baseURL: server.url });
      const error = await runner.startSession().catch((e) => e);
      expect(error).toBeInstanceOf(AuthenticationError);
      expect(error.status).toBe(401);
      expect(error.detail).toContain("X-API-Key");
    } finally {
      if (saved !== undefined) process.env.INSTAVM_API_KEY = saved;
    }
  });

  test("every method is refused with a wrong key, not only session creation", async () => {
    const runner = new InstaVM({ apiKey: "wrong-key", baseURL: server.url });
    const calls = [
      () => runner.execute("1", { sessionId: "x" }),
      () => runner.executeAsync("1", { sessionId: "x" }),
      () => runner.getTask("x"),
      () => runner.getUsage("x"),
      () => runner.kill("x"),
      () => runner.downloadFile("a", { sessionId: "x" }),
      () => runner.browser.listSessions(),
      () => runner.listSessions(),
    ];
    for (const call of calls) expect(await call().catch((e) => e)).toBeInstanceOf(AuthenticationError);
  });

  test("health stays public, as the contract says", async () => {
    const runner = new InstaVM({ apiKey: "wrong-key", baseURL: server.url });
    expect((await runner.health()).status).toBe("healthy");
  });
});

describe("AI tools with the cloud client", () => {
  test("OpenAI, LangChain and Vercel tools take an InstaVM as they take a CodeRunner", async () => {
    await using cloud = new InstaVM({ apiKey: KEY, baseURL: server.url });
    const openai = await executeTool(cloud, { id: "c1", type: "function", function: { name: "execute_python_code", arguments: '{"code": "print(3 * 3)"}' } });
    expect(openai).toMatchObject({ success: true, stdout: "9\n" });
    const langchain = await getLangChainTool(cloud).invoke({ id: "c2", name: "code_runner", args: { code: "print('lc')" }, type: "tool_call" });
    expect(langchain.content).toBe("lc\n");
    const vercel = await codeRunnerTools(cloud).execute_bash_command!.execute!({ command: "echo v" } as never, { toolCallId: "c3", messages: [] } as never);
    expect(vercel).toMatchObject({ success: true, stdout: "v\n" });
  });

  test("with a wrong key the tools answer an authentication error result instead of throwing", async () => {
    const cloud = new InstaVM({ apiKey: "wrong", baseURL: server.url });
    const result = await executeTool(cloud, { id: "c4", type: "function", function: { name: "execute_bash_command", arguments: '{"command": "true"}' } });
    expect(result.success).toBe(false);
    expect(result.error).toContain("API key is not valid");
  });
});
