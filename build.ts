/**
 * Compiles `dist/coderunner`, the single executable: `bun build.ts [--target bun-linux-x64]`.
 * The version comes from package.json (bundled); the binary never autoloads a `.env`, `bunfig.toml`,
 * `tsconfig.json` or `package.json` from the directory it runs in.
 */
import { chmodSync, mkdirSync } from "node:fs";
import { playwrightEmbedJSON } from "./src/browser/build-plugin";
import { VERSION } from "./src/version";

const targetIndex = process.argv.indexOf("--target");
const target = targetIndex > 0 ? process.argv[targetIndex + 1] : undefined;
const outfile = process.env.CODERUNNER_OUTFILE ?? "dist/coderunner";

mkdirSync("dist", { recursive: true });
const started = performance.now();
const result = await Bun.build({
  entrypoints: ["src/cli.ts"],
  minify: true,
  plugins: [playwrightEmbedJSON],
  sourcemap: "none",
  define: { "process.env.CODERUNNER_BUILD": JSON.stringify("compiled") },
  compile: {
    ...(target ? { target: target as Bun.Build.CompileTarget } : {}),
    outfile,
    autoloadDotenv: false,
    autoloadBunfig: false,
    autoloadTsconfig: false,
    autoloadPackageJson: false,
  },
});
if (!result.success) {
  for (const log of result.logs) console.error(log);
  process.exit(1);
}
chmodSync(outfile, 0o755);
console.log(`built ${outfile} (coderunner ${VERSION}) in ${Math.round(performance.now() - started)} ms`);
