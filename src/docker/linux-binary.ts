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
