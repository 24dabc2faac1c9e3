import { spawn } from "node:child_process";
import { isAbsolute, join, resolve } from "node:path";
import { AppError, messageOf } from "../errors";
import { isInside, type FileEntry } from "./file-area";
import { FILE_HELPER } from "./file-helper";
import { type Download, type FileService, type Listing, ownName, type Placed, placementOf, relativeName } from "./file-service";
import type { MultipartUpload, Staging, StagingSink } from "./multipart-upload";

/**
 * Files done as the sandbox user, for a confined sandbox: every operation is one short-lived
 * process (`FILE_HELPER`) under that user, so the kernel decides what may be read or written, with
 * that user's rights and none of the server's. Any absolute path the user may use is allowed (/app,
 * /tmp, ...); a relative path resolves in the session's working directory and may not climb out of
 * it with `..`. Uploads stream into the helper's stdin, never whole in memory.
 */

export interface SandboxUserFilesOptions {
  /** The argv that runs `argv` as the sandbox user (`asUser` with the sandbox account). */
  asUser(argv: string[]): string[];
  /** Who the sandbox user is, for messages: `coderunner (uid 1000)`. */
  userName: string;
  /** Where uploads are staged (as the sandbox user) while they arrive. */
  stagingDir: string;
  perl?: string;
  /** How long opening a file may take before the download is given up. */
  openTimeoutMs?: number;
}

/** The helpers' environment: nothing of the server's, messages in English. */
const HELPER_ENV = { PATH: "/usr/bin:/bin", LC_ALL: "C" };
const PLACE_BATCH = 500;

type Action = "read" | "write" | "list" | "create";

/** A path from a client: absolute as given, or relative to `cwd` without climbing out of it. */
export function resolveInput(input: string, cwd: string): string {
  const invalid = (why: string) => new AppError("INVALID_PATH", `The path ${JSON.stringify(input)} ${why}.`);
  if (typeof input !== "string" || input.trim() === "") throw invalid("is empty");
  if (input.includes("\0")) throw new AppError("INVALID_PATH", `The path ${JSON.stringify(input.replaceAll("\0", "\\0"))} contains a NUL byte.`);
  if (isAbsolute(input)) return resolve(input);
  const base = resolve(cwd);
  const target = resolve(base, input);
  if (!isInside(base, target)) throw invalid("leaves the session's working directory (paths may not climb out with ..)");
  return target;
}

/** The AppError for a helper's `error <ERRNO> <message>` line. */
export function helperError(line: string, input: string, action: Action, user: string): AppError {
  const match = /^error (\S+) (.*)$/.exec(line.trim());
  const errno = match?.[1] ?? "EIO";
  const detail = match?.[2] ?? (line.trim() || "no answer");
  const shown = JSON.stringify(input);
  switch (errno) {
    case "ENOENT":
      return new AppError("FILE_NOT_FOUND", `No file at ${shown}.`);
    case "EACCES":
    case "EPERM":
      return new AppError("FORBIDDEN", `Permission denied: the sandbox user ${user} may not ${action} ${shown}.`);
    case "EROFS":
      return new AppError("FORBIDDEN", `${shown} is on a read-only filesystem: the sandbox user ${user} may not ${action} it.`);
    case "EISDIR":
      return new AppError("INVALID_PATH", action === "read" ? `${shown} is a directory; list it with GET /files.` : `${shown} is a directory; name a file inside it.`);
    case "ENOTDIR":
    case "EEXIST":
      return new AppError("INVALID_PATH", `The path ${shown} cannot be used: a file is in the way where a directory should be.`);
    case "ENOTREG":
      return new AppError("INVALID_PATH", `${shown} is not a regular file (a device, FIFO or socket).`);
    case "ELOOP":
      return new AppError("INVALID_PATH", `The path ${shown} has too many levels of symlinks.`);
    case "ENAMETOOLONG":
      return new AppError("INVALID_PATH", `The path ${shown} is too long.`);
    case "ENOSPC":
    case "EDQUOT":
      return new AppError("PAYLOAD_TOO_LARGE", `No space left for ${shown}: the sandbox's disk is full.`);
    default:
      return new AppError("INVALID_PATH", `The path ${shown} cannot be used (${errno}: ${detail}).`);
  }
}

const TYPES: Record<string, FileEntry["type"]> = { f: "file", d: "directory", l: "symlink", o: "other" };

