import { createReadStream } from "node:fs";

/**
 * The `POST /download` answer, `{"filename", "path", "content": "<base64>", "size"}`, written as a
 * stream: the file is read and encoded in chunks, so a large file never sits in memory as one base64
 * string. `size` comes last and counts the bytes actually sent. `source` is a path to read, or the
 * file's bytes as they come (ended early, its `return()` is called).
 */
export function base64JSONResponse(source: string | AsyncIterable<Uint8Array>, fields: { filename: string; path: string }): Response {
  const encoder = new TextEncoder();
  const head = `{"filename":${JSON.stringify(fields.filename)},"path":${JSON.stringify(fields.path)},"content":"`;
  async function* chunks(): AsyncGenerator<Uint8Array> {
    yield encoder.encode(head);
    let carry: Buffer = Buffer.alloc(0);
    let size = 0;
    // A multiple of 3 bytes encodes to base64 without padding, so chunks concatenate cleanly.
    const pieces = typeof source === "string" ? createReadStream(source, { highWaterMark: 3 * 64 * 1024 }) : source;
    for await (const chunk of pieces) {
      const piece = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      const bytes: Buffer = carry.length ? Buffer.concat([carry, piece]) : piece;
      size += piece.length;
      const whole = bytes.length - (bytes.length % 3);
      if (whole) yield encoder.encode(bytes.subarray(0, whole).toString("base64"));
      carry = bytes.subarray(whole);
    }
    yield encoder.encode(`${carry.toString("base64")}","size":${size}}`);
  }
  const iterator = chunks();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await iterator.next();
        if (done) controller.close();
        else controller.enqueue(value);
      } catch (error) {
        controller.error(error);
      }
    },
    async cancel() {
      await iterator.return(undefined);
    },
  });
  return new Response(body, { headers: { "content-type": "application/json" } });
}
