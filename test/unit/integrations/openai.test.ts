import { describe, expect, test } from "bun:test";
import { executeTool, getTools } from "../../../src/integrations/openai";
import type { Runner } from "../../../src/integrations/tools";

/** The OpenAI adapter over a fake client: what reaches the client, and what the model reads back. */
function fakeRunner() {
  const runs: unknown[][] = [];
  const runner = {
    execute: async (code: string, options: unknown) => {
      runs.push([code, options]);
      return { stdout: "4\n", stderr: "", status: "ok", execution_time: 0.01, results: [], session_id: "s", truncated: false, exit_code: null };
    },
  } as unknown as Runner;
  return { runner, runs };
}

const call = (name: string, args: unknown) => ({ type: "function" as const, function: { name, arguments: JSON.stringify(args) } });

describe("OpenAI adapter", () => {
  test("parameters are plain JSON Schema from the catalogue", () => {
    const click = getTools().find((tool) => tool.function.name === "click_element")!;
    expect(click.function.parameters).toMatchObject({ type: "object", required: ["selector"], properties: { selector: { type: "string" }, timeout: { type: "integer" } } });
    expect(JSON.stringify(click.function.parameters)).not.toContain("session_id");
  });

  test("a former MCP name still runs its tool", async () => {
    const { runner, runs } = fakeRunner();
    expect(await executeTool(runner, call("execute_python", { code: "print(2+2)" }))).toMatchObject({ success: true, stdout: "4\n" });
    expect(runs).toEqual([["print(2+2)", { language: "python", timeout: undefined, sessionId: undefined }]]);
  });

  test("a tool MCP has but the frameworks do not offer is unknown", async () => {
    const { runner } = fakeRunner();
    expect(await executeTool(runner, call("browser_snapshot", {}))).toEqual({ success: false, error: "Unknown function: browser_snapshot" });
  });
});