/** The entries a `list` answer carries after its header (NUL-separated type, size, mtime, name). */
export function parseEntries(body: Uint8Array, dir: string, single: string | undefined): FileEntry[] {
  const fields = new TextDecoder().decode(body).split("\0");
  const entries: FileEntry[] = [];
  for (let i = 0; i + 3 < fields.length; i += 4) {
    const [type, size, mtime, name] = fields.slice(i, i + 4) as [string, string, string, string];
    const seconds = Number(mtime);
    entries.push({
      name,
      path: single ?? join(dir, name),
      type: TYPES[type] ?? "other",
      size: Number(size) || 0,
      modified_at: new Date(Number.isFinite(seconds) ? seconds * 1000 : 0).toISOString(),
    });
  }
  return entries;
}

function firstLine(bytes: Uint8Array): { line: string; rest: Uint8Array } | undefined {
  const at = bytes.indexOf(10);
  if (at < 0) return undefined;
  return { line: new TextDecoder().decode(bytes.subarray(0, at)), rest: bytes.subarray(at + 1) };
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const joined = new Uint8Array(a.length + b.length);
  joined.set(a);
  joined.set(b, a.length);
  return joined;
}

export class SandboxUserFiles implements FileService {
  readonly stagingDir: string;
  readonly staging: Staging;
  private readonly perl: string;

  constructor(private readonly options: SandboxUserFilesOptions) {
    this.stagingDir = options.stagingDir;
    this.perl = options.perl ?? "/usr/bin/perl";
    this.staging = {
      open: (path) => this.stage(path),
      remove: (paths) => this.removeFiles(paths),
    };
  }

  private helper(args: string[]): string[] {
    return this.options.asUser([this.perl, "-e", FILE_HELPER, "--", ...args]);
  }

