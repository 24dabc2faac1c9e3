/**
 * Where npm put the `coderunner` binary: the platform package (`@coderunner/linux-x64`, ...) that the
 * `coderunner` package lists as an optional dependency, which npm installs only on the machine whose
 * `os` and `cpu` it names (the way esbuild and Biome ship their binaries).
 */

/** The npm package that carries the binary for `platform`/`arch` (Node's names). */
export function platformPackage(platform: string = process.platform, arch: string = process.arch): string {
  return `@coderunner/${platform}-${arch}`;
}

/** The binary's path inside its platform package. */
export const BINARY_IN_PACKAGE = "bin/coderunner";

/**
 * The installed binary's path, resolved from `from` (a file URL or path inside node_modules), or
 * undefined when this machine's platform package is not installed.
 */
export async function installedBinary(from: string = import.meta.url): Promise<string | undefined> {
  const { createRequire } = await import("node:module");
  const { dirname, join } = await import("node:path");
  try {
    const manifest = createRequire(from).resolve(`${platformPackage()}/package.json`);
    return join(dirname(manifest), BINARY_IN_PACKAGE);
  } catch {
    return undefined;
  }
}
