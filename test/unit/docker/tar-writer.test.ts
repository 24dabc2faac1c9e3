import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { tarHeader, tarStream } from "../../../src/docker/tar-writer";

const dir = mkdtempSync(join(tmpdir(), "tar-writer-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function bytesOf(stream: ReadableStream<Uint8Array>) {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

describe("tarStream", () => {
  test("GNU tar lists and extracts what it wrote, modes and long paths included", async () => {
    const big = new Uint8Array(70_000).map((_, i) => i % 251);
    const longPath = `deep/${"d".repeat(90)}/${"f".repeat(60)}.txt`;
    const tar = await bytesOf(
      tarStream([
        { name: "Dockerfile", data: "FROM scratch\n" },
        { name: "image", type: "directory" },
        { name: "image/run.sh", mode: 0o755, data: "#!/bin/sh\necho hi\n" },
        { name: "dist/coderunner", mode: 0o755, size: big.length, stream: () => new Blob([big]).stream() },
        { name: longPath, data: "long" },
      ]),
    );
    expect(tar.length % 512).toBe(0);
    const file = join(dir, "context.tar");
    await Bun.write(file, tar);
    const listing = Bun.spawnSync(["tar", "-tvf", file]);
    expect(listing.exitCode).toBe(0);
    const text = listing.stdout.toString();
    expect(text).toContain("Dockerfile");
    expect(text).toMatch(/-rwxr-xr-x .* 70000 .*dist\/coderunner/);
    expect(text).toContain(longPath);
    const out = join(dir, "out");
    Bun.spawnSync(["mkdir", "-p", out]);
    expect(Bun.spawnSync(["tar", "-xf", file, "-C", out]).exitCode).toBe(0);
    expect(new Uint8Array(await Bun.file(join(out, "dist/coderunner")).arrayBuffer())).toEqual(big);
    expect(await Bun.file(join(out, longPath)).text()).toBe("long");
  });

  test("a streamed file whose size differs from the declared one fails the stream", async () => {
    const stream = tarStream([{ name: "x", size: 10, stream: () => new Blob(["short"]).stream() }]);
    await expect(bytesOf(stream)).rejects.toThrow(/declared 10/);
  });

  test("the header checksum is the byte sum with the checksum field as spaces", () => {
    const header = tarHeader({ name: "a", type: "file", mode: 0o644, size: 3 });
    const stored = parseInt(new TextDecoder().decode(header.subarray(148, 154)), 8);
    const copy = header.slice();
    copy.fill(0x20, 148, 156);
    expect(stored).toBe(copy.reduce((sum, byte) => sum + byte, 0));
  });
});
