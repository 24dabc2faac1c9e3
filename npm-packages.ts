/**
 * The npm packages, the way esbuild and Biome ship native CLIs, written to `dist/npm/` (never
 * published from here): `coderunner` (the SDK compiled for Node, and a launcher as its `bin`) lists
 * one package per platform as optional dependencies, `@coderunner/<os>-<cpu>`, each holding that
 * platform's binary and installed by npm only where its `os` and `cpu` match.
 * `bun release.ts` writes them after the binaries; `npm pack dist/npm/*` makes the tarballs.
 */
import { chmodSync, copyFileSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import pkg from "./package.json" with { type: "json" };
import { BINARY_IN_PACKAGE, platformPackage } from "./src/client/installed-binary";
import { PLATFORMS, type Platform } from "./release";

export const NPM_DIR = "dist/npm";

const common = { version: pkg.version };

const write = (dir: string, manifest: object) => writeFileSync(join(dir, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`);

/** Writes the platform packages of `binaries` and the main package into `dir`; resolves with the package directories. */
export async function writeNpmPackages(binaries: ReadonlyMap<Platform, string>, dir: string = NPM_DIR): Promise<string[]> {
  rmSync(dir, { recursive: true, force: true });
  const written: string[] = [];
  for (const [platform, binary] of binaries) {
    const [os, cpu] = platform.split("-") as [string, string];
    const out = join(dir, `coderunner-${platform}`);
    mkdirSync(join(out, "bin"), { recursive: true });
    copyFileSync(binary, join(out, BINARY_IN_PACKAGE));
    chmodSync(join(out, BINARY_IN_PACKAGE), 0o755);
    write(out, { name: platformPackage(os, cpu), ...common, description: `The coderunner binary for ${os} ${cpu}.`, os: [os], cpu: [cpu], files: ["bin"], preferUnplugged: true });
    written.push(out);
  }
  const main = join(dir, "coderunner");
  const sdk = await Bun.build({
    entrypoints: ["src/client/index.ts", "src/client/cloud.ts"],
    target: "node",
    format: "esm",
    splitting: true,
    outdir: join(main, "dist"),
  });
  const launcher = await Bun.build({
    entrypoints: ["src/npm/launcher.ts"],
    target: "node",
    format: "esm",
    banner: "#!/usr/bin/env node",
    naming: "coderunner.js",
    outdir: join(main, "bin"),
  });
  for (const result of [sdk, launcher]) if (!result.success) throw new AggregateError(result.logs, "compiling the npm package failed");
  chmodSync(join(main, "bin", "coderunner.js"), 0o755);
  copyFileSync("README.md", join(main, "README.md"));
  write(main, {
    name: pkg.name,
    ...common,
    description: pkg.description,
    type: "module",
    bin: { coderunner: "bin/coderunner.js" },
    exports: { ".": "./dist/index.js", "./cloud": "./dist/cloud.js", "./package.json": "./package.json" },
    files: ["bin", "dist"],
    engines: pkg.engines,
    optionalDependencies: Object.fromEntries(PLATFORMS.map((platform) => [platformPackage(...(platform.split("-") as [string, string])), pkg.version])),
  });
  written.push(main);
  return written;
}
