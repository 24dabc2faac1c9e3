import { basename, isAbsolute } from "node:path";
import { AppError } from "../errors";
import type { FileEntry } from "./file-area";
import type { MultipartUpload, StagedFile, Staging } from "./multipart-upload";

/**
 * What the file routes (`/upload`, `/download`, `/files`) need from the filesystem. Two kinds:
 * `WorkspaceFiles`, where the server does the I/O itself inside the workspace (a sandbox where server
 * and code share one user), and `SandboxUserFiles`, where every operation runs as the sandbox user
 * (a confined sandbox: the server never touches the user's files with its own rights).
 */
export interface FileService {
  /** Where multipart uploads are staged while they stream in, and how. */
  readonly stagingDir: string;
  readonly staging: Staging;
  /** An existing regular file to send, at most `maxBytes` long (else a 413). */
  openForDownload(input: string, cwd: string, maxBytes: number): Promise<Download>;
  /** The entries of a directory, or the one entry of a file. */
  list(input: string, cwd: string): Promise<Listing>;
  /** Moves the staged files of `upload` where its fields say; see `placementOf`. */
  place(upload: MultipartUpload, cwd: string): Promise<Placed>;
}

export interface Download {
  /** The file's path as the answer reports it. */
  path: string;
  size: number;
  /** A path the server may read itself, or the bytes as they come. */
  source: string | AsyncIterable<Uint8Array>;
}

export interface Listing {
  path: string;
  entries: FileEntry[];
}

export interface Placed {
  success: true;
  path: string;
  size: number;
  files: { path: string; size: number }[];
}

export const truthy = (value: string | undefined) => /^(1|true|yes|on)$/i.test(value ?? "");

/** A client's filename for a file in a recursive upload: relative, without `..`. */
export function relativeName(file: StagedFile): string {
  const name = file.filename.replaceAll("\\", "/");
  if (!name || isAbsolute(name) || name.split("/").some((part) => part === "..")) {
    throw new AppError("INVALID_PATH", `The uploaded file name ${JSON.stringify(file.filename)} must be a relative path without '..'.`);
  }
  return name;
}

/** The name a single uploaded file goes by when `remote_path` names a directory (or is absent). */
export function ownName(file: StagedFile): string {
  const name = basename(file.filename.replaceAll("\\", "/"));
  if (!name || name === "." || name === "..") throw new AppError("VALIDATION_ERROR", "Give remote_path, or a filename on the 'file' part.");
  return name;
}

/**
 * What an upload asks for. One file: `remote_path` is the file to write (or an existing directory,
 * or one ending in `/`, to write it into under its own name); without `remote_path` it lands in the
 * working directory under its own name. `recursive=true` uploads a directory: every file part goes
 * under `remote_path` (default `.`) at its relative filename.
 */
export function placementOf(upload: MultipartUpload): { remote: string | undefined; recursive: boolean; files: StagedFile[] } {
  const remote = upload.fields.remote_path?.trim() || undefined;
  const recursive = truthy(upload.fields.recursive);
  const files = upload.files;
  if (files.length === 0) throw new AppError("VALIDATION_ERROR", "Missing the multipart part 'file' (the file to upload).");
  if (files.length > 1 && !recursive) {
    throw new AppError("VALIDATION_ERROR", "Several files were sent: upload one file, or set recursive=true to upload a directory.");
  }
  return { remote, recursive, files };
}