  /** Runs a helper to its end: its exit code and everything it printed. */
  private async run(argv: string[]): Promise<{ code: number; stdout: Uint8Array; stderr: string }> {
    const proc = Bun.spawn(argv, { cwd: "/", env: HELPER_ENV, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).bytes(), new Response(proc.stderr).text(), proc.exited]);
    return { code, stdout, stderr };
  }

  /** Runs a helper operation and returns its answer after the `ok` line; an `error` line becomes the matching AppError. */
  private async answer(args: string[], input: string, action: Action): Promise<{ header: string; body: Uint8Array }> {
    const { stdout, stderr } = await this.run(this.helper(args));
    const first = firstLine(stdout);
    if (first?.line.startsWith("ok")) return { header: first.line, body: first.rest };
    if (first?.line.startsWith("error ")) throw helperError(first.line, input, action, this.options.userName);
    throw new AppError("INVALID_PATH", `The path ${JSON.stringify(input)} could not be used: ${stderr.trim() || "the file helper gave no answer"}.`);
  }

  async openForDownload(input: string, cwd: string, maxBytes: number): Promise<Download> {
    const path = resolveInput(input, cwd);
    const proc = Bun.spawn(this.helper(["read", path]), { cwd: "/", env: HELPER_ENV, stdin: "ignore", stdout: "pipe", stderr: "ignore" });
    const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader();
    const give = (error: AppError): never => {
      proc.kill("SIGKILL");
      void reader.cancel().catch(() => undefined);
      throw error;
    };
    let buffered: Uint8Array = new Uint8Array(0);
    let head: ReturnType<typeof firstLine>;
    const timeout = this.options.openTimeoutMs ?? 30_000;
    const timer = setTimeout(() => proc.kill("SIGKILL"), timeout);
    try {
      while (!(head = firstLine(buffered)) && buffered.length < 4096) {
        const { value, done } = await reader.read();
        if (done) break;
        buffered = concat(buffered, value);
      }
    } finally {
      clearTimeout(timer);
    }
    if (!head) return give(new AppError("INVALID_PATH", `The file ${JSON.stringify(input)} could not be opened (within ${timeout} ms).`));
    if (head.line.startsWith("error ")) return give(helperError(head.line, input, "read", this.options.userName));
    const size = Number(/^ok (\d+)$/.exec(head.line)?.[1] ?? NaN);
    if (!Number.isSafeInteger(size)) return give(new AppError("INVALID_PATH", `The file ${JSON.stringify(input)} could not be read.`));
    if (size > maxBytes) {
      return give(new AppError("PAYLOAD_TOO_LARGE", `The file is ${size} bytes, more than the limit of ${maxBytes} (CODERUNNER_MAX_UPLOAD_BYTES).`));
    }
    const first = head.rest;
    async function* bytes(): AsyncGenerator<Uint8Array> {
      try {
        if (first.length) yield first;
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return;
          yield value;
        }
      } finally {
        if (proc.exitCode === null) proc.kill("SIGKILL");
        reader.releaseLock();
      }
    }
    return { path, size, source: bytes() };
  }

  async list(input: string, cwd: string): Promise<Listing> {
    const path = resolveInput(input, cwd);
    const { header, body } = await this.answer(["list", path], input, "list");
    return { path, entries: parseEntries(body, path, header === "ok file" ? path : undefined) };
  }

  async place(upload: MultipartUpload, cwd: string): Promise<Placed> {
    const { remote, recursive, files } = placementOf(upload);
    let dir = "";
    let triples: [string, string, string][];
    if (recursive) {
      dir = resolveInput(remote ?? ".", cwd);
      triples = files.map((file) => [file.staged, join(dir, relativeName(file)), ""]);
    } else {
      const file = files[0]!;
      if (!remote) triples = [[file.staged, join(resolve(cwd), ownName(file)), ""]];
      else if (remote.endsWith("/")) triples = [[file.staged, join(resolveInput(remote, cwd), ownName(file)), ""]];
      else {
        let name = "";
        try {
          name = ownName(file);
        } catch {
          // No usable filename: fine unless remote_path names a directory (the helper then refuses).
        }
        triples = [[file.staged, resolveInput(remote, cwd), name]];
      }
    }
    const placed: string[] = [];
    const shown = remote ?? (recursive ? "." : files[0]!.filename);
    for (let start = 0; start < triples.length; start += PLACE_BATCH) {
      const batch = triples.slice(start, start + PLACE_BATCH);
      const { body } = await this.answer(["place", start === 0 ? dir : "", ...batch.flat()], shown, "write");
      const paths = new TextDecoder().decode(body).split("\0").slice(0, batch.length);
      placed.push(...paths);
      for (const file of files.slice(start, start + batch.length)) file.moved = true;
    }
    const sizes = files.map((file, index) => ({ path: placed[index] ?? triples[index]![1], size: file.size }));
    const total = files.reduce((sum, file) => sum + file.size, 0);
    return { success: true, path: recursive ? dir : sizes[0]!.path, size: total, files: sizes };
  }

  /** Creates a directory and its parents as the sandbox user. */
  async makeDirectory(path: string): Promise<void> {
    await this.answer(["mkdir", path], path, "create");
  }

  /** Removes a directory tree as the sandbox user (what it may not remove stays). */
  async removeTree(path: string): Promise<void> {
    await this.run(this.options.asUser(["/bin/rm", "-rf", "--", path]));
  }

  private async removeFiles(paths: string[]): Promise<void> {
    if (paths.length) await this.run(this.options.asUser(["/bin/rm", "-f", "--", ...paths]));
  }

  /** A staged upload written by the helper from its stdin (parents created, never through a symlink). */
  private stage(path: string): StagingSink {
    const [command, ...args] = this.helper(["stage", path]);
    const child = spawn(command!, args, {
      cwd: "/",
      env: HELPER_ENV,
      stdio: ["pipe", "pipe", "ignore"],
    });
    const out: Buffer[] = [];
    child.stdout!.on("data", (chunk: Buffer) => out.push(chunk));
    const done = new Promise<void>((resolvePromise, reject) => {
      child.on("error", (error) => reject(new AppError("INVALID_PATH", `The upload could not be staged: ${messageOf(error)}.`, { cause: error })));
      child.on("close", () => {
        const line = Buffer.concat(out).toString("utf8").split("\n")[0] ?? "";
        if (line.startsWith("ok ")) resolvePromise();
        else reject(line.startsWith("error ") ? helperError(line, path, "write", this.options.userName) : new AppError("INVALID_PATH", "The upload could not be staged."));
      });
    });
    done.catch(() => undefined);
    // A helper that ended early (say, refused to write) breaks the pipe: the upload then fails with its reason.
    child.stdin!.on("error", () => undefined);
    return { sink: child.stdin!, done };
  }
}
