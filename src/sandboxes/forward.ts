import type { SandboxAddress } from "./backend";
import type { Fetch } from "./sandbox-api";

/** Response header naming the CodeRunner instance a host serves (`coderunner up` looks for it). */
export const PROXY_HEADER = "x-coderunner-container";

/** Headers that describe one hop, never forwarded. */
const HOP_BY_HOP = ["connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade", "host", "content-length"];

export type ForwardBody = ReadableStream<Uint8Array> | ArrayBuffer | Blob | null;

/**
 * Sends `request` on to a sandbox's API: same method, path, query and headers (the sandbox's key in
 * place of the client's), `body` as given, the answer streamed back as it comes (an SSE run, a
 * download). `onDone` runs once the answer's body is finished, failed or dropped by the client.
 * Throws when the sandbox cannot be reached at all.
 */
export async function forward(
  request: Request,
  target: SandboxAddress,
  body: ForwardBody,
  options: { fetch: Fetch; instance: string; onDone?: () => void },
): Promise<Response> {
  const url = new URL(request.url);
  const headers = new Headers(request.headers);
  for (const name of HOP_BY_HOP) headers.delete(name);
  headers.set("x-api-key", target.apiKey);
  if (body instanceof Blob && body.size !== undefined) headers.set("content-length", String(body.size));
  if (body instanceof ArrayBuffer) headers.set("content-length", String(body.byteLength));
  let upstream: Response;
  try {
    upstream = await options.fetch(`${target.baseURL}${url.pathname}${url.search}`, {
      method: request.method,
      headers,
      body,
      redirect: "manual",
      decompress: false,
      timeout: false,
      signal: request.signal,
      ...(body instanceof ReadableStream ? { duplex: "half" as const } : {}),
    });
  } catch (error) {
    options.onDone?.();
    throw error;
  }
  const out = new Headers(upstream.headers);
  for (const name of HOP_BY_HOP) out.delete(name);
  out.set(PROXY_HEADER, options.instance);
  return new Response(upstream.body ? watched(upstream.body, options.onDone) : null, { status: upstream.status, statusText: upstream.statusText, headers: out });
}

/** `body` passed through unchanged, calling `onDone` once when it ends, fails or is cancelled. */
function watched(body: ReadableStream<Uint8Array>, onDone: (() => void) | undefined): ReadableStream<Uint8Array> {
  if (!onDone) return body;
  let called = false;
  const done = () => {
    if (!called) (called = true), onDone();
  };
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done: finished, value } = await reader.read();
        if (finished) {
          done();
          controller.close();
        } else controller.enqueue(value);
      } catch (error) {
        done();
        controller.error(error);
      }
    },
    async cancel(reason) {
      done();
      await reader.cancel(reason).catch(() => undefined);
    },
  });
}
