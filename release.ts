/**
 * `npm run release` (`bun release.ts [--only linux-arm64,darwin-arm64]`): the `coderunner` binaries
 * for every platform in `dist/release/`, named by platform (`coderunner-darwin-arm64`), with
 * `SHA256SUMS`. Each macOS binary carries the Linux binary of its architecture (zstd-compressed) to
 * put into the image, so `coderunner up` on a Mac builds the image with no extra step. Then the npm
 * packages of those binaries in `dist/npm/` (see `npm-packages.ts`).
 */
import { createHash } from "node:crypto";
import { mkdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { compile } from "./build";
import { embeddedLinuxName, type LinuxArch } from "./src/docker/linux-binary";
import { VERSION } from "./src/version";

export const PLATFORMS = ["linux-x64", "linux-arm64", "darwin-arm64", "darwin-x64"] as const;
export type Platform = (typeof PLATFORMS)[number];

export const RELEASE_DIR = "dist/release";

/** The release file of `platform`. */
export const releaseName = (platform: Platform) => `coderunner-${platform}`;

const sha256 = async (path: string) => createHash("sha256").update(await Bun.file(path).bytes()).digest("hex");
const mb = (path: string) => (statSync(path).size / 1e6).toFixed(1);

/**
 * Builds the binaries of `platforms` (a macOS one also builds the Linux one it carries) into `dir`
 * and writes `SHA256SUMS` for what it built; resolves with their paths by platform.
 */
export async function release(platforms: readonly Platform[] = PLATFORMS, dir: string = RELEASE_DIR, say = console.log): Promise<Map<Platform, string>> {
  mkdirSync(dir, { recursive: true });
  const work = join(dir, ".embed");
  mkdirSync(work, { recursive: true });
  const built = new Map<Platform, string>();
  const build = async (platform: Platform): Promise<string> => {
    const done = built.get(platform);
    if (done) return done;
    const outfile = join(dir, releaseName(platform));
    const [os, arch] = platform.split("-") as ["linux" | "darwin", LinuxArch];
    let linuxBinary: { path: string; sha256: string } | undefined;
    if (os === "darwin") {
      const linux = await build(`linux-${arch}`);
      const started = performance.now();
      const path = join(work, embeddedLinuxName(arch));
      writeFileSync(path, await Bun.zstdCompress(await Bun.file(linux).bytes(), { level: 6 }));
      linuxBinary = { path, sha256: await sha256(linux) };
      say(`  compressed ${releaseName(`linux-${arch}`)} to ${mb(path)} MB in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    }
    const ms = await compile({ target: `bun-${platform}`, outfile, linuxBinary });
    say(`built ${outfile}: ${mb(outfile)} MB in ${(ms / 1000).toFixed(1)} s`);
    built.set(platform, outfile);
    return outfile;
  };
  for (const platform of platforms) await build(platform);
  rmSync(work, { recursive: true, force: true });
  const sums = await Promise.all([...built.values()].map(async (path) => `${await sha256(path)}  ${path.split("/").pop()}`));
  writeFileSync(join(dir, "SHA256SUMS"), `${sums.sort((a, b) => a.slice(66).localeCompare(b.slice(66))).join("\n")}\n`);
  return built;
}

if (import.meta.main) {
  const onlyIndex = process.argv.indexOf("--only");
  const only = onlyIndex > 0 ? process.argv[onlyIndex + 1]!.split(",") : [...PLATFORMS];
  const unknown = only.filter((name) => !(PLATFORMS as readonly string[]).includes(name));
  if (unknown.length) {
    console.error(`unknown platform ${unknown.join(", ")}: one of ${PLATFORMS.join(", ")}`);
    process.exit(2);
  }
  const started = performance.now();
  const binaries = await release(only as Platform[]);
  const { NPM_DIR, writeNpmPackages } = await import("./npm-packages");
  await writeNpmPackages(binaries);
  console.log(`coderunner ${VERSION}: ${RELEASE_DIR}/ with SHA256SUMS, npm packages in ${NPM_DIR}/, in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}
