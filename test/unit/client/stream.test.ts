import { describe, expect, test } from "bun:test";
import { CodeRunnerError, SessionError } from "../../../src/client/errors";
import { readExecutionStream } from "../../../src/client/stream";
import type { StreamEvent } from "../../../src/client/types";

const RESULT = { stdout: "0\n1\n", stderr: "", execution_time: 0.1, cpu_time: 0.01, session_id: "s", status: "ok", error: null, results: [], truncated: false };

/** A response whose body arrives in the given chunks (split anywhere, even inside a UTF-8 character). */
function chunked(chunks: (string | Uint8Array)[], type: string): Response {
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(typeof chunk === "string" ? encoder.encode(chunk) : chunk);
      controller.close();
    },
  });
  return new Response(body, { headers: { "content-type": type } });
}

async function collect(response: Response): Promise<StreamEvent[]> {
  const events: StreamEvent[] = [];
  for await (const event of readExecutionStream(response)) events.push(event);
  return events;
}

const sse = (event: string, data: unknown) => `event: ${event}\nid: 1\ndata: ${JSON.stringify(data)}\n\n`;

describe("readExecutionStream (SSE)", () => {
  test("typed events in order, across chunk boundaries, with comments and CRLF", async () => {
    const text = ": stream open\n\n" + sse("stdout", { type: "stdout", text: "0\n" }).replaceAll("\n", "\r\n") + sse("stdout", { type: "stdout", text: "1\n" }) + ": keep-alive\n\n" + sse("result", { type: "result", data: { "text/html": "<b>x</b>" } }) + sse("error", { type: "error", error: { ename: "E", evalue: "", traceback: [] } }) + sse("done", RESULT);
    const bytes = new TextEncoder().encode(text);
    const pieces = [];
    for (let i = 0; i < bytes.length; i += 7) pieces.push(bytes.subarray(i, i + 7));
    const events = await collect(chunked(pieces, "text/event-stream"));
    expect(events).toEqual([
      { type: "stdout", text: "0\n" },
      { type: "stdout", text: "1\n" },
      { type: "display", data: { "text/html": "<b>x</b>" } },
      { type: "result", result: RESULT as never },
    ]);
  });

  test("a multi-byte character split between chunks survives", async () => {
    const bytes = new TextEncoder().encode(sse("stdout", { type: "stdout", text: "héllo ✓\n" }) + sse("done", RESULT));
    const split = bytes.indexOf(0xe2) + 1; // inside the 3-byte check mark
    const events = await collect(chunked([bytes.subarray(0, split), bytes.subarray(split)], "text/event-stream"));
    expect(events[0]).toEqual({ type: "stdout", text: "héllo ✓\n" });
  });

  test("a failed event is thrown with its code's class", async () => {
    const response = chunked([sse("failed", { detail: "Session s was closed before this run started.", code: "SESSION_GONE" })], "text/event-stream");
    const error = await collect(response).catch((e) => e);
    expect(error).toBeInstanceOf(SessionError);
    expect(error.code).toBe("SESSION_GONE");
    expect(error.detail).toContain("was closed");
  });

  test("a stream that ends without its result is an error, not a silent success", async () => {
    const error = await collect(chunked([sse("stdout", { type: "stdout", text: "partial" })], "text/event-stream")).catch((e) => e);
    expect(error).toBeInstanceOf(CodeRunnerError);
    expect(error.code).toBe("INVALID_RESPONSE");
  });
});

describe("readExecutionStream (NDJSON)", () => {
  test("one object per line, the last being the result", async () => {
    const lines = [JSON.stringify({ type: "stdout", text: "0\n" }), JSON.stringify({ type: "stderr", text: "warn\n" }), JSON.stringify({ type: "done", ...RESULT })];
    const events = await collect(chunked([lines.join("\n").slice(0, 10), lines.join("\n").slice(10)], "application/x-ndjson"));
    expect(events.map((event) => event.type)).toEqual(["stdout", "stderr", "result"]);
  });
});
