import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { callTool, findTool, inputSchema, jsonSchemaOf, MAX_ELEMENTS, MAX_TOOL_TEXT, renderRun, TOOLS, toolsFor, type ExecutionResult, type ToolBackend } from "../../../src/tools";

/** A backend that records what the tools asked of it and answers from `overrides`. */
function fakeBackend(overrides: Partial<ToolBackend> = {}, browser: Partial<ReturnType<ToolBackend["browser"]>> = {}) {
  const calls: unknown[][] = [];
  const record =
    (name: string, answer: unknown) =>
    async (...args: unknown[]) => {
      calls.push([name, ...args]);
      return answer;
    };
  const backend: ToolBackend = {
    execute: record("execute", run({ stdout: "hi\n" })) as ToolBackend["execute"],
    createSession: record("createSession", "s1") as ToolBackend["createSession"],
    closeSession: record("closeSession", undefined) as ToolBackend["closeSession"],
    writeFile: record("writeFile", { path: "/w/a.txt", size: 2 }) as ToolBackend["writeFile"],
    readFile: record("readFile", { path: "/w/a.txt", content: Buffer.from("text").toString("base64") }) as ToolBackend["readFile"],
    listFiles: record("listFiles", { path: "/w", entries: [] }) as ToolBackend["listFiles"],
    createBrowserSession: record("createBrowserSession", "b1") as ToolBackend["createBrowserSession"],
    browser: (sessionId) => {
      calls.push(["browser", sessionId]);
      return {
        navigate: record("navigate", { url: "http://x/", title: "X" }),
        content: record("content", { url: "http://x/", title: "X", readable_content: { content: "body" }, interactive_elements: [] }),
        snapshot: record("snapshot", { url: "http://x/", title: "X", snapshot: "tree", cursor: null, lines: { from: 1, to: 1, total: 1 } }),
        click: record("click", {}),
        fill: record("fill", {}),
        extract: record("extract", []),
        screenshot: record("screenshot", "iVBOR"),
        ...browser,
      } as ReturnType<ToolBackend["browser"]>;
    },
    ...overrides,
  };
  return { backend, calls };
}

function run(fields: Partial<ExecutionResult> = {}): ExecutionResult {
  return { stdout: "", stderr: "", status: "ok", execution_time: 0.1, results: [], session_id: "default", truncated: false, exit_code: null, ...fields } as ExecutionResult;
}

describe("the catalogue", () => {
  test("no two tools share a name or a former name", () => {
    const names = TOOLS.flatMap((tool) => [tool.name, ...(tool.aliases ?? [])]);
    expect(new Set(names).size).toBe(names.length);
  });

  test("the frameworks' tools are MCP's under the same names, except create_browser_session", () => {
    const mcp = toolsFor("mcp").map((tool) => tool.name);
    const frameworks = toolsFor("frameworks").map((tool) => tool.name);
    expect(frameworks).toHaveLength(8);
    expect(frameworks.filter((name) => !mcp.includes(name))).toEqual(["create_browser_session"]);
    expect(mcp.filter((name) => !frameworks.includes(name))).toEqual(["create_session", "close_session", "write_file", "read_file", "list_files", "browser_snapshot", "browser_extract"]);
  });

  test("a former MCP name finds its tool on MCP", () => {
    const former: Record<string, string> = {
      execute_python: "execute_python_code",
      execute_bash: "execute_bash_command",
      browser_navigate: "navigate_to_url",
      browser_content: "extract_page_content",
      browser_click: "click_element",
      browser_fill: "fill_input",
      browser_screenshot: "take_screenshot",
    };
    for (const [old, current] of Object.entries(former)) expect(findTool("mcp", old)?.name).toBe(current);
    expect(findTool("mcp", "launch_rockets")).toBeUndefined();
    expect(findTool("frameworks", "browser_snapshot")).toBeUndefined();
  });

  test("session_id is an argument only where the surface names sessions (MCP)", () => {
    const python = findTool("mcp", "execute_python_code")!;
    expect(Object.keys(inputSchema(python, "frameworks").properties)).toEqual(["code", "language", "timeout"]);
    expect(Object.keys(inputSchema(python, "mcp").properties)).toEqual(["code", "language", "timeout", "session_id"]);
    expect(inputSchema(findTool("mcp", "close_session")!, "mcp").required).toEqual(["session_id"]);
  });

  test("the JSON Schema a protocol receives is plain data", () => {
    const schema = jsonSchemaOf(findTool("mcp", "click_element")!, "mcp");
    expect(schema).toEqual(JSON.parse(JSON.stringify(schema)));
    expect(Object.getOwnPropertySymbols(schema)).toEqual([]);
    expect(schema).toMatchObject({ type: "object", required: ["selector"] });
  });
});

