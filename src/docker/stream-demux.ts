/**
 * Docker's multiplexed stream format (logs and attach of a container without a TTY): frames of an
 * 8-byte header — stream type (0 stdin, 1 stdout, 2 stderr), three zero bytes, big-endian uint32
 * payload length — followed by the payload. Chunks from the socket cut anywhere, including inside a
 * header, so the demultiplexer is a state machine fed one chunk at a time.
 */
export type StreamName = "stdin" | "stdout" | "stderr";

/** A piece of one stream's bytes, in arrival order. */
export interface StreamBytes {
  stream: StreamName;
  data: Uint8Array;
}

/** A piece of one stream's text. */
export interface StreamText {
  stream: StreamName;
  text: string;
}

const NAMES: Record<number, StreamName> = { 0: "stdin", 1: "stdout", 2: "stderr" };

/** Raised when the bytes are not Docker's multiplexed format (e.g. a TTY stream read as multiplexed). */
export class StreamFormatError extends Error {
  override name = "StreamFormatError";
}

/** Splits a multiplexed byte stream into per-stream pieces, whatever the chunk boundaries. */
export class StreamDemuxer {
  private readonly header = new Uint8Array(8);
  private headerLength = 0;
  private remaining = 0;
  private stream: StreamName = "stdout";

  /** Feeds one chunk; returns the payload pieces it completes or continues (never copies payload bytes). */
  push(chunk: Uint8Array): StreamBytes[] {
    const out: StreamBytes[] = [];
    let at = 0;
    while (at < chunk.length) {
      if (this.remaining > 0) {
        const take = Math.min(this.remaining, chunk.length - at);
        out.push({ stream: this.stream, data: chunk.subarray(at, at + take) });
        this.remaining -= take;
        at += take;
        continue;
      }
      const take = Math.min(8 - this.headerLength, chunk.length - at);
      this.header.set(chunk.subarray(at, at + take), this.headerLength);
      this.headerLength += take;
      at += take;
      if (this.headerLength < 8) break;
      this.headerLength = 0;
      const type = this.header[0]!;
      const name = NAMES[type];
      if (name === undefined || this.header[1] !== 0 || this.header[2] !== 0 || this.header[3] !== 0) {
        throw new StreamFormatError(`not a multiplexed Docker stream (frame header ${Array.from(this.header).join(",")})`);
      }
      this.stream = name;
      this.remaining = new DataView(this.header.buffer).getUint32(4, false);
    }
    return out;
  }

  /** True when the stream ended at a frame boundary. */
  get atBoundary(): boolean {
    return this.headerLength === 0 && this.remaining === 0;
  }
}

/**
 * Decodes a container's output stream to text per stream. `tty` streams are raw (all stdout);
 * others are demultiplexed. UTF-8 sequences split across frames or chunks decode correctly.
 */
export async function* demuxText(chunks: AsyncIterable<Uint8Array>, tty: boolean): AsyncGenerator<StreamText> {
  const decoders = { stdin: new TextDecoder(), stdout: new TextDecoder(), stderr: new TextDecoder() };
  const demuxer = tty ? undefined : new StreamDemuxer();
  for await (const chunk of chunks) {
    const pieces = demuxer ? demuxer.push(chunk) : [{ stream: "stdout" as const, data: chunk }];
    for (const piece of pieces) {
      const text = decoders[piece.stream].decode(piece.data, { stream: true });
      if (text) yield { stream: piece.stream, text };
    }
  }
  for (const stream of ["stdout", "stderr"] as const) {
    const rest = decoders[stream].decode();
    if (rest) yield { stream, text: rest };
  }
}
