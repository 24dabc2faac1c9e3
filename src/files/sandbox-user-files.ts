import { isAbsolute, join, resolve } from "node:path";
import { Writable } from "node:stream";
import { AppError } from "../errors";
import { isInside, type FileEntry } from "./file-area";
import { FILE_HELPER } from "./file-helper";
import { type Helper, HelperPool } from "./helper-pool";
import { type Download, type FileService, type Listing, ownName, type Placed, placementOf, relativeName } from "./file-service";
import type { MultipartUpload, Staging, StagingSink } from "./multipart-upload";

/**
 * Files done as the sandbox user, for a confined sandbox: every operation is done by a helper
 * process (`FILE_HELPER`) running as that user, so the kernel decides what may be read or written,
 * with that user's rights and none of the server's. Any absolute path the user may use is allowed (/app,
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
  /** The perl interpreter (perl-base's). */
  perl?: string;
  /** How long a helper may take to start answering (opening a file, say) before it is ended. */
  answerTimeoutMs?: number;
}

/** The helpers' environment: nothing of the server's, messages in English. */
const HELPER_ENV = { PATH: "/usr/bin:/bin", LC_ALL: "C" };
const PLACE_BATCH = 500;
/** Largest answer body gathered in memory (a listing, the paths of a placement). */
const MAX_ANSWER = 64 * 1024 * 1024;

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

export class SandboxUserFiles implements FileService {
  readonly stagingDir: string;
  readonly staging: Staging;
  private readonly pool: HelperPool;
  private readonly timeoutMs: number;

  constructor(private readonly options: SandboxUserFilesOptions) {
    this.stagingDir = options.stagingDir;
    this.timeoutMs = options.answerTimeoutMs ?? 30_000;
    this.pool = new HelperPool({ argv: options.asUser([options.perl ?? "/usr/bin/perl", "-e", FILE_HELPER]), env: HELPER_ENV });
    this.staging = {
      open: (path) => this.stage(path),
      remove: (paths) => this.remove(paths),
    };
  }

  /** Starts a helper ahead of the first request, so the first download is as quick as the next. */
  start(): void {
    this.pool.warm();
  }

  /** Ends every helper. */
  stop(): void {
    this.pool.stop();
  }

  /**
   * Sends one request and reads its header: `ok` gives the helper (still busy with the body) and
   * the header's word and length; `error` becomes the matching AppError. A pooled helper that turns
   * out to have ended (user code may kill its processes) is replaced once, for requests that
   * change nothing or can be repeated.
   */
  private async request(op: string, args: string[], input: string, action: Action): Promise<{ helper: Helper; word: string; length: number }> {
    const repeatable = op === "read" || op === "list" || op === "mkdir" || op === "remove";
    for (let attempt = 0; ; attempt++) {
      const { helper, fresh } = this.pool.acquire();
      let line: string;
      try {
        helper.send(op, args);
        line = await helper.line(this.timeoutMs);
      } catch (error) {
        this.pool.discard(helper);
        if (!fresh && repeatable && attempt === 0) continue;
        throw new AppError("INVALID_PATH", `The path ${JSON.stringify(input)} could not be used: the file helper ${helper.alive ? "broke the protocol" : `ended (within ${this.timeoutMs} ms)`}.`, { cause: error });
      }
      if (line.startsWith("error ")) {
        this.pool.release(helper);
        throw helperError(line, input, action, this.options.userName);
      }
      const match = /^ok (\S+) (\d+)$/.exec(line);
      if (!match) {
        this.pool.discard(helper);
        throw new AppError("INVALID_PATH", `The path ${JSON.stringify(input)} could not be used: the file helper answered ${JSON.stringify(line.slice(0, 80))}.`);
      }
      return { helper, word: match[1]!, length: Number(match[2]) };
    }
  }

