import { renameSync } from "node:fs";
import { basename, isAbsolute, join } from "node:path";
import { Elysia } from "elysia";
import { AppError } from "../../errors";
import { base64JSONResponse } from "../../files/base64-download";
import type { FileArea } from "../../files/file-area";
import { type MultipartUpload, receiveMultipart, type StagedFile } from "../../files/multipart-upload";
import type { SessionStore } from "../../kernels/session-store";
import { errors } from "../models/common";
import { DownloadBody, Downloaded, Listing, ListQuery, Uploaded } from "../models/files";

export interface FileRoutesOptions {
  area: FileArea;
  sessions: SessionStore;
  /** Largest upload (all files together) and largest download. */
  maxBytes: number;
  /** Where uploads are staged while they stream in (inside the workspace). */
  stagingDir: string;
}

const truthy = (value: string | undefined) => /^(1|true|yes|on)$/i.test(value ?? "");

/** A client's filename for a file in a recursive upload: relative, without `..`. */
function relativeName(file: StagedFile): string {
  const name = file.filename.replaceAll("\\", "/");
  if (!name || isAbsolute(name) || name.split("/").some((part) => part === ".." )) {
    throw new AppError("INVALID_PATH", `The uploaded file name ${JSON.stringify(file.filename)} must be a relative path without '..'.`);
  }
  return name;
}

/**
 * Moves staged files to where the request says. One file: `remote_path` is the file to write (or an
 * existing directory, or one ending in `/`, to write it into under its own name); without
 * `remote_path` it lands in the working directory under its own name. `recursive=true` uploads a
 * directory: every file part goes under `remote_path` (default `.`) at its relative filename.
 * Parent directories are created as needed.
 */
function place(upload: MultipartUpload, area: FileArea, cwd: string): typeof Uploaded.static {
  const remote = upload.fields.remote_path?.trim() || undefined;
  const recursive = truthy(upload.fields.recursive);
  const files = upload.files;
  if (files.length === 0) throw new AppError("VALIDATION_ERROR", "Missing the multipart part 'file' (the file to upload).");
  if (files.length > 1 && !recursive) {
    throw new AppError("VALIDATION_ERROR", "Several files were sent: upload one file, or set recursive=true to upload a directory.");
  }
  if (recursive) {
    const dir = area.directoryForWrite(remote ?? ".", cwd);
    const targets = files.map((file) => ({ file, path: area.forWrite(join(dir, relativeName(file)), cwd) }));
    for (const { file, path } of targets) renameSync(file.staged, path);
    return { success: true, path: dir, size: files.reduce((sum, file) => sum + file.size, 0), files: targets.map(({ file, path }) => ({ path, size: file.size })) };
  }
  const file = files[0]!;
  const ownName = () => {
    const name = basename(file.filename.replaceAll("\\", "/"));
    if (!name || name === "." || name === "..") throw new AppError("VALIDATION_ERROR", "Give remote_path, or a filename on the 'file' part.");
    return name;
  };
  let destination: string;
  if (!remote) destination = ownName();
  else if (remote.endsWith("/") || area.isDirectory(remote, cwd)) destination = join(area.directoryForWrite(remote, cwd), ownName());
  else destination = remote;
  const path = area.forWrite(destination, cwd);
  renameSync(file.staged, path);
  return { success: true, path, size: file.size, files: [{ path, size: file.size }] };
}

/** `POST /upload`, `POST /download` and `GET /files`, confined to the workspace. */
export function fileRoutes(options: FileRoutesOptions) {
  const { area, sessions } = options;
  return new Elysia({ name: "files" })
    .post(
      "/upload",
      async ({ request }) => {
        const upload = await receiveMultipart(request, { stagingDir: options.stagingDir, limitBytes: options.maxBytes });
        try {
          const session = await sessions.resolve(upload.fields.session_id || undefined);
          return place(upload, area, session.dir);
        } finally {
          upload.discard();
        }
      },
      {
        // A parser that leaves the body unread, so busboy can stream it (Elysia would buffer it with formData()).
        parse: () => ({}),
        response: { 200: Uploaded, ...errors(400, 404, 413, 415, 422) },
        detail: {
          tags: ["Files"],
          summary: "Upload a file (multipart: file, remote_path, session_id, recursive)",
          description:
            "Streams to disk. Relative remote_path resolves in the session's working directory; absolute paths must be inside the workspace; paths that leave it (.., symlinks) are a 400. recursive=true uploads several file parts as a directory under remote_path. Parent directories are created.",
          requestBody: {
            content: {
              "multipart/form-data": {
                schema: {
                  type: "object",
                  required: ["file"],
                  properties: {
                    file: { type: "string", format: "binary" },
                    remote_path: { type: "string" },
                    session_id: { type: "string" },
                    recursive: { type: "string", enum: ["true", "false"] },
                  },
                },
              },
            },
          },
        },
      },
    )
    .post(
      "/download",
      async ({ body }) => {
        const session = await sessions.resolve(body.session_id);
        const { path, stats } = area.forRead(body.filename, session.dir);
        if (stats.isDirectory()) throw new AppError("INVALID_PATH", `${JSON.stringify(body.filename)} is a directory; list it with GET /files.`);
        if (stats.size > options.maxBytes) {
          throw new AppError("PAYLOAD_TOO_LARGE", `The file is ${stats.size} bytes, more than the limit of ${options.maxBytes} (CODERUNNER_MAX_UPLOAD_BYTES).`);
        }
        return base64JSONResponse(path, { filename: body.filename, path });
      },
      {
        body: DownloadBody,
        response: { 200: Downloaded, ...errors(400, 404, 413, 422) },
        detail: { tags: ["Files"], summary: "Download a file as base64 (form-encoded or JSON: filename, session_id)" },
      },
    )
    .get(
      "/files",
      async ({ query }) => {
        const session = await sessions.resolve(query.session_id);
        return area.list(query.path || ".", session.dir);
      },
      {
        query: ListQuery,
        response: { 200: Listing, ...errors(400, 404, 422) },
        detail: { tags: ["Files"], summary: "List a directory of the session's file area" },
      },
    );
}
