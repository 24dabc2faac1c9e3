import { AppError, isAppError } from "../errors";
import type { ExecutionResult } from "../contract/execute";
import type { RunControls } from "../kernels/executor";

/**
 * A run's output as Server-Sent Events. SSE rather than NDJSON because every ecosystem has a parser
 * for it (EventSource and its fetch-based variants in browsers, `sseclient`/`httpx-sse` in Python,
 * `eventsource-parser` in JS, the SSE readers of LLM SDKs), proxies know `text/event-stream` and stop
 * buffering it, and the `event:` field types each message without a wrapper.
 *
 * Events, each `data` a JSON object carrying its own `type` too:
 * - `stdout` / `stderr`: `{"type", "text"}` as the run prints;
 * - `result`: `{"type", "data"}`, a rich output keyed by MIME type;
 * - `error`: `{"type", "error": {ename, evalue, traceback}}`, the user's code raised;
 * - `done`: the same object `POST /execute` returns, always the last event of a run that ran;
 * - `failed`: `{detail, code}` when the run could not happen (its session was closed first).
 * Comment lines (`: keep-alive`) are sent while the run is silent so idle proxies keep the stream open.
 */

export type RunFunction = (controls: RunControls) => Promise<ExecutionResult>;

export interface SSEOptions {
  /** Interval of keep-alive comments; 0 disables them. */
  heartbeatMs?: number;
  /** Aborts with the request (the client went away). */
  requestSignal?: AbortSignal;
  /** Told about failures that are bugs rather than `AppError`s. */
  onUnexpected?: (error: unknown) => void;
}

const encoder = new TextEncoder();

/** One SSE message: `event`, `id`, and JSON `data` (JSON never spans lines, so one `data:` line). */
export function sseMessage(event: string, id: number, data: unknown): string {
  return `event: ${event}\nid: ${id}\ndata: ${JSON.stringify(data)}\n\n`;
}

/**
 * Starts `run` with a listener that writes each output event to the stream, ends the stream with the
 * result, and aborts the run's signal if the client goes away (the stream is cancelled or the
 * request's own signal aborts), so an abandoned run is interrupted and its session freed.
 */
export function streamRun(run: RunFunction, options: SSEOptions = {}): Response {
  const abort = new AbortController();
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  let id = 0;
  let heartbeat: Timer | undefined;
  const onRequestAbort = () => abort.abort();
  options.requestSignal?.addEventListener("abort", onRequestAbort, { once: true });

  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      let open = true;
      const write = (text: string) => {
        if (!open) return;
        try {
          controller.enqueue(encoder.encode(text));
        } catch {
          open = false;
        }
      };
      const end = () => {
        clearInterval(heartbeat);
        options.requestSignal?.removeEventListener("abort", onRequestAbort);
        if (!open) return;
        open = false;
        try {
          controller.close();
        } catch {}
      };
      if (heartbeatMs > 0) heartbeat = setInterval(() => write(": keep-alive\n\n"), heartbeatMs);
      write(": stream open\n\n");
      let promise: Promise<ExecutionResult>;
      try {
        promise = run({ signal: abort.signal, listener: (event) => write(sseMessage(event.type, ++id, event)) });
      } catch (error) {
        promise = Promise.reject(error);
      }
      promise.then(
        (result) => {
          write(sseMessage("done", ++id, result));
          end();
        },
        (error) => {
          if (!isAppError(error)) options.onUnexpected?.(error);
          const failure = isAppError(error) ? error : new AppError("INTERNAL_ERROR", "The run failed inside CodeRunner; the server log has the details.", { cause: error });
          write(sseMessage("failed", ++id, failure.toJSON()));
          end();
        },
      );
    },
    cancel() {
      clearInterval(heartbeat);
      abort.abort();
    },
  });
  return new Response(body, {
    headers: {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache, no-transform",
      "x-accel-buffering": "no",
    },
  });
}
