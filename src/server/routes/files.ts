import { Elysia } from "elysia";
import { base64JSONResponse } from "../../files/base64-download";
import type { FileService } from "../../files/file-service";
import { receiveMultipart } from "../../files/multipart-upload";
import type { SessionStore } from "../../kernels/session-store";
import { errors } from "../../contract/common";
import { DownloadBody, Downloaded, Listing, ListQuery, UploadForm, Uploaded } from "../../contract/files";

export interface FileRoutesOptions {
  files: FileService;
  sessions: SessionStore;
  /** Largest upload (all files together) and largest download. */
  maxBytes: number;
}

/** `POST /upload`, `POST /download` and `GET /files`, with the rights `files` gives (see `FileService`). */
export function fileRoutes(options: FileRoutesOptions) {
  const { files, sessions } = options;
  return new Elysia({ name: "files" })
    .post(
      "/upload",
      async ({ request }) => {
        const upload = await receiveMultipart(request, { stagingDir: files.stagingDir, staging: files.staging, limitBytes: options.maxBytes });
        try {
          const session = await sessions.resolve(upload.fields.session_id || undefined);
          return await files.place(upload, session.dir);
        } finally {
          await upload.discard();
        }
      },
      {
        // A parser that leaves the body unread, so busboy can stream it (Elysia would buffer it with formData()).
        parse: () => ({}),
        response: { 200: Uploaded, ...errors(400, 403, 404, 413, 415, 422) },
        detail: {
          tags: ["Files"],
          summary: "Upload a file (multipart: file, remote_path, session_id, recursive)",
          description:
            "Streams to disk. Relative remote_path resolves in the session's working directory and may not climb out of it (.. is a 400). Absolute paths must be inside the workspace (symlinks leading out are a 400), except in a confined sandbox, where any path the sandbox user may write is allowed and one it may not is a 403. recursive=true uploads several file parts as a directory under remote_path. Parent directories are created.",
          requestBody: {
            content: {
              "multipart/form-data": {
                schema: UploadForm,
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
        const { path, source } = await files.openForDownload(body.filename, session.dir, options.maxBytes);
        return base64JSONResponse(source, { filename: body.filename, path });
      },
      {
        body: DownloadBody,
        response: { 200: Downloaded, ...errors(400, 403, 404, 413, 422) },
        detail: { tags: ["Files"], summary: "Download a file as base64 (form-encoded or JSON: filename, session_id)" },
      },
    )
    .get(
      "/files",
      async ({ query }) => {
        const session = await sessions.resolve(query.session_id);
        return files.list(query.path || ".", session.dir);
      },
      {
        query: ListQuery,
        response: { 200: Listing, ...errors(400, 403, 404, 422) },
        detail: { tags: ["Files"], summary: "List a directory of the session's file area" },
      },
    );
}
