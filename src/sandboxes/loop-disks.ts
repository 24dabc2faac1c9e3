import { chmodSync, chownSync, closeSync, existsSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statfsSync } from "node:fs";
import { join } from "node:path";
import { SERVER_DATA_DIR, SERVER_USER } from "../confinement/layout";
import { messageOf } from "../errors";

/** A bind mount for the container create body (`HostConfig.Mounts`). */
export interface BindMount {
  Type: "bind";
  Source: string;
  Target: string;
  ReadOnly?: boolean;
}

/**
 * The writable paths of a sandbox whose root filesystem is read-only: each a directory of its own
 * disk. `mode` is set on creation; `owner` is the sandbox's uid ("code"), the server's, or root.
 * The server's data (the async tasks' database) lives on the disk too, so it outlives a restart of
 * the container as the workspace does; the /run tmpfs would not.
 */
const PATHS = [
  { dir: "home", target: "/home/coderunner", mode: 0o755, owner: "code" },
  // The image's working directory: made here, or the Engine makes it root's when the container starts.
  { dir: "home/workspace", target: undefined, mode: 0o755, owner: "code" },
  { dir: "app", target: "/app", mode: 0o755, owner: "code" },
  { dir: "tmp", target: "/tmp", mode: 0o1777, owner: "root" },
  { dir: "var-tmp", target: "/var/tmp", mode: 0o1777, owner: "root" },
  { dir: "server-data", target: SERVER_DATA_DIR, mode: 0o700, owner: "server" },
] as const;

export type Run = (argv: string[]) => Promise<{ code: number; output: string }>;

export const runCommand: Run = async (argv) => {
  const child = Bun.spawn(argv, { stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const [code, out, err] = await Promise.all([child.exited, new Response(child.stdout).text(), new Response(child.stderr).text()]);
  return { code, output: `${out}${err}`.trim() };
};

/**
 * One ext4 filesystem per sandbox in a sparse file, loop-mounted on the host and bound into the
 * container at its writable paths (the root filesystem is read-only). Writes past the size fail
 * inside the sandbox with "No space left on device"; the host's disk holds only what was written.
 * Needs root on a Linux host whose Docker Engine sees the host's mounts (not rootless, not a VM).
 *
 * Layout under `dir`: `<name>.img` (the filesystem) and `<name>/` (its mount point).
 */
export class LoopDisks {
  constructor(
    private readonly dir: string,
    private readonly run: Run = runCommand,
  ) {}

  private image(name: string): string {
    return join(this.dir, `${name}.img`);
  }

  private mountPoint(name: string): string {
    return join(this.dir, name);
  }

  /** Bytes used and in all on sandbox `name`'s disk, or undefined when it is not mounted. */
  usage(name: string): { usedBytes: number; totalBytes: number } | undefined {
    const mountPoint = this.mountPoint(name);
    if (!existsSync(mountPoint) || !this.mounted(mountPoint)) return undefined;
    const fs = statfsSync(mountPoint);
    return { usedBytes: (fs.blocks - fs.bfree) * fs.bsize, totalBytes: fs.blocks * fs.bsize };
  }

  /** True when `path` is a mount point now (from /proc/self/mountinfo). */
  private mounted(path: string): boolean {
    const escaped = path.replace(/[ \t\n\\]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, "0")}`);
    return readFileSync("/proc/self/mountinfo", "utf8")
      .split("\n")
      .some((line) => line.split(" ")[4] === escaped);
  }

  /**
   * The disk of sandbox `name` (`bytes` large), created when absent (an existing one, as the default
   * sandbox keeps across restarts, is mounted again), and the binds that put it into the container.
   * Its home and /app belong to `uid` (and the group of that number): the uid the sandbox's code runs as.
   */
  async provision(name: string, bytes: number, uid: number): Promise<BindMount[]> {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const image = this.image(name);
    const mountPoint = this.mountPoint(name);
    try {
      if (!existsSync(image)) {
        const fd = openSync(image, "wx", 0o600);
        try {
          ftruncateSync(fd, bytes);
        } finally {
          closeSync(fd);
        }
        // No reserved blocks (the sandbox gets the whole size); inode tables and journal are
        // initialised lazily, so a 10 GiB disk costs a few MB of the host's until written.
        await this.must(["mkfs.ext4", "-q", "-F", "-m", "0", "-E", "lazy_itable_init=1,lazy_journal_init=1,nodiscard", "-L", "coderunner", image]);
      }
      mkdirSync(mountPoint, { recursive: true, mode: 0o700 });
      if (!this.mounted(mountPoint)) await this.must(["mount", "-o", "loop,nosuid,nodev", image, mountPoint]);
      for (const path of PATHS) {
        const dir = join(mountPoint, path.dir);
        if (existsSync(dir)) continue;
        mkdirSync(dir, { mode: path.mode });
        chmodSync(dir, path.mode);
        if (path.owner === "code") chownSync(dir, uid, uid);
        if (path.owner === "server") chownSync(dir, SERVER_USER.uid, SERVER_USER.gid);
      }
      rmSync(join(mountPoint, "lost+found"), { recursive: true, force: true });
    } catch (error) {
      await this.release(name).catch(() => undefined);
      throw error;
    }
    return PATHS.flatMap((path) => (path.target ? [{ Type: "bind" as const, Source: join(mountPoint, path.dir), Target: path.target }] : []));
  }

  /** Unmounts and deletes sandbox `name`'s disk; nothing to do when it has none. */
  async release(name: string): Promise<void> {
    const mountPoint = this.mountPoint(name);
    if (existsSync(mountPoint) && this.mounted(mountPoint)) {
      // Lazily: a container being removed may hold it for a moment; the loop device goes with the last user.
      await this.must(["umount", "--lazy", mountPoint]);
    }
    rmSync(mountPoint, { recursive: true, force: true });
    rmSync(this.image(name), { force: true });
  }

  /** Names that have a disk here. */
  names(): string[] {
    if (!existsSync(this.dir)) return [];
    return readdirSync(this.dir)
      .filter((file) => file.endsWith(".img"))
      .map((file) => file.slice(0, -".img".length));
  }

  private async must(argv: string[]): Promise<void> {
    let result: { code: number; output: string };
    try {
      result = await this.run(argv);
    } catch (error) {
      throw new Error(`${argv[0]} could not run: ${messageOf(error)}`);
    }
    if (result.code !== 0) throw new Error(`${argv.join(" ")} failed (exit ${result.code}): ${result.output}`);
  }
}