describe("callTool", () => {
  test("runs a tool with its arguments, passing the session on", async () => {
    const { backend, calls } = fakeBackend();
    const answer = await callTool(findTool("mcp", "execute_bash")!, "mcp", backend, { command: "echo hi", session_id: "s9", timeout: 2 });
    expect(calls).toEqual([["execute", "echo hi", { language: "bash", timeout: 2, sessionId: "s9" }]]);
    expect(answer.json).toMatchObject({ success: true, stdout: "hi\n" });
    expect(answer.content).toEqual([{ type: "text", text: "hi\n" }]);
  });

  test("any JSON arguments to any tool on either surface answer, never throw", async () => {
    const { backend } = fakeBackend();
    const tools = TOOLS.flatMap((tool) => tool.surfaces.map((surface) => [tool, surface] as const));
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...tools), fc.oneof(fc.jsonValue(), fc.dictionary(fc.constantFrom("code", "command", "selector", "url", "path", "session_id", "timeout", "env", "__proto__"), fc.jsonValue())), async ([tool, surface], args) => {
        const answer = await callTool(tool, surface, backend, args);
        expect(typeof answer.isError).toBe("boolean");
        expect(answer.content.length).toBeGreaterThan(0);
      }),
      { numRuns: 300 },
    );
  });

  test("python with language shell runs in bash", async () => {
    const { backend, calls } = fakeBackend();
    await callTool(findTool("frameworks", "execute_python_code")!, "frameworks", backend, { code: "ls", language: "shell" });
    expect(calls[0]![2]).toMatchObject({ language: "bash" });
  });

  test("bad arguments are refused without running, one problem per argument", async () => {
    const { backend, calls } = fakeBackend();
    const answer = await callTool(findTool("frameworks", "execute_bash_command")!, "frameworks", backend, { cmd: "ls", timeout: -1 });
    expect(calls).toEqual([]);
    expect(answer.isError).toBe(true);
    expect(answer.json.success).toBe(false);
    expect(answer.json.error).toStartWith("Invalid arguments for execute_bash_command: ");
    expect(answer.json.error).toContain("command: ");
    expect(answer.json.error).toContain("timeout: ");
  });

  test("arguments the surface does not define are dropped, so a framework call cannot name a session", async () => {
    const { backend, calls } = fakeBackend();
    const args = { command: "true", session_id: "s9", colour: "red" };
    expect((await callTool(findTool("frameworks", "execute_bash_command")!, "frameworks", backend, args)).isError).toBe(false);
    expect(calls[0]).toEqual(["execute", "true", { language: "bash", timeout: undefined, sessionId: undefined }]);
    expect(args).toEqual({ command: "true", session_id: "s9", colour: "red" });
  });

  test("a failure becomes an answer naming the tool, never a throw", async () => {
    const { backend } = fakeBackend({}, { click: async () => Promise.reject(new Error("No element matches #nope (ELEMENT_NOT_FOUND)")) });
    const answer = await callTool(findTool("mcp", "browser_click")!, "mcp", backend, { selector: "#nope" });
    expect(answer).toMatchObject({ isError: true, json: { success: false, error: "click_element failed: No element matches #nope (ELEMENT_NOT_FOUND)" } });
    expect(answer.content).toEqual([{ type: "text", text: "click_element failed: No element matches #nope (ELEMENT_NOT_FOUND)" }]);
  });

  test("click waits 5 seconds for its element unless told otherwise", async () => {
    const { backend, calls } = fakeBackend();
    await callTool(findTool("mcp", "click_element")!, "mcp", backend, { selector: "#a" });
    await callTool(findTool("mcp", "click_element")!, "mcp", backend, { selector: "#a", timeout: 300 });
    expect(calls.filter((call) => call[0] === "click").map((call) => call[2])).toEqual([5000, 300]);
  });

  test("a click that downloads says where the files went", async () => {
    const saved = { filename: "report.pdf", relative_path: "downloads/report.pdf", size: 3, status: "completed" };
    const { backend } = fakeBackend({}, { click: async () => ({ success: true, downloads: [saved] }) });
    const answer = await callTool(findTool("mcp", "click_element")!, "mcp", backend, { selector: "#get" });
    expect(answer.json).toEqual({ success: true, message: "Clicked #get; it downloaded 1 file(s)", downloads: [saved] });
    const plain = await callTool(findTool("mcp", "click_element")!, "mcp", fakeBackend().backend, { selector: "#a" });
    expect(plain.json).toEqual({ success: true, message: "Clicked #a" });
  });

  test("a screenshot is the viewport unless full_page, JSON for frameworks and an image for MCP", async () => {
    const { backend, calls } = fakeBackend();
    const answer = await callTool(findTool("frameworks", "take_screenshot")!, "frameworks", backend, {});
    expect(calls.find((call) => call[0] === "screenshot")).toEqual(["screenshot", false]);
    expect(answer.json).toEqual({ success: true, screenshot_length: 5, screenshot: "iVBOR", media_type: "image/png" });
    expect(answer.content).toEqual([{ type: "image", data: "iVBOR", mimeType: "image/png" }]);
  });

  test("reading the page lists its controls with selectors, at most MAX_ELEMENTS", async () => {
    const controls = Array.from({ length: MAX_ELEMENTS + 5 }, (_, i) => ({ text: `Link ${i}`, selector: `#l${i}`, interactive_type: "link" }));
    const { backend } = fakeBackend({}, { content: async () => ({ url: "http://x/", title: "X", readable_content: { content: "body" }, interactive_elements: controls }) });
    const answer = await callTool(findTool("mcp", "browser_content")!, "mcp", backend, {});
    const text = (answer.content[0] as { text: string }).text;
    expect(text).toStartWith("# X\nhttp://x/\n\nbody\n\n## Interactive elements\n- [link] Link 0 → #l0");
    expect(text.match(/→/g)).toHaveLength(MAX_ELEMENTS);
    expect(answer.json.interactive_elements).toHaveLength(MAX_ELEMENTS);
  });

  test("reading a selector that matches nothing is a failure", async () => {
    const { backend } = fakeBackend();
    const answer = await callTool(findTool("frameworks", "extract_page_content")!, "frameworks", backend, { selector: "#none" });
    expect(answer.json).toEqual({ success: false, error: "No element matches #none" });
  });

  test("a text file reads as text, a PNG as an image", async () => {
    const { backend } = fakeBackend();
    expect((await callTool(findTool("mcp", "read_file")!, "mcp", backend, { path: "a.txt" })).content).toEqual([{ type: "text", text: "text" }]);
    const png = await callTool(findTool("mcp", "read_file")!, "mcp", backend, { path: "A.PNG" });
    expect(png.content[0]).toMatchObject({ type: "image", mimeType: "image/png" });
  });
});

