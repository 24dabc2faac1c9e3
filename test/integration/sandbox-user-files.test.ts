/**
 * The confined file service with its real helper (perl-base) on this machine: streaming reads and
 * writes, listing, placing uploads, and the kernel's verdicts. As root, the helpers run as `nobody`
 * through the same setpriv switch a sandbox uses, so permission checks are real.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { asUser } from "../../src/confinement/user-command";
import type { MultipartUpload, StagedFile } from "../../src/files/multipart-upload";
import { SandboxUserFiles } from "../../src/files/sandbox-user-files";
import { isAlive } from "../../src/kernels/proc-stats";
import { until } from "../helpers/poll";

const root = process.getuid?.() === 0;
const NOBODY = { uid: 65534, gid: 65534 };
const dir = mkdtempSync(join(tmpdir(), "sandbox-files-"));
chmodSync(dir, 0o755);
const home = join(dir, "home");
const secret = join(dir, "secret");
mkdirSync(home);
mkdirSync(secret, { mode: 0o700 });
writeFileSync(join(secret, "token"), "s3cret");
if (root) chownSync(home, NOBODY.uid, NOBODY.gid);

const files = new SandboxUserFiles({
  asUser: (argv) => (root ? asUser(NOBODY, argv) : argv),
  userName: "nobody (uid 65534)",
  stagingDir: join(home, ".uploads"),
});
afterAll(() => {
  files.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** PIDs of this process's file helpers (perl children running the helper program). */
function helperPids(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "latin1");
      const parent = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (parent === process.pid && readFileSync(`/proc/${entry}/cmdline`, "latin1").includes("use Fcntl")) pids.push(Number(entry));
    } catch {}
  }
  return pids;
}

async function collect(source: string | AsyncIterable<Uint8Array>): Promise<Buffer> {
  if (typeof source === "string") return readFileSync(source);
  const parts: Uint8Array[] = [];
  for await (const part of source) parts.push(part);
  return Buffer.concat(parts);
}

async function stage(bytes: Uint8Array, filename: string): Promise<StagedFile> {
  const staged = join(home, ".uploads", `${crypto.randomUUID()}.part`);
  const { sink, done } = files.staging.open(staged);
  sink.end(bytes);
  await done;
  return { field: "file", filename, staged, size: bytes.length };
}

const upload = (fields: Record<string, string>, staged: StagedFile[]): MultipartUpload => ({ fields, files: staged, discard: async () => undefined });

