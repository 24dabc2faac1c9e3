import { describe, expect, test } from "bun:test";
import { imageSize } from "../../../src/browser/image-size";

function png(width: number, height: number): Uint8Array {
  const bytes = new Uint8Array(33);
  bytes.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]);
  new DataView(bytes.buffer).setUint32(16, width);
  new DataView(bytes.buffer).setUint32(20, height);
  return bytes;
}

/** SOI, an APP0 segment, a DQT-like segment, then SOF2 (progressive) with the size. */
function jpeg(width: number, height: number): Uint8Array {
  const app0 = [0xff, 0xe0, 0x00, 0x10, ...new Array(14).fill(0)];
  const dqt = [0xff, 0xdb, 0x00, 0x04, 0x00, 0x00];
  const sof = [0xff, 0xc2, 0x00, 0x11, 0x08, height >> 8, height & 0xff, width >> 8, width & 0xff, 0x03];
  return new Uint8Array([0xff, 0xd8, ...app0, ...dqt, ...sof, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
}

describe("imageSize", () => {
  test("reads a PNG's IHDR", () => {
    expect(imageSize(png(1920, 1080))).toEqual({ width: 1920, height: 1080 });
  });

  test("reads a JPEG's start-of-frame, skipping other segments", () => {
    expect(imageSize(jpeg(640, 480))).toEqual({ width: 640, height: 480 });
    expect(imageSize(jpeg(300, 4000))).toEqual({ width: 300, height: 4000 });
  });

  test("null for other or truncated data", () => {
    expect(imageSize(new TextEncoder().encode("GIF89a........"))).toBeNull();
    expect(imageSize(png(1, 1).slice(0, 20))).toBeNull();
    expect(imageSize(jpeg(10, 10).slice(0, 24))).toBeNull();
  });
});