describe("renderRun", () => {
  test("a run that raised is the tool's success and the model's error", () => {
    const answer = renderRun(run({ status: "error", stderr: "Traceback", error: { ename: "ValueError", evalue: "bad", traceback: [] } as never }));
    expect(answer.isError).toBe(true);
    expect(answer.json).toMatchObject({ success: true, status: "error", exception: "ValueError: bad" });
    expect(answer.content).toEqual([{ type: "text", text: "[stderr]\nTraceback" }]);
    expect(answer.structured).toEqual({ status: "error", session_id: "default", execution_time: 0.1, exit_code: null });
  });

  test("output past MAX_TOOL_TEXT is cut with a note, the same for both surfaces", () => {
    const answer = renderRun(run({ stdout: "x".repeat(MAX_TOOL_TEXT + 10) }));
    const note = "\n[... 10 more characters cut]";
    expect(answer.json.stdout).toBe("x".repeat(MAX_TOOL_TEXT) + note);
    expect((answer.content[0] as { text: string }).text).toBe("x".repeat(MAX_TOOL_TEXT) + note);
  });

  test("images come back as image content and their kinds in JSON; a timeout says so", () => {
    const answer = renderRun(run({ status: "timeout", results: [{ "image/png": "iVB\nOR", "text/plain": "<Figure>" }] }));
    expect(answer.content).toEqual([
      { type: "text", text: "[the run timed out and was interrupted]" },
      { type: "image", data: "iVBOR", mimeType: "image/png" },
    ]);
    expect(answer.json.rich_outputs).toEqual(["image/png", "text/plain"]);
  });
});
