import { posix } from "node:path";
import { E2BError } from "./errors";
import { toE2BPath, toSandboxPath } from "./paths";
import type { E2BRegistry } from "./registry";

/**
 * envd's `/files`: `GET` reads a file's bytes, `POST` writes the multipart parts (each part's
 * filename is its path, or the `path` query names the one file), parents created, files
 * overwritten. Both go through the sandbox's own `/download` and `/upload`, as the sandbox user.
 */
export class FilesHTTP {
  constructor(private readonly registry: E2BRegistry) {}

  async read(id: string, url: URL): Promise<Response> {
    const { session } = this.registry.get(id);
    const path = toSandboxPath(url.searchParams.get("path") ?? undefined);
    const info = await session.api
      .json<{ content: string }>("POST", "/download", { filename: path, session_id: session.id }, 120_000)
      .catch((error: { status?: number; message?: string }) => {
        if (error.status === 404) throw new E2BError(404, `${toE2BPath(path)}: no such file.`);
        throw error;
      });
    const bytes = Buffer.from(info.content, "base64");
    return new Response(bytes, { headers: { "content-type": "application/octet-stream", "content-length": String(bytes.length) } });
  }

  async write(id: string, url: URL, request: Request): Promise<Response> {
    const { session } = this.registry.get(id);
    if (!/^multipart\/form-data/i.test(request.headers.get("content-type") ?? "")) {
      throw new E2BError(400, "Uploads must be multipart/form-data (octet-stream uploads need envd 0.5.7, which CodeRunner does not claim).");
    }
    const form = await request.formData().catch(() => {
      throw new E2BError(400, "The multipart body could not be read.");
    });
    const files = [...(form.values() as Iterable<unknown>)].filter((value): value is File => value instanceof File);
    if (files.length === 0) throw new E2BError(400, "The upload has no file part.");
    const single = url.searchParams.get("path");
    if (single !== null && files.length > 1) throw new E2BError(400, "A path query names one file; send each file's path as its part's filename instead.");
    const { baseURL, apiKey } = session.sandbox.address!;
    const written = [];
    for (const file of files) {
      const path = toSandboxPath(single ?? file.name);
      const body = new FormData();
      body.append("file", file, posix.basename(path));
      body.append("remote_path", path);
      body.append("session_id", session.id);
      const response = await fetch(`${baseURL}/upload`, { method: "POST", headers: { "x-api-key": apiKey }, body });
      if (!response.ok) {
        const detail = ((await response.json().catch(() => ({}))) as { detail?: string }).detail;
        throw new E2BError(response.status === 403 ? 403 : response.status === 413 ? 507 : 400, `${toE2BPath(path)}: ${detail ?? `the sandbox answered ${response.status}`}`);
      }
      written.push({ name: posix.basename(path), type: "file", path: toE2BPath(path) });
    }
    return Response.json(written);
  }
}
