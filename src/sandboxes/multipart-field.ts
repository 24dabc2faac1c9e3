import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import busboy from "busboy";
import { AppError } from "../errors";

/** Most bytes held in memory while looking for the field before any file part; past it the body goes to disk. */
const MEMORY_LIMIT = 1024 * 1024;

export interface FieldLookup {
  /** The field's value, or undefined when the body has no such field (or is not well-formed multipart). */
  value: string | undefined;
  /** The whole body, to send on unchanged. */
  body: ReadableStream<Uint8Array> | Blob;
  /** Deletes the spool file, if one was needed. */
  cleanup(): void;
}

function concat(chunks: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
  let at = 0;
  for (const chunk of chunks) (out.set(chunk, at), (at += chunk.length));
  return out;
}

/**
 * Reads a multipart/form-data body just far enough to learn one field (`session_id` of an upload,
 * to route it to its sandbox) and gives back the whole body to forward. When the field comes before
 * the first file part (as the InstaVM SDK and CodeRunner's clients send it) nothing but the fields
 * is held; when a file comes first, the body is spooled to a file in `spoolDir` (at most `limit`
 * bytes, else 413) and the field is read from the rest.
 */
export async function multipartField(body: ReadableStream<Uint8Array>, contentType: string, field: string, options: { limit: number; spoolDir: string }): Promise<FieldLookup> {
  let value: string | undefined;
  let fileFirst = false;
  let parser: ReturnType<typeof busboy> | undefined;
  try {
    parser = busboy({ headers: { "content-type": contentType }, limits: { fieldSize: MEMORY_LIMIT } });
  } catch {
    // Not multipart at all: the sandbox will say so.
  }
  const finished = new Promise<void>((resolve) => {
    if (!parser) return resolve();
    parser.on("field", (name: string, text: string) => {
      if (name === field && value === undefined) value = text;
    });
    parser.on("file", (_name: string, stream: NodeJS.ReadableStream) => {
      if (value === undefined) fileFirst = true;
      // Only the fields matter here: drain the file, and let a body cut short end it quietly.
      stream.on("error", () => undefined);
      stream.resume();
    });
    parser.on("close", () => resolve());
    parser.on("error", () => {
      parser = undefined;
      resolve();
    });
  });
  const feed = (chunk: Uint8Array) => parser?.write(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  const reader = body.getReader();
  const held: Uint8Array[] = [];
  let size = 0;
  const tooLarge = () => new AppError("PAYLOAD_TOO_LARGE", `The upload is larger than the limit of ${options.limit} bytes (CODERUNNER_MAX_UPLOAD_BYTES).`);

  for (;;) {
    const { done, value: chunk } = await reader.read();
    if (done) {
      parser?.end();
      await finished;
      const whole = concat(held);
      return { value, body: new Blob([whole]), cleanup() {} };
    }
    size += chunk.length;
    held.push(chunk);
    feed(chunk);
    if (value !== undefined) {
      // Found before any file: send what was read, then the rest as it arrives.
      const prefix = concat(held);
      const rest = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(prefix);
        },
        async pull(controller) {
          const next = await reader.read();
          if (next.done) controller.close();
          else controller.enqueue(next.value);
        },
        cancel: (reason) => reader.cancel(reason),
      });
      parser?.destroy();
      return { value, body: rest, cleanup() {} };
    }
    if (fileFirst || size > MEMORY_LIMIT) break;
  }

  // A file part came first: keep the body on disk while reading on for the field.
  mkdirSync(options.spoolDir, { recursive: true, mode: 0o700 });
  const path = join(options.spoolDir, `${crypto.randomUUID()}.upload`);
  const cleanup = () => rmSync(path, { force: true });
  const sink = Bun.file(path).writer();
  try {
    for (const chunk of held.splice(0)) sink.write(chunk);
    for (;;) {
      const { done, value: chunk } = await reader.read();
      if (done) break;
      size += chunk.length;
      if (size > options.limit + MEMORY_LIMIT) throw tooLarge();
      sink.write(chunk);
      feed(chunk);
      await sink.flush();
    }
    await sink.end();
    parser?.end();
    await finished;
  } catch (error) {
    await Promise.resolve(sink.end()).catch(() => undefined);
    await reader.cancel().catch(() => undefined);
    cleanup();
    throw error;
  }
  return { value, body: Bun.file(path), cleanup };
}
