/**
 * The npm packages, the way esbuild and Biome ship native CLIs, written to `dist/npm/` (never
 * published from here): `coderunner` (the SDK compiled for Node, and a launcher as its `bin`) lists
 * one package per platform as optional dependencies, `@coderunner/<os>-<cpu>`, each holding that
 * platform's binary and installed by npm only where its `os` and `cpu` match.
 * `bun release.ts` writes them after the binaries; `npm pack dist/npm/*` makes the tarballs.
 */
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
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
  writeDeclarations(join(main, "types"));
  chmodSync(join(main, "bin", "coderunner.js"), 0o755);
  copyFileSync("README.md", join(main, "README.md"));
  write(main, {
    name: pkg.name,
    ...common,
    description: pkg.description,
    type: "module",
    bin: { coderunner: "bin/coderunner.js" },
    types: "./types/client/index.d.ts",
    exports: {
      ".": { types: "./types/client/index.d.ts", default: "./dist/index.js" },
      "./cloud": { types: "./types/client/cloud.d.ts", default: "./dist/cloud.js" },
      "./package.json": "./package.json",
    },
    files: ["bin", "dist", "types"],
    engines: pkg.engines,
    // The SDK's types are the contract's TypeBox types; TypeBox is never loaded at run time.
    dependencies: { "@sinclair/typebox": pkg.dependencies["@sinclair/typebox"] },
    optionalDependencies: Object.fromEntries(PLATFORMS.map((platform) => [platformPackage(...(platform.split("-") as [string, string])), pkg.version])),
  });
  written.push(main);
  return written;
}

/**
 * The SDK's type declarations, emitted by tsc from its two entry points into `out`: those of the
 * client, of the contract its types come from, and of the error registry. Nothing else is shipped;
 * the SDK's declarations refer to nothing else (the package's type check proves it).
 */
function writeDeclarations(out: string): void {
  mkdirSync("dist", { recursive: true }); // a fresh clone has none yet
  const scratch = mkdtempSync(join(resolve("dist"), "types-"));
  try {
    const config = join(scratch, "tsconfig.json");
    const compilerOptions = { noEmit: false, declaration: true, emitDeclarationOnly: true, outDir: join(scratch, "out"), rootDir: resolve("src"), typeRoots: [resolve("node_modules")] };
    writeFileSync(config, JSON.stringify({ extends: resolve("tsconfig.json"), compilerOptions, include: [`${resolve("src")}/**/*.d.ts`], files: [resolve("src/client/index.ts"), resolve("src/client/cloud.ts")] }));
    const tsc = Bun.spawnSync([resolve("node_modules/.bin/tsc"), "-p", config], { stdout: "pipe", stderr: "pipe" });
    if (tsc.exitCode !== 0) throw new Error(`emitting the SDK's type declarations failed:\n${tsc.stdout.toString()}${tsc.stderr.toString()}`);
    mkdirSync(out, { recursive: true });
    for (const part of ["client", "contract"]) cpSync(join(scratch, "out", part), join(out, part), { recursive: true });
    copyFileSync(join(scratch, "out", "errors.d.ts"), join(out, "errors.d.ts"));
    for (const file of readdirSync(out, { recursive: true, encoding: "utf8" })) {
      if (file.endsWith(".d.ts")) writeFileSync(join(out, file), withExtensions(readFileSync(join(out, file), "utf8"), dirname(join(out, file))));
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/**
 * Relative specifiers as Node's ESM resolution wants them (`./http` → `./http.js`, `../contract` →
 * `../contract/index.js`): tsc writes them as the source does, which a consumer on `nodenext` refuses.
 */
export function withExtensions(declarations: string, dir: string): string {
  return declarations.replace(/((?:from|import)\s*\(?\s*")(\.{1,2}\/[^"]*)(")/g, (whole, before: string, specifier: string, after: string) => {
    if (/\.js$/.test(specifier)) return whole;
    if (existsSync(join(dir, `${specifier}.d.ts`))) return `${before}${specifier}.js${after}`;
    if (existsSync(join(dir, specifier, "index.d.ts"))) return `${before}${specifier}/index.js${after}`;
    return whole;
  });
}
