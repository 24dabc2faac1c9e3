import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Value } from "@sinclair/typebox/value";
import { ROUTES } from "../../src/contract/routes";
import { runsAndFilesFeature } from "../../src/server/features/runs-and-files";
import { startTestServer } from "../helpers/server";

let server: Awaited<ReturnType<typeof startTestServer>>;

beforeAll(async () => {
  // Listening on a real port (0), so a disconnect is a real closed socket.
  server = await startTestServer({ kernelPoolSize: 1, host: "127.0.0.1", port: 0 }, { listen: true, features: [runsAndFilesFeature] });
}, 60_000);

afterAll(async () => {
  await server?.stop();
}, 30_000);

interface SSEEvent {
  event: string;
  data: any;
}

/** The contract's events of the stream, each with the schema of its data. */
const EVENTS: Record<string, import("@sinclair/typebox").TSchema> = ROUTES["POST /execute/stream"].events;

/** Reads SSE events from a response body one at a time, each checked against the contract. */
function events(body: ReadableStream<Uint8Array>) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  return {
    reader,
    async next(): Promise<SSEEvent | undefined> {
      for (;;) {
        const end = buffer.indexOf("\n\n");
        if (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event && data !== undefined) {
            const parsed = JSON.parse(data);
            expect(Object.keys(EVENTS)).toContain(event);
            expect([...Value.Errors(EVENTS[event]!, parsed)].map((error) => `${error.path} ${error.message}`), `${event}: ${data}`).toEqual([]);
            if (event !== "done" && event !== "failed") expect(parsed.type).toBe(event);
            return { event, data: parsed };
          }
          continue; // a comment (keep-alive)
        }
        const { done, value } = await reader.read();
        if (done) return undefined;
        buffer += decoder.decode(value, { stream: true });
      }
    },
    async rest(): Promise<SSEEvent[]> {
      const all: SSEEvent[] = [];
      for (let event = await this.next(); event; event = await this.next()) all.push(event);
      return all;
    },
  };
}

async function newSession(): Promise<string> {
  const { body } = await server.call("POST", "/v1/sessions/session", {});
  return body.session_id;
}

const post = (body: unknown, init: RequestInit = {}) =>
  fetch(`${server.url}/execute/stream`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body), ...init });

describe("POST /execute/stream (Server-Sent Events)", () => {
  test("a loop printing with pauses delivers its first line before the run ends", async () => {
    const session = await newSession();
    const dir = server.sessions.get(session).dir;
    const code = "import os, time\nprint('first', flush=True)\nwhile not os.path.exists('go'): time.sleep(0.02)\nprint('second')";
    const response = await post({ command: code, session_id: session });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toStartWith("text/event-stream");
    const stream = events(response.body!);
    const first = await stream.next();
    expect(first).toEqual({ event: "stdout", data: { type: "stdout", text: "first\n" } });
    // The run cannot end until it sees this file, which is written only after the first line arrived.
    writeFileSync(join(dir, "go"), "");
    const rest = await stream.rest();
    expect(rest.map((event) => event.event)).toEqual(["stdout", "done"]);
    expect(rest[0]!.data.text).toBe("second\n");
    const done = rest.at(-1)!.data;
    expect(done).toMatchObject({ stdout: "first\nsecond\n", stderr: "", status: "ok", session_id: session, error: null });
    expect(Object.keys(done).sort()).toEqual(
      Object.keys((await server.call("POST", "/execute", { command: "1", session_id: session })).body).sort(),
    );
  }, 30_000);

  test("stderr, rich results and errors are typed events, in order", async () => {
    const code = [
      "import sys",
      "from IPython.display import display, HTML",
      "print('out', flush=True)",
      "print('warn', file=sys.stderr, flush=True)",
      "display(HTML('<b>bold</b>'))",
      "1/0",
    ].join("\n");
    const all = await events((await post({ command: code })).body!).rest();
    const kinds = all.map((event) => event.event);
    expect(kinds.filter((kind) => kind !== "stderr")).toEqual(["stdout", "result", "error", "done"]);
    expect(all.find((event) => event.event === "result")!.data.data["text/html"]).toBe("<b>bold</b>");
    expect(all.find((event) => event.event === "error")!.data.error.ename).toBe("ZeroDivisionError");
    expect(all.find((event) => event.event === "stderr")!.data.text).toBe("warn\n");
    expect(all.at(-1)!.data.status).toBe("error");
  }, 30_000);

  test("bash streams too", async () => {
    const all = await events((await post({ command: "echo one; echo two >&2", language: "bash" })).body!).rest();
    expect(all.at(-1)!.event).toBe("done");
    expect(all.at(-1)!.data.stdout).toBe("one\n");
    expect(all.some((event) => event.event === "stdout" && event.data.text.includes("one"))).toBe(true);
  }, 30_000);

  test("a client that disconnects mid-run interrupts it; the session's next call returns promptly with its state", async () => {
    const session = await newSession();
    await server.call("POST", "/execute", { command: "kept = 'still here'", session_id: session });
    const abort = new AbortController();
    const response = await post({ command: "import time\nprint('looping', flush=True)\nwhile True: time.sleep(0.05)", session_id: session, timeout: 600 }, { signal: abort.signal });
    const stream = events(response.body!);
    expect((await stream.next())?.data.text).toBe("looping\n");
    abort.abort();
    await stream.reader.cancel().catch(() => undefined);
    const started = performance.now();
    const next = await server.call("POST", "/execute", { command: "print(kept)", session_id: session, timeout: 20 });
    const seconds = (performance.now() - started) / 1000;
    expect(next.status).toBe(200);
    expect(next.body).toMatchObject({ stdout: "still here\n" });
    expect(seconds).toBeLessThan(5);
  }, 30_000);

  test("a stream cancelled in-process (app.handle) interrupts the run the same way", async () => {
    const session = await newSession();
    const response = await server.app.handle(
      new Request("http://localhost/execute/stream", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ command: "import time\nprint('looping', flush=True)\nwhile True: time.sleep(0.05)", session_id: session, timeout: 600 }),
      }),
    );
    const stream = events(response.body!);
    expect((await stream.next())?.event).toBe("stdout");
    await stream.reader.cancel();
    const next = await server.call("POST", "/execute", { command: "print('free')", session_id: session, timeout: 20 });
    expect(next.body.stdout).toBe("free\n");
  }, 30_000);

  test("bad input is a plain JSON 4xx before any stream opens", async () => {
    const unknown = await post({ command: "1", session_id: "no-such-session" });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({ detail: expect.any(String), code: "SESSION_NOT_FOUND" });
    expect((await post({ language: "python" })).status).toBe(422);
    expect((await post({ command: "1", timeout: 0 })).status).toBe(422);
  });
});
