import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { embeddedLinuxName, extractLinuxBinary, linuxArch } from "../../../src/docker/linux-binary";

const binary = new TextEncoder().encode("\x7fELF pretend linux coderunner");
const sha256 = createHash("sha256").update(binary).digest("hex");
const embedded = (name: string) => new File([Buffer.from(Bun.zstdCompressSync(binary))], name);

describe("the Linux binary a macOS release carries", () => {
  test("is written out executable, byte for byte, when its checksum matches", async () => {
    const files = [embedded("other.txt"), embedded(embeddedLinuxName("arm64"))];
    const extracted = (await extractLinuxBinary("arm64", { files, sha256 }))!;
    try {
      expect(readFileSync(extracted.path)).toEqual(Buffer.from(binary));
      expect(statSync(extracted.path).mode & 0o111).toBe(0o111);
    } finally {
      extracted.dispose();
    }
    expect(existsSync(extracted.path)).toBe(false);
  });

  test("is refused when damaged", async () => {
    const files = [embedded(embeddedLinuxName("x64"))];
    await expect(extractLinuxBinary("x64", { files, sha256: "0".repeat(64) })).rejects.toThrow(/damaged.*download coderunner again/);
  });

  test("is absent from a binary that carries none, or only another architecture's", async () => {
    expect(await extractLinuxBinary("x64", { files: [] })).toBeUndefined();
    expect(await extractLinuxBinary("x64", { files: [embedded(embeddedLinuxName("arm64"))], sha256 })).toBeUndefined();
  });

  test("matches the Engine's architecture names", () => {
    expect(linuxArch("arm64")).toBe("arm64");
    expect(linuxArch("x64")).toBe("x64");
  });
});