  /** A request whose whole answer body is small: gathered, and the helper given back. */
  private async small(op: string, args: string[], input: string, action: Action): Promise<{ word: string; body: Buffer }> {
    const { helper, word, length } = await this.request(op, args, input, action);
    if (length > MAX_ANSWER) {
      this.pool.discard(helper);
      throw new AppError("INVALID_PATH", `The answer for ${JSON.stringify(input)} is too large (${length} bytes).`);
    }
    try {
      const body = await helper.exactly(length);
      this.pool.release(helper);
      return { word, body };
    } catch (error) {
      this.pool.discard(helper);
      throw new AppError("INVALID_PATH", `The path ${JSON.stringify(input)} could not be used: the file helper ended.`, { cause: error });
    }
  }

  async openForDownload(input: string, cwd: string, maxBytes: number): Promise<Download> {
    const path = resolveInput(input, cwd);
    const { helper, length: size } = await this.request("read", [path], input, "read");
    if (size > maxBytes) {
      this.pool.discard(helper); // the file is on its way: end it rather than drain it
      throw new AppError("PAYLOAD_TOO_LARGE", `The file is ${size} bytes, more than the limit of ${maxBytes} (CODERUNNER_MAX_UPLOAD_BYTES).`);
    }
    const pool = this.pool;
    async function* bytes(): AsyncGenerator<Uint8Array> {
      let complete = false;
      try {
        yield* helper.bytes(size);
        complete = true;
      } finally {
        // Given back only when the whole file went out; a download cut short ends its helper.
        if (complete) pool.release(helper);
        else pool.discard(helper);
      }
    }
    return { path, size, source: bytes() };
  }

  async list(input: string, cwd: string): Promise<Listing> {
    const path = resolveInput(input, cwd);
    const { word, body } = await this.small("list", [path], input, "list");
    return { path, entries: parseEntries(body, path, word === "file" ? path : undefined) };
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
      const { body } = await this.small("place", [start === 0 ? dir : "", ...batch.flat()], shown, "write");
      placed.push(...body.toString("utf8").split("\0").slice(0, batch.length));
      for (const file of files.slice(start, start + batch.length)) file.moved = true;
    }
    const written = files.map((file, index) => ({ path: placed[index] ?? triples[index]![1], size: file.size }));
    const total = files.reduce((sum, file) => sum + file.size, 0);
    return { success: true, path: recursive ? dir : written[0]!.path, size: total, files: written };
  }

  /** Creates a directory and its parents as the sandbox user. */
  async makeDirectory(path: string): Promise<void> {
    await this.small("mkdir", [path], path, "create");
  }

  /** Removes a file or directory tree as the sandbox user (what it may not remove stays). */
  async removeTree(path: string): Promise<void> {
    await this.remove([path]);
  }

  private async remove(paths: string[]): Promise<void> {
    if (paths.length) await this.small("remove", paths, paths[0]!, "write");
  }

  /** A staged upload written by a helper from framed bytes (parents created, never through a symlink). */
  private stage(path: string): StagingSink {
    const { helper } = this.pool.acquire();
    let sink: Writable;
    try {
      helper.send("stage", [path]);
      sink = helper.frames();
    } catch (error) {
      this.pool.discard(helper);
      sink = new Writable({ write: (_chunk, _encoding, callback) => callback() });
      return { sink, done: Promise.reject(new AppError("INVALID_PATH", "The upload could not be staged: the file helper ended.", { cause: error })) };
    }
    const done = (async () => {
      let line: string;
      try {
        // No time limit: the header comes after the last byte, however long the upload takes.
        line = await helper.line(2 ** 31 - 1);
      } catch (error) {
        this.pool.discard(helper);
        throw new AppError("INVALID_PATH", "The upload could not be staged: the file helper ended.", { cause: error });
      }
      if (/^ok \d+ 0$/.test(line)) return this.pool.release(helper);
      if (line.startsWith("error ")) {
        this.pool.release(helper);
        throw helperError(line, path, "write", this.options.userName);
      }
      this.pool.discard(helper);
      throw new AppError("INVALID_PATH", "The upload could not be staged.");
    })();
    done.catch(() => undefined);
    // An upload abandoned half-way leaves the helper waiting for frames: end it.
    sink.on("error", () => this.pool.discard(helper));
    return { sink, done };
  }
}