describe("files as the sandbox user, with the real helper", () => {
  test("an upload streams in, lands where remote_path says, and downloads byte for byte", async () => {
    const bytes = new Uint8Array(3 * 1024 * 1024 + 7).map((_, i) => (i * 31) % 256);
    const staged = await stage(bytes, "blob.bin");
    const placed = await files.place(upload({ remote_path: "deep/er/blob.bin" }, [staged]), home);
    expect(placed).toMatchObject({ success: true, path: join(home, "deep/er/blob.bin"), size: bytes.length });
    expect(staged.moved).toBe(true);
    const download = await files.openForDownload("deep/er/blob.bin", home, 10 * 1024 * 1024);
    expect(download.size).toBe(bytes.length);
    expect((await collect(download.source)).equals(Buffer.from(bytes))).toBe(true);
  });

  test("an existing directory as remote_path receives the file under its own name; recursive uploads keep their tree", async () => {
    const one = await files.place(upload({ remote_path: "deep" }, [await stage(new Uint8Array([1]), "x.txt")]), home);
    expect(one.path).toBe(join(home, "deep/x.txt"));
    const tree = await files.place(upload({ remote_path: "tree", recursive: "true" }, [await stage(new Uint8Array([2]), "a/b.txt"), await stage(new Uint8Array([3]), "c.txt")]), home);
    expect(tree.files.map((file) => file.path)).toEqual([join(home, "tree/a/b.txt"), join(home, "tree/c.txt")]);
    const listing = await files.list("tree", home);
    expect(listing.entries.map((entry) => [entry.name, entry.type])).toEqual([["a", "directory"], ["c.txt", "file"]]);
  });

  test("a download larger than the limit is a 413 before any byte is read", async () => {
    await expect(files.openForDownload("deep/er/blob.bin", home, 1024)).rejects.toMatchObject({ code: "PAYLOAD_TOO_LARGE" });
  });

  test("missing, directories, FIFOs and devices are clear 4xx answers, never a hang", async () => {
    expect(Bun.spawnSync(["mkfifo", join(home, "pipe")]).exitCode).toBe(0);
    await expect(files.openForDownload("nope.txt", home, 1024)).rejects.toMatchObject({ code: "FILE_NOT_FOUND", status: 404 });
    await expect(files.openForDownload("deep", home, 1024)).rejects.toMatchObject({ code: "INVALID_PATH", message: expect.stringContaining("directory") });
    await expect(files.openForDownload("pipe", home, 1024)).rejects.toMatchObject({ code: "INVALID_PATH", message: expect.stringContaining("not a regular file") });
    await expect(files.openForDownload("/dev/zero", home, 1024)).rejects.toMatchObject({ code: "INVALID_PATH" });
    await expect(files.list("nope", home)).rejects.toMatchObject({ code: "FILE_NOT_FOUND" });
    await expect(files.openForDownload("../x", home, 1024)).rejects.toMatchObject({ code: "INVALID_PATH", message: expect.stringContaining("climb out") });
  });

  test.skipIf(!root)("the kernel decides: the server's files and system files are refused, through symlinks too", async () => {
    symlinkSync(join(secret, "token"), join(home, "token-link"));
    symlinkSync(secret, join(home, "secret-dir"));
    await expect(files.openForDownload("token-link", home, 1024)).rejects.toMatchObject({ code: "FORBIDDEN", status: 403, message: expect.stringContaining("nobody (uid 65534)") });
    await expect(files.list("secret-dir", home)).rejects.toMatchObject({ code: "FORBIDDEN" });
    const into = await stage(new Uint8Array([9]), "evil");
    await expect(files.place(upload({ remote_path: "secret-dir/planted" }, [into]), home)).rejects.toMatchObject({ code: "FORBIDDEN" });
    await expect(files.place(upload({ remote_path: "/etc/passwd" }, [into]), home)).rejects.toMatchObject({ code: "FORBIDDEN" });
    expect(readFileSync("/etc/passwd", "utf8")).toContain("root:");
    await expect(files.makeDirectory(join(secret, "sub"))).rejects.toMatchObject({ code: "FORBIDDEN" });
  });

  test("a symlink at the destination is written through, as the shell's > would", async () => {
    writeFileSync(join(home, "target.txt"), "old");
    if (root) chownSync(join(home, "target.txt"), NOBODY.uid, NOBODY.gid);
    symlinkSync(join(home, "target.txt"), join(home, "via-link.txt"));
    await files.place(upload({ remote_path: "via-link.txt" }, [await stage(new TextEncoder().encode("new"), "n")]), home);
    expect(readFileSync(join(home, "target.txt"), "utf8")).toBe("new");
  });

  test("staging never follows a symlink planted at the staged name, and leftovers can be removed", async () => {
    const staged = join(home, ".uploads", "planted.part");
    symlinkSync(join(home, "target.txt"), staged);
    const { sink, done } = files.staging.open(staged);
    sink.on("error", () => undefined);
    sink.end(new Uint8Array([1, 2, 3]));
    await expect(done).rejects.toMatchObject({ status: 400 });
    expect(readFileSync(join(home, "target.txt"), "utf8")).toBe("new");
    await files.staging.remove([staged]);
    await files.removeTree(join(home, "tree"));
    await expect(files.list("tree", home)).rejects.toMatchObject({ code: "FILE_NOT_FOUND" });
  });

  test("one warm helper serves request after request; one killed while idle is replaced unseen", async () => {
    writeFileSync(join(home, "small.txt"), "small");
    await collect((await files.openForDownload("small.txt", home, 1024)).source);
    // Helpers ended by earlier tests may take a moment to die on a busy machine.
    const before = await until("one helper left", () => {
      const pids = helperPids();
      return pids.length === 1 && pids;
    });
    for (let i = 0; i < 5; i++) await files.list(".", home);
    expect(helperPids()).toEqual(before);
    for (const pid of before) process.kill(pid, "SIGKILL");
    await until("the killed helper to be gone", () => before.every((pid) => !isAlive(pid)));
    expect((await collect((await files.openForDownload("small.txt", home, 1024)).source)).toString()).toBe("small");
  });

  test("a download abandoned half-way ends its helper; the next request gets a good one", async () => {
    writeFileSync(join(home, "big.bin"), new Uint8Array(8 * 1024 * 1024));
    const download = await files.openForDownload("big.bin", home, 16 * 1024 * 1024);
    const source = download.source as AsyncGenerator<Uint8Array>;
    await source.next();
    await source.return(undefined);
    const listing = await files.list(".", home);
    expect(listing.entries.some((entry) => entry.name === "big.bin")).toBe(true);
    expect((await collect((await files.openForDownload("small.txt", home, 1024)).source)).toString()).toBe("small");
  });

  test("concurrent requests get helpers of their own; afterwards one stays warm", async () => {
    const names = Array.from({ length: 8 }, (_, i) => `par-${i}.txt`);
    for (const [i, name] of names.entries()) writeFileSync(join(home, name), `file ${i}`.repeat(1000));
    const bodies = await Promise.all(names.map(async (name) => (await collect((await files.openForDownload(name, home, 1 << 20)).source)).toString()));
    expect(bodies).toEqual(names.map((_, i) => `file ${i}`.repeat(1000)));
    // The extra helpers are killed on release; under load they take a moment to go.
    await until("the extra helpers to end, one kept warm", () => helperPids().length === 1);
  });
});
