import { describe, expect, test } from "bun:test";
import { AppError } from "../../../src/errors";
import type { ExecutionResult, RunControls } from "../../../src/kernels/executor";
import { streamRun } from "../../../src/tasks/sse-stream";
import { executionResult } from "../../helpers/results";

const RESULT: ExecutionResult = executionResult({ stdout: "a\n", execution_time: 0.1, cpu_time: 0.01, results: [{ "text/plain": "1" }] });

function parse(text: string): { event: string; data: any }[] {
  return text
    .split("\n\n")
    .filter((block) => block.includes("event:"))
    .map((block) => {
      const event = /^event: (.*)$/m.exec(block)![1]!;
      const data = JSON.parse(/^data: (.*)$/m.exec(block)![1]!);
      return { event, data };
    });
}

describe("streamRun", () => {
  test("writes typed events as the run produces them and ends with the result", async () => {
    const response = streamRun(async ({ listener }) => {
      listener!({ type: "stdout", text: "a\n" });
      listener!({ type: "stderr", text: "w\n" });
      listener!({ type: "result", data: { "text/plain": "1" } });
      listener!({ type: "error", error: { ename: "E", evalue: "v", traceback: [] } });
      return RESULT;
    }, { heartbeatMs: 0 });
    expect(response.headers.get("content-type")).toStartWith("text/event-stream");
    const events = parse(await response.text());
    expect(events.map((event) => event.event)).toEqual(["stdout", "stderr", "result", "error", "done"]);
    expect(events[0]!.data).toEqual({ type: "stdout", text: "a\n" });
    expect(events[2]!.data.data).toEqual({ "text/plain": "1" });
    expect(events.at(-1)!.data).toEqual(RESULT);
  });

  test("a run that cannot happen ends with a failed event carrying {detail, code}", async () => {
    const response = streamRun(async () => {
      throw new AppError("SESSION_GONE", "closed");
    }, { heartbeatMs: 0 });
    expect(parse(await response.text())).toEqual([{ event: "failed", data: { detail: "closed", code: "SESSION_GONE" } }]);
  });

  test("the client going away aborts the run's signal", async () => {
    let controls: RunControls | undefined;
    let finish: (result: ExecutionResult) => void = () => undefined;
    const response = streamRun((given) => {
      controls = given;
      return new Promise((resolve) => (finish = resolve));
    }, { heartbeatMs: 0 });
    const reader = response.body!.getReader();
    await reader.read();
    expect(controls!.signal!.aborted).toBe(false);
    await reader.cancel();
    expect(controls!.signal!.aborted).toBe(true);
    finish(RESULT); // writing after the client left must not throw
  });

  test("the request's own abort signal aborts the run too", async () => {
    const request = new AbortController();
    let signal: AbortSignal | undefined;
    streamRun(({ signal: given }) => {
      signal = given;
      return new Promise(() => undefined);
    }, { heartbeatMs: 0, requestSignal: request.signal });
    request.abort();
    expect(signal!.aborted).toBe(true);
  });
});
