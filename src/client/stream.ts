import { CodeRunnerError, ERROR_CLASSES } from "./errors";
import type { ExecutionResult, StreamEvent } from "./types";

/**
 * Reads a streaming execution response — Server-Sent Events or NDJSON, told apart by Content-Type — and
 * yields typed `StreamEvent`s. The stream ends with the same object `/execute` returns
 * (`{ type: "result" }`); a server-side failure mid-stream is thrown as a `CodeRunnerError`.
 */
export async function* readExecutionStream(response: Response): AsyncGenerator<StreamEvent, void, undefined> {
  if (!response.body) throw new CodeRunnerError("The streaming response has no body.", { code: "INVALID_RESPONSE", status: response.status });
  const type = (response.headers.get("content-type") ?? "").toLowerCase();
  const records = type.includes("text/event-stream") ? sseRecords(response.body) : ndjsonRecords(response.body);
  let sawResult = false;
  for await (const { event, data } of records) {
    const parsed = toEvent(event, data);
    if (!parsed) continue;
    if (parsed.type === "error") {
      const Class = ERROR_CLASSES[parsed.code as keyof typeof ERROR_CLASSES] ?? CodeRunnerError;
      throw new Class(`Streaming execution failed: ${parsed.detail}`, { code: parsed.code, detail: parsed.detail, status: response.status });
    }
    yield parsed;
    if (parsed.type === "result") sawResult = true;
  }
  if (!sawResult) throw new CodeRunnerError("The execution stream ended before its final result.", { code: "INVALID_RESPONSE", status: response.status });
}

interface RawRecord {
  event: string | undefined;
  data: unknown;
}

async function* lines(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  const reader = body.getReader();
  let buffer = "";
  try {
    for (;;) {
      const { done, value } = await reader.read();
      buffer += done ? decoder.decode() : decoder.decode(value, { stream: true });
      let newline: number;
      while ((newline = buffer.search(/\r?\n|\r/)) >= 0) {
        const line = buffer.slice(0, newline);
        const width = buffer.startsWith("\r\n", newline) ? 2 : 1;
        buffer = buffer.slice(newline + width);
        yield line;
      }
      if (done) break;
    }
    if (buffer !== "") yield buffer;
  } finally {
    reader.releaseLock();
  }
}

function parseData(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Server-Sent Events: `event:` and `data:` lines, a blank line ends a record. */
export async function* sseRecords(body: ReadableStream<Uint8Array>): AsyncGenerator<RawRecord> {
  let event: string | undefined;
  let data: string[] = [];
  const flush = () => {
    const record = data.length ? { event, data: parseData(data.join("\n")) } : undefined;
    event = undefined;
    data = [];
    return record;
  };
  for await (const line of lines(body)) {
    if (line === "") {
      const record = flush();
      if (record) yield record;
      continue;
    }
    if (line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
  }
  const record = flush();
  if (record) yield record;
}

/** Newline-delimited JSON: one object per line. */
export async function* ndjsonRecords(body: ReadableStream<Uint8Array>): AsyncGenerator<RawRecord> {
  for await (const line of lines(body)) {
    if (line.trim() === "") continue;
    yield { event: undefined, data: parseData(line) };
  }
}

function isResult(value: unknown): value is ExecutionResult {
  return !!value && typeof value === "object" && "stdout" in value && "stderr" in value && "session_id" in value;
}

function textOf(data: unknown): string {
  if (typeof data === "string") return data;
  const record = (data ?? {}) as Record<string, unknown>;
  for (const key of ["text", "data", "content", "output"]) if (typeof record[key] === "string") return record[key] as string;
  return "";
}

/** Maps one record to an SDK event, whatever the server's naming (`event:` name or a `type` field). */
export function toEvent(event: string | undefined, data: unknown): StreamEvent | undefined {
  const record = data && typeof data === "object" ? (data as Record<string, unknown>) : {};
  const kind = (event ?? (typeof record.type === "string" ? record.type : typeof record.event === "string" ? record.event : undefined))?.toLowerCase();
  if (kind === "done" || kind === "result" || kind === undefined) {
    if (isResult(record)) return { type: "result", result: record };
    if (isResult(record.result)) return { type: "result", result: record.result };
  }
  switch (kind) {
    case "stdout":
    case "stderr":
      return { type: kind, text: textOf(data) };
    case "stream": {
      const name = record.name === "stderr" ? "stderr" : "stdout";
      return { type: name, text: textOf(data) };
    }
    case "result": // a rich output (the final object is recognised above)
    case "display":
    case "display_data":
    case "execute_result":
    case "rich":
    case "output": {
      const payload = record.data && typeof record.data === "object" ? record.data : record;
      return { type: "display", data: payload as Record<string, unknown> };
    }
    case "error":
    case "failed":
      if (typeof record.code === "string" || typeof record.detail === "string") {
        return { type: "error", detail: String(record.detail ?? "unknown error"), code: String(record.code ?? "INTERNAL_ERROR") };
      }
      return undefined; // a Python exception: it is also in the final result
    default:
      return undefined;
  }
}
