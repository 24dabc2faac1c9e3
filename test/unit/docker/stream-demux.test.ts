import { describe, expect, test } from "bun:test";
import { StreamDemuxer, StreamFormatError, demuxText } from "../../../src/docker/stream-demux";

function frame(stream: number, payload: string | Uint8Array): Uint8Array {
  const data = typeof payload === "string" ? new TextEncoder().encode(payload) : payload;
  const out = new Uint8Array(8 + data.length);
  out[0] = stream;
  new DataView(out.buffer).setUint32(4, data.length, false);
  out.set(data, 8);
  return out;
}

const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) out.set(part, (at += part.length) - part.length);
  return out;
};

/** Cuts `bytes` at the given offsets. */
const cut = (bytes: Uint8Array, ...offsets: number[]) =>
  [0, ...offsets, bytes.length].slice(1).map((end, i) => bytes.subarray([0, ...offsets][i], end));

async function* chunks(parts: Uint8Array[]) {
  for (const part of parts) yield part;
}

async function collect(parts: Uint8Array[], tty = false) {
  const out = { stdout: "", stderr: "" } as Record<string, string>;
  for await (const piece of demuxText(chunks(parts), tty)) out[piece.stream] += piece.text;
  return out;
}

describe("StreamDemuxer", () => {
  const stream = concat(frame(1, "hello "), frame(2, "oops\n"), frame(1, "world\n"), frame(1, ""), frame(2, "done"));

  test("whole frames in one chunk", async () => {
    expect(await collect([stream])).toEqual({ stdout: "hello world\n", stderr: "oops\ndone" });
  });

  test("every possible split point, including inside the 8-byte headers", async () => {
    for (let at = 1; at < stream.length; at++) {
      expect(await collect(cut(stream, at))).toEqual({ stdout: "hello world\n", stderr: "oops\ndone" });
    }
  });

  test("one byte at a time", async () => {
    const bytes = Array.from(stream, (byte) => Uint8Array.of(byte));
    expect(await collect(bytes)).toEqual({ stdout: "hello world\n", stderr: "oops\ndone" });
  });

  test("a UTF-8 character split across two frames and two chunks decodes whole", async () => {
    const euro = new TextEncoder().encode("€"); // 3 bytes
    const bytes = concat(frame(1, euro.subarray(0, 1)), frame(1, euro.subarray(1)));
    expect((await collect(cut(bytes, 4, 9, 10))).stdout).toBe("€");
  });

  test("payload pieces are tagged with their stream and the boundary state is tracked", () => {
    const demuxer = new StreamDemuxer();
    const first = demuxer.push(stream.subarray(0, 11)); // header + "hel"
    expect(first.map((p) => [p.stream, new TextDecoder().decode(p.data)])).toEqual([["stdout", "hel"]]);
    expect(demuxer.atBoundary).toBe(false);
    demuxer.push(stream.subarray(11));
    expect(demuxer.atBoundary).toBe(true);
  });

  test("a TTY stream is raw stdout", async () => {
    expect(await collect([new TextEncoder().encode("\u0001raw")], true)).toEqual({ stdout: "\u0001raw", stderr: "" });
  });

  test("bytes that are not multiplexed frames are refused", () => {
    expect(() => new StreamDemuxer().push(new TextEncoder().encode("plain text log"))).toThrow(StreamFormatError);
  });
});
