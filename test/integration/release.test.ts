import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { release, releaseName } from "../../release";
import { binaryFormat, embeddedLinuxName } from "../../src/docker/linux-binary";
import { VERSION } from "../../src/version";

/**
 * `release.ts` cross-compiling for a machine that is not this one: the Apple-silicon binary and the
 * Linux arm64 one it carries for the image. Their formats are checked by magic bytes; the Linux one
 * runs under qemu-user (Debian's qemu-user-static, with libc6-arm64-cross for its loader).
 */

setDefaultTimeout(300_000);
const dir = mkdtempSync(join(tmpdir(), "coderunner-release-"));
const ARM64_ROOT = "/usr/aarch64-linux-gnu";
const qemu = Bun.which("qemu-aarch64-static") && existsSync(join(ARM64_ROOT, "lib/ld-linux-aarch64.so.1"));
if (!qemu && process.env.CI) throw new Error("qemu-aarch64-static or the arm64 C library is missing; under CI, .ci/deps installs them.");
let built: Map<string, string>;

beforeAll(async () => {
  built = await release(["darwin-arm64"], dir, () => {});
}, 600_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const head = (path: string) => new Uint8Array(readFileSync(path).subarray(0, 64));

describe("a release for Apple silicon, built on this machine", () => {
  test("is a Mach-O arm64 executable carrying the ELF aarch64 binary for the image", () => {
    expect([...built.keys()].sort()).toEqual(["darwin-arm64", "linux-arm64"]);
    expect(binaryFormat(head(join(dir, releaseName("darwin-arm64"))))).toEqual({ format: "mach-o", arch: "arm64" });
    expect(binaryFormat(head(join(dir, releaseName("linux-arm64"))))).toEqual({ format: "elf", arch: "arm64" });
    const mac = readFileSync(join(dir, releaseName("darwin-arm64")));
    expect(mac.includes(embeddedLinuxName("arm64"))).toBe(true);
    const linux = readFileSync(join(dir, releaseName("linux-arm64")));
    expect(mac.includes(createHash("sha256").update(linux).digest("hex"))).toBe(true);
  });

  test("SHA256SUMS lists every file with its checksum", () => {
    const sums = readFileSync(join(dir, "SHA256SUMS"), "utf8").trim().split("\n");
    expect(sums.map((line) => line.split(/\s+/)[1])).toEqual([releaseName("darwin-arm64"), releaseName("linux-arm64")]);
    for (const line of sums) {
      const [sum, name] = line.split(/\s+/);
      expect(createHash("sha256").update(readFileSync(join(dir, name!))).digest("hex")).toBe(sum!);
    }
  });

  test.skipIf(!qemu)("the Linux arm64 binary prints its version under qemu-user", () => {
    const run = Bun.spawnSync(["qemu-aarch64-static", "-L", ARM64_ROOT, join(dir, releaseName("linux-arm64")), "--version"], { stdout: "pipe", stderr: "pipe" });
    expect(run.exitCode, run.stderr.toString()).toBe(0);
    expect(run.stdout.toString().trim()).toBe(VERSION);
  });
});
