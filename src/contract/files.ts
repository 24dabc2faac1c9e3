import { t } from "elysia";
import type { OpenAPIV3 } from "openapi-types";

/**
 * Body of `POST /upload`, as an OpenAPI schema: the route streams the multipart body itself (busboy),
 * so no TypeBox schema validates it; this documents it.
 */
// `satisfies`, not a type annotation: the SDK's type declarations then need no openapi-types.
export const UploadForm = {
  type: "object" as const,
  required: ["file"],
  properties: {
    file: { type: "string" as const, format: "binary" },
    remote_path: { type: "string" as const },
    session_id: { type: "string" as const },
    recursive: { type: "string" as const, enum: ["true", "false"] },
  },
} satisfies OpenAPIV3.SchemaObject;

/** Answer of `POST /upload`. */
export const Uploaded = t.Object({
  success: t.Boolean(),
  path: t.String({ description: "Absolute path of the file (or, for a recursive upload, the directory) written." }),
  size: t.Number({ description: "Bytes written (all files together for a recursive upload)." }),
  files: t.Array(t.Object({ path: t.String(), size: t.Number() }), { description: "Each file written." }),
});

/** Body of `POST /download`: form-encoded (as the InstaVM SDK sends it) or JSON. */
export const DownloadBody = t.Object({
  filename: t.String({ description: "File to read: relative to the session's working directory, or absolute inside the workspace." }),
  session_id: t.Optional(t.Nullable(t.String({ description: "Absent: the default session." }))),
});

export const Downloaded = t.Object({
  filename: t.String(),
  path: t.String({ description: "Absolute path of the file read." }),
  content: t.String({ description: "The file's bytes, base64." }),
  size: t.Number({ description: "Bytes in the file." }),
});

export const ListQuery = t.Object({
  session_id: t.Optional(t.String({ description: "Absent: the default session." })),
  path: t.Optional(t.String({ description: "Directory to list; default the session's working directory." })),
});

export const FileEntry = t.Object({
  name: t.String(),
  path: t.String(),
  type: t.Union([t.Literal("file"), t.Literal("directory"), t.Literal("symlink"), t.Literal("other")]),
  size: t.Number(),
  modified_at: t.String(),
});

export const Listing = t.Object({ path: t.String(), entries: t.Array(FileEntry) });

// The TypeScript types, derived from the schemas above (each named as its schema).
export type Uploaded = typeof Uploaded.static;
export type DownloadBody = typeof DownloadBody.static;
export type Downloaded = typeof Downloaded.static;
export type ListQuery = typeof ListQuery.static;
export type FileEntry = typeof FileEntry.static;
export type Listing = typeof Listing.static;
