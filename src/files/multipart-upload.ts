import { createWriteStream, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import busboy from "busboy";
import { AppError } from "../errors";

/**
 * Reads a multipart/form-data request with busboy, streaming each file part to a staging file on
 * disk as it arrives (never the whole file in memory), with backpressure from the disk back to the
 * socket. Fields may come before or after the file parts; the caller moves the staged files to
 * their destination once it knows it, or calls `discard()`.
 */

export interface StagedFile {
  /** The part's field name (`file` for the InstaVM SDK). */
  field: string;
  /** The filename the client gave (may contain a relative path for directory uploads). */
  filename: string;
  /** Where the bytes are now. */
  staged: string;
  size: number;
  /** Set once the file was moved to its destination: nothing is left to discard. */
  moved?: boolean;
}

export interface MultipartUpload {
  fields: Record<string, string>;
  files: StagedFile[];
  /** Removes whatever staged files were not moved away (at once, when staged by this process). */
  discard(): Promise<void>;
}

/** One staged file being written: where its bytes go, and when they are safely on disk. */
export interface StagingSink {
  sink: Writable;
  /** Settles once the file is complete (rejects with the reason it could not be written). */
  done: Promise<void>;
}

/** How staged files are written and removed; by default by this process, with node:fs. */
export interface Staging {
  open(path: string): StagingSink;
  remove(paths: string[]): Promise<void> | void;
}

export interface ReceiveOptions {
  /** Directory for staging files; on the destination's filesystem so moving them is a rename. */
  stagingDir: string;
  /** Largest total of file bytes; more is a 413. */
  limitBytes: number;
  /** Writes staged files some other way (as another user); the default creates `stagingDir` and writes with node:fs. */
  staging?: Staging;
}

/** Staging by this process: files written with node:fs into `dir`, created when the first file arrives. */
export function localStaging(dir: string): Staging {
  return {
    open(path) {
      mkdirSync(dir, { recursive: true });
      return { sink: createWriteStream(path), done: Promise.resolve() };
    },
    remove(paths) {
      for (const path of paths) rmSync(path, { force: true });
    },
  };
}

function tooLarge(limit: number): AppError {
  return new AppError("PAYLOAD_TOO_LARGE", `The upload is larger than the limit of ${limit} bytes (CODERUNNER_MAX_UPLOAD_BYTES).`);
}

/** Parses `request` as multipart/form-data into fields and staged files. */
export async function receiveMultipart(request: Request, options: ReceiveOptions): Promise<MultipartUpload> {
  const contentType = request.headers.get("content-type") ?? "";
  if (!/^multipart\/form-data\s*;.*boundary=/i.test(contentType)) {
    throw new AppError("UNSUPPORTED_MEDIA_TYPE", "Send the upload as multipart/form-data with a 'file' part.");
  }
  const declared = Number(request.headers.get("content-length") ?? "0");
  // The body also holds boundaries and small fields; allow for them before refusing up front.
  if (declared > options.limitBytes + 1024 * 1024) throw tooLarge(options.limitBytes);
  if (!request.body) throw new AppError("INVALID_REQUEST", "The upload has no body.");

  const staging = options.staging ?? localStaging(options.stagingDir);
  if (!options.staging) mkdirSync(options.stagingDir, { recursive: true });
  const fields: Record<string, string> = {};
  const files: StagedFile[] = [];
  const writes: Promise<void>[] = [];
  let total = 0;
  let failure: unknown;
  const discard = async () => {
    const left = files.filter((file) => !file.moved).map((file) => file.staged);
    if (left.length) await staging.remove(left);
  };

  let parser: busboy.Busboy;
  try {
    parser = busboy({
      headers: { "content-type": contentType },
      preservePath: true,
      limits: { fileSize: options.limitBytes, fields: 100, fieldSize: 64 * 1024, files: 10_000 },
    });
  } catch (error) {
    throw new AppError("INVALID_REQUEST", `The multipart body cannot be read: ${(error as Error).message}.`);
  }
  /** Disk writes in progress, ended by force when the upload fails (busboy may never end their source). */
  const active = new Set<Writable>();
  let onFailure: () => void = () => undefined;
  const failed = new Promise<void>((resolve) => (onFailure = resolve));
  const fail = (error: unknown) => {
    failure ??= error;
    onFailure();
  };
  parser.on("field", (name, value) => {
    fields[name] = value;
  });
  parser.on("file", (field, stream, info) => {
    const staged = join(options.stagingDir, `${crypto.randomUUID()}.part`);
    const file: StagedFile = { field, filename: info.filename ?? "", staged, size: 0 };
    files.push(file);
    stream.on("data", (chunk: Buffer) => {
      file.size += chunk.length;
      total += chunk.length;
      if (total > options.limitBytes) {
        fail(tooLarge(options.limitBytes));
        stream.destroy();
      }
    });
    stream.on("limit", () => {
      fail(tooLarge(options.limitBytes));
      stream.destroy();
    });
    const { sink, done } = staging.open(staged);
    active.add(sink);
    // The writer's own verdict (say, permission denied) explains a failure better than the broken pipe it causes.
    // Bun's pipeline() can stay pending for good once both ends are destroyed mid-flow (an upload over
    // the limit); the sink's close always comes, so it settles the write too.
    const closed = new Promise<unknown>((resolve) => {
      let error: unknown;
      sink.once("error", (cause) => (error = cause));
      sink.once("close", () => resolve(sink.writableFinished ? undefined : (error ?? new Error("the staged file was closed before the upload ended"))));
    });
    const piped = Promise.race([
      pipeline(stream, sink).then(
        () => undefined,
        (error: unknown) => error,
      ),
      closed,
    ]);
    writes.push(
      Promise.all([piped, done.then(() => undefined, (error: unknown) => error)])
        .then(([pipeError, writeError]) => {
          if (writeError ?? pipeError) fail(writeError ?? pipeError);
        })
        .finally(() => active.delete(sink)),
    );
  });
  const parsed = new Promise<void>((resolve, reject) => {
    parser.on("close", resolve);
    parser.on("error", (error) => reject(new AppError("INVALID_REQUEST", `The multipart body is malformed: ${(error as Error).message}.`)));
  });
  parsed.catch(fail);

  const reader = request.body.getReader();
  try {
    for (;;) {
      if (failure) break;
      const { done, value } = await reader.read();
      if (done) break;
      if (!parser.write(value)) {
        await Promise.race([new Promise((resolve) => parser.once("drain", resolve)), failed]);
      }
    }
    if (!failure) {
      parser.end();
      await Promise.race([parsed.catch(() => undefined), failed]);
    }
    if (failure) {
      await reader.cancel().catch(() => undefined);
      for (const sink of active) sink.destroy(new Error("upload abandoned"));
    }
    await Promise.all(writes);
  } catch (error) {
    fail(error);
  }
  if (failure) {
    parser.destroy();
    await discard();
    throw failure instanceof AppError ? failure : new AppError("INVALID_REQUEST", `The upload could not be read: ${(failure as Error)?.message ?? failure}.`, { cause: failure });
  }
  return { fields, files, discard };
}
