import { asE2BError, E2BError } from "./errors";

/**
 * The Connect protocol as envd speaks it, JSON codec: unary calls are a JSON body both ways;
 * server-streaming calls send one envelope and get envelopes back (`[flags u8][length u32 BE][JSON]`),
 * the last one flagged 0x02 with the end-of-stream (`{}` or `{error}`).
 */

const END_STREAM = 0x02;
const encoder = new TextEncoder();

/** One envelope around `message`. */
export function envelope(message: unknown, flags = 0): Uint8Array {
  const json = encoder.encode(JSON.stringify(message));
  const out = new Uint8Array(5 + json.length);
  out[0] = flags;
  new DataView(out.buffer).setUint32(1, json.length, false);
  out.set(json, 5);
  return out;
}

/** The request message of a call: a JSON body (unary) or its single envelope (streaming). */
export async function requestMessage<T>(request: Request): Promise<T> {
  const bytes = new Uint8Array(await request.arrayBuffer());
  const streaming = (request.headers.get("content-type") ?? "").startsWith("application/connect+json");
  let json: Uint8Array = bytes;
  if (streaming) {
    if (bytes.length < 5) throw new E2BError(400, "A streaming call needs one envelope.");
    if (bytes[0]! & 0x01) throw new E2BError(400, "Compressed envelopes are not supported.");
    const length = new DataView(bytes.buffer, bytes.byteOffset).getUint32(1, false);
    json = bytes.subarray(5, 5 + length);
  }
  try {
    const parsed = json.length === 0 ? {} : JSON.parse(new TextDecoder().decode(json));
    if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("not an object");
    return parsed as T;
  } catch {
    throw new E2BError(400, "The request message is not a JSON object.");
  }
}

/** A unary call's success. */
export const unary = (message: unknown = {}) => Response.json(message, { headers: { "content-type": "application/json" } });

/** The writer a streaming handler gets: `send` each message; return normally to end, throw to end with an error. */
export interface StreamWriter {
  send(message: unknown): void;
  /** Aborted when the client goes away. */
  readonly signal: AbortSignal;
}

/**
 * A server-streaming answer: `produce` sends messages; the stream ends with the end-of-stream
 * envelope (carrying the error `produce` threw, if it did). `keepaliveMs` sends `keepalive` so
 * idle-timeouts along the way do not cut a quiet stream.
 */
export function serverStream(request: Request, produce: (writer: StreamWriter) => Promise<void>, keepalive?: { message: unknown; everyMs: number }): Response {
  const abort = new AbortController();
  request.signal.addEventListener("abort", () => abort.abort(), { once: true });
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      let open = true;
      const write = (bytes: Uint8Array) => {
        if (!open) return;
        try {
          controller.enqueue(bytes);
        } catch {
          open = false;
        }
      };
      const timer = keepalive ? setInterval(() => write(envelope(keepalive.message)), keepalive.everyMs) : undefined;
      void produce({ send: (message) => write(envelope(message)), signal: abort.signal })
        .then(
          () => write(envelope({}, END_STREAM)),
          (error) => {
            const e = asE2BError(error);
            write(envelope({ error: { code: e.connectCode, message: e.message }, metadata: {} }, END_STREAM));
          },
        )
        .finally(() => {
          clearInterval(timer);
          if (open) controller.close();
          open = false;
        });
    },
    cancel() {
      abort.abort();
    },
  });
  return new Response(body, { headers: { "content-type": "application/connect+json" } });
}

/** `Connect-Timeout-Ms` of the call in seconds, or undefined when absent. */
export function deadlineSeconds(request: Request): number | undefined {
  const raw = request.headers.get("connect-timeout-ms");
  const ms = raw === null ? NaN : Number(raw);
  return Number.isFinite(ms) && ms > 0 ? ms / 1000 : undefined;
}
