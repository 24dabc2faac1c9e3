import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AppError } from "../errors";

/**
 * The Linux `coderunner` a macOS binary carries for the image. The release build (`release.ts`)
 * embeds the Linux binary of the same architecture, zstd-compressed, as `coderunner-linux-<arch>.zst`,
 * and defines `process.env.CODERUNNER_EMBEDDED_LINUX_SHA256` as the SHA-256 of the uncompressed
 * binary, which is checked before the binary goes into an image.
 */
export const EMBEDDED_LINUX_SHA256 = "CODERUNNER_EMBEDDED_LINUX_SHA256";

export type LinuxArch = "x64" | "arm64";

/** The Linux architecture of binaries for this machine's Engine (Docker Desktop runs the Mac's own). */
export function linuxArch(arch: string = process.arch): LinuxArch {
  return arch === "arm64" ? "arm64" : "x64";
}

/** The embedded file's name for `arch`. */
export function embeddedLinuxName(arch: LinuxArch): string {
  return `coderunner-linux-${arch}.zst`;
}

export interface ExtractedBinary {
  path: string;
  dispose(): void;
}

/**
 * Writes the embedded Linux binary for `arch` to a temporary file after checking its SHA-256, or
 * resolves undefined when this binary carries none (a Linux build, or one run from source).
 */
export async function extractLinuxBinary(
  arch: LinuxArch,
  options: { files?: readonly Blob[]; sha256?: string } = {},
): Promise<ExtractedBinary | undefined> {
  const files = options.files ?? Bun.embeddedFiles;
  const name = embeddedLinuxName(arch);
  const blob = files.find((file) => (file as Blob & { name?: string }).name === name);
  if (!blob) return undefined;
  const binary = await Bun.zstdDecompress(await blob.bytes());
  const expected = options.sha256 ?? process.env.CODERUNNER_EMBEDDED_LINUX_SHA256;
  const actual = createHash("sha256").update(binary).digest("hex");
  if (actual !== expected) {
    throw new AppError("DOCKER_UNAVAILABLE", `The Linux coderunner embedded in this binary is damaged (SHA-256 ${actual}, expected ${expected}): download coderunner again.`);
  }
  const dir = mkdtempSync(join(tmpdir(), "coderunner-linux-"));
  const path = join(dir, "coderunner");
  writeFileSync(path, binary, { mode: 0o755 });
  return { path, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}

/** An executable's format and CPU, read from its first bytes; undefined when neither ELF nor Mach-O (64-bit little-endian). */
export function binaryFormat(head: Uint8Array): { format: "elf" | "mach-o"; arch: LinuxArch | "other" } | undefined {
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  if (head.length >= 20 && view.getUint32(0) === 0x7f454c46) {
    const machine = view.getUint16(18, true);
    return { format: "elf", arch: machine === 0x3e ? "x64" : machine === 0xb7 ? "arm64" : "other" };
  }
  if (head.length >= 8 && view.getUint32(0, true) === 0xfeedfacf) {
    const cpu = view.getUint32(4, true);
    return { format: "mach-o", arch: cpu === 0x01000007 ? "x64" : cpu === 0x0100000c ? "arm64" : "other" };
  }
  return undefined;
}
