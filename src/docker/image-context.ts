import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import dockerfile from "../../Dockerfile" with { type: "text" };
import buildBaseScript from "../../image/build-base.sh" with { type: "text" };
import chromiumWrapper from "../../image/chromium-as-sandbox-user.sh" with { type: "text" };
import kernelLauncher from "../../image/kernel-launcher.py" with { type: "text" };
import kernelSpecJSON from "../../image/kernel.json" with { type: "text" };
import packages from "../../image/packages.txt" with { type: "text" };
import { AppError, messageOf } from "../errors";
import { extractLinuxBinary, linuxArch } from "./linux-binary";
import { tarStream, type TarEntry } from "./tar-writer";

/**
 * The image's build context, embedded in the binary: the Dockerfile and `image/` files as text, plus
 * the `coderunner` binary itself (the running one when compiled; compiled from source otherwise), so
 * `coderunner up` builds the sandbox image on a machine with nothing but the binary and an Engine.
 */
export const EMBEDDED = {
  dockerfile,
  packages,
  buildBaseScript,
  kernelLauncher,
  chromiumWrapper,
  // A text import; TypeScript's JSON module typing does not know `type: "text"`.
  kernelSpec: kernelSpecJSON as unknown as string,
} as const;

/** Where the Dockerfile expects the binary in its context (also true of a checkout after `npm run build`). */
export const BINARY_IN_CONTEXT = "dist/coderunner";

/** The `FROM` image of the embedded Dockerfile, e.g. `debian:bookworm-slim`. */
export function baseImage(text: string = dockerfile): string {
  const match = /^\s*FROM\s+(\S+)/im.exec(text);
  if (!match) throw new Error("the embedded Dockerfile has no FROM line");
  return match[1]!;
}

/** True when this process is the compiled binary (`build.ts` defines `CODERUNNER_BUILD`). */
export function isCompiled(): boolean {
  return process.env.CODERUNNER_BUILD === "compiled";
}

export interface BinaryForImage {
  path: string;
  /** Removes a binary compiled just for the image. */
  dispose(): void;
}

/**
 * The Linux `coderunner` binary to put in the image: `CODERUNNER_IMAGE_BINARY` when set; on macOS
 * the Linux binary embedded in a release build; the running executable when compiled for Linux;
 * else one compiled from this checkout with `bun build.ts` into a temporary
 * directory (so the image always matches the source that builds it).
 */
export async function binaryForImage(onProgress: (line: string) => void = () => {}): Promise<BinaryForImage> {
  const given = process.env.CODERUNNER_IMAGE_BINARY;
  if (given) return { path: given, dispose() {} };
  if (process.platform !== "linux") {
    // The image runs Linux: this machine's own executable cannot go into it, the Linux twin a
    // release binary carries can.
    const arch = linuxArch();
    const embedded = await extractLinuxBinary(arch);
    if (embedded) return embedded;
    throw new AppError(
      "DOCKER_UNAVAILABLE",
      `The image needs a Linux coderunner binary, and this one carries none: use a release binary (npm run release), or build one with \`bun build.ts --target bun-linux-${arch}\` and set CODERUNNER_IMAGE_BINARY to its path, then run coderunner up again.`,
    );
  }
  if (isCompiled()) return { path: process.execPath, dispose() {} };
  const root = join(import.meta.dir, "..", "..");
  const dir = mkdtempSync(join(tmpdir(), "coderunner-image-"));
  const outfile = join(dir, "coderunner");
  onProgress("Compiling the coderunner binary for the image (bun build.ts) ...");
  const build = Bun.spawn([process.execPath, "build.ts"], {
    cwd: root,
    env: { ...process.env, CODERUNNER_OUTFILE: outfile },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [code, out, err] = await Promise.all([build.exited, new Response(build.stdout).text(), new Response(build.stderr).text()]);
  if (code !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`bun build.ts failed (exit ${code}): ${(err || out).trim().split("\n").slice(-5).join("\n")}`);
  }
  return { path: outfile, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The build context as a tar stream: Dockerfile, `image/` files and the binary (streamed from disk). */
export function contextTar(binaryPath: string): ReadableStream<Uint8Array> {
  let size: number;
  try {
    size = statSync(binaryPath).size;
  } catch (error) {
    throw new Error(`cannot read the coderunner binary for the image at ${binaryPath}: ${messageOf(error)}`);
  }
  const entries: TarEntry[] = [
    { name: "Dockerfile", data: dockerfile },
    { name: "image", type: "directory" },
    { name: "image/packages.txt", data: packages },
    { name: "image/build-base.sh", mode: 0o755, data: buildBaseScript },
    { name: "image/kernel-launcher.py", data: EMBEDDED.kernelLauncher },
    { name: "image/kernel.json", data: EMBEDDED.kernelSpec },
    { name: "image/chromium-as-sandbox-user.sh", mode: 0o755, data: EMBEDDED.chromiumWrapper },
    { name: "dist", type: "directory" },
    { name: BINARY_IN_CONTEXT, mode: 0o755, size, stream: () => Bun.file(binaryPath).stream() },
  ];
  return tarStream(entries);
}
