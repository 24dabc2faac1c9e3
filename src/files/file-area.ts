import { lstatSync, mkdirSync, readdirSync, realpathSync, type Stats, statSync } from "node:fs";
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { AppError } from "../errors";

/**
 * The sandbox's file area (the workspace) as seen by the file routes: turns a client's path into a
 * real path inside it, or refuses. Relative paths resolve in the session's working directory and may
 * not climb out of it; absolute paths must lie inside the workspace. Symlinks are resolved (the
 * deepest existing ancestor's real path is checked), so a link pointing out of the workspace is
 * refused too — whether it is read through, listed through, or written through.
 */

export interface FileEntry {
  name: string;
  path: string;
  type: "file" | "directory" | "symlink" | "other";
  size: number;
  modified_at: string;
}

function invalid(path: string, why: string): AppError {
  return new AppError("INVALID_PATH", `The path ${JSON.stringify(path)} ${why}.`);
}

/** True when `path` is `root` or inside it (both absolute and normalised). */
export function isInside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === "" || (rel !== ".." && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

function errnoOf(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException)?.code;
}

export class FileArea {
  private realRoot: string | undefined;

  /** `workspace` must exist before the first call. */
  constructor(readonly workspace: string) {}

  private get root(): string {
    this.realRoot ??= realpathSync(this.workspace);
    return this.realRoot;
  }

  /**
   * Where `input` points, lexically: relative to `cwd` (which it may not leave), or absolute inside the
   * workspace. Throws INVALID_PATH otherwise. Symlinks are not looked at here.
   */
  lexical(input: string, cwd: string): string {
    if (typeof input !== "string" || input.trim() === "") throw invalid(String(input ?? ""), "is empty");
    if (input.includes("\0")) throw invalid(input.replaceAll("\0", "\\0"), "contains a NUL byte");
    if (isAbsolute(input)) {
      const target = resolve(input);
      if (!isInside(resolve(this.workspace), target) && !isInside(this.root, target)) {
        throw invalid(input, `is outside the sandbox's file area (${this.workspace})`);
      }
      return target;
    }
    const base = resolve(cwd);
    const target = resolve(base, input);
    if (!isInside(base, target)) throw invalid(input, "leaves the session's working directory (paths may not climb out with ..)");
    return target;
  }

  /** The real path of `target` after following every symlink it exists through; must stay inside. */
  private realInside(input: string, target: string): string {
    let existing = target;
    const rest: string[] = [];
    for (;;) {
      try {
        const real = realpathSync(existing);
        if (!isInside(this.root, real)) throw invalid(input, "leads out of the sandbox's file area through a symlink");
        return rest.length ? join(real, ...rest.reverse()) : real;
      } catch (error) {
        if (error instanceof AppError) throw error;
        const code = errnoOf(error);
        if (code !== "ENOENT" && code !== "ENOTDIR") throw invalid(input, `cannot be resolved (${code ?? "error"})`);
        // A dangling symlink names a target that does not exist yet: writing there would create it
        // wherever the link points, so it is refused rather than followed.
        if (lstatExists(existing)?.isSymbolicLink()) throw invalid(input, "is a symlink whose target does not exist");
        const parent = dirname(existing);
        if (parent === existing) throw invalid(input, "cannot be resolved");
        rest.push(basename(existing));
        existing = parent;
      }
    }
  }

  /** An existing file or directory to read: its real path and stats. 404 when missing. */
  forRead(input: string, cwd: string): { path: string; stats: Stats } {
    const target = this.lexical(input, cwd);
    const path = this.realInside(input, target);
    let stats: Stats;
    try {
      stats = statSync(path);
    } catch {
      throw new AppError("FILE_NOT_FOUND", `No file at ${JSON.stringify(input)} in the session's file area.`);
    }
    return { path, stats };
  }

  /**
   * A path to write a file at: the real path of its parent (created when missing) plus its name, or
   * the real target of an existing symlink that stays inside. Refuses a directory.
   */
  forWrite(input: string, cwd: string): string {
    const target = this.lexical(input, cwd);
    if (input.endsWith("/") || target === resolve(cwd)) throw invalid(input, "names a directory, not a file");
    const path = this.realInside(input, target);
    makeDirectory(input, dirname(path));
    // Re-check after creating directories: nothing on the way may have become a link out.
    const parent = this.realInside(input, dirname(path));
    const final = join(parent, basename(path));
    if (lstatExists(final)?.isDirectory()) throw invalid(input, "is a directory; name a file inside it");
    return final;
  }

  /** A directory to write files into, created when missing. */
  directoryForWrite(input: string, cwd: string): string {
    const target = this.lexical(input, cwd);
    const path = this.realInside(input, target);
    makeDirectory(input, path);
    const real = this.realInside(input, path);
    if (!statSync(real).isDirectory()) throw invalid(input, "is a file, not a directory");
    return real;
  }

  /** True when `input` names an existing directory (used to upload into it). */
  isDirectory(input: string, cwd: string): boolean {
    try {
      return this.forRead(input, cwd).stats.isDirectory();
    } catch (error) {
      if (error instanceof AppError && error.code === "FILE_NOT_FOUND") return false;
      throw error;
    }
  }

  /** The entries of a directory (or the one entry of a file), symlinks reported as such. */
  list(input: string, cwd: string): { path: string; entries: FileEntry[] } {
    const { path, stats } = this.forRead(input, cwd);
    if (!stats.isDirectory()) return { path, entries: [entryOf(path, lstatSync(path))] };
    const entries: FileEntry[] = [];
    for (const name of readdirSync(path).sort()) {
      const full = join(path, name);
      const stat = lstatExists(full);
      if (stat) entries.push(entryOf(full, stat));
    }
    return { path, entries };
  }
}

function makeDirectory(input: string, path: string): void {
  try {
    mkdirSync(path, { recursive: true });
  } catch (error) {
    throw invalid(input, `cannot be created: a file is in the way (${errnoOf(error) ?? "error"})`);
  }
}

function lstatExists(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}

function entryOf(path: string, stats: Stats): FileEntry {
  const type = stats.isSymbolicLink() ? "symlink" : stats.isDirectory() ? "directory" : stats.isFile() ? "file" : "other";
  return { name: basename(path), path, type, size: stats.isFile() ? stats.size : 0, modified_at: stats.mtime.toISOString() };
}
