import type { BunPlugin } from "bun";

/**
 * Makes `bun build --compile` embed playwright-core's own JSON files instead of baking the build
 * machine's path to them. playwright-core loads `package.json` and `browsers.json` with a dynamic
 * `require(path.join(packageRoot, "..."))`, where `packageRoot` comes from `__dirname`; the bundler
 * freezes `__dirname` as an absolute path of the build machine, so the compiled binary fails with
 * "Cannot find module '/<build dir>/node_modules/playwright-core/package.json'" anywhere else.
 * Rewriting those calls into static `require("../package.json")` lets the bundler inline the files.
 */
export const playwrightEmbedJSON: BunPlugin = {
  name: "playwright-embed-json",
  setup(build) {
    build.onLoad({ filter: /[\\/]playwright-core[\\/]lib[\\/][^\\/]+\.js$/ }, async ({ path }) => {
      const source = await Bun.file(path).text();
      const contents = source.replace(
        /require\(\s*import_path\d*\.default\.join\(\s*packageRoot\s*,\s*"(package|browsers)\.json"\s*\)\s*\)/g,
        (_match, name: string) => `require("../${name}.json")`,
      );
      return { contents, loader: "js" };
    });
  },
};
