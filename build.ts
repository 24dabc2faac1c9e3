/**
 * Compiles `dist/coderunner`, the single executable: `bun build.ts [--target bun-linux-x64]`.
 * The version comes from package.json (bundled); the binary never autoloads a `.env`, `bunfig.toml`,
 * `tsconfig.json` or `package.json` from the directory it runs in. `release.ts` builds every platform
 * with `compile()`.
 */
import { chmodSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { playwrightEmbedJSON } from "./src/browser/build-plugin";
import { EMBEDDED_LINUX_SHA256 } from "./src/docker/linux-binary";
import { VERSION } from "./src/version";

export interface CompileOptions {
  /** A Bun compile target such as `bun-darwin-arm64`; unset: this machine. */
  target?: string;
  outfile: string;
  /**
   * A zstd-compressed Linux `coderunner` and its SHA-256 (of the uncompressed binary), embedded so a
   * macOS binary can put it into the image (see `src/docker/linux-binary.ts`).
   */
  linuxBinary?: { path: string; sha256: string };
}

/** Compiles one `coderunner` executable; resolves with the milliseconds it took. */
export async function compile(options: CompileOptions): Promise<number> {
  mkdirSync(dirname(options.outfile), { recursive: true });
  const started = performance.now();
  const result = await Bun.build({
    entrypoints: ["src/cli.ts", ...(options.linuxBinary ? [options.linuxBinary.path] : [])],
    minify: true,
    plugins: [playwrightEmbedJSON],
    sourcemap: "none",
    // Embedded files keep their names, so the binary finds its Linux twin by name.
    naming: { asset: "[name].[ext]" },
    define: {
      "process.env.CODERUNNER_BUILD": JSON.stringify("compiled"),
      ...(options.linuxBinary ? { [`process.env.${EMBEDDED_LINUX_SHA256}`]: JSON.stringify(options.linuxBinary.sha256) } : {}),
    },
    compile: {
      ...(options.target ? { target: options.target as Bun.Build.CompileTarget } : {}),
      outfile: options.outfile,
      autoloadDotenv: false,
      autoloadBunfig: false,
      autoloadTsconfig: false,
      autoloadPackageJson: false,
    },
  });
  if (!result.success) throw new AggregateError(result.logs, `compiling ${options.outfile} failed`);
  chmodSync(options.outfile, 0o755);
  return performance.now() - started;
}

if (import.meta.main) {
  const targetIndex = process.argv.indexOf("--target");
  const target = targetIndex > 0 ? process.argv[targetIndex + 1] : undefined;
  const outfile = process.env.CODERUNNER_OUTFILE ?? "dist/coderunner";
  try {
    const ms = await compile({ target, outfile });
    console.log(`built ${outfile} (coderunner ${VERSION}) in ${Math.round(ms)} ms`);
  } catch (error) {
    for (const log of (error as AggregateError).errors ?? [error]) console.error(log);
    process.exit(1);
  }
}
