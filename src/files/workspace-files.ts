import { renameSync } from "node:fs";
import { join } from "node:path";
import { AppError } from "../errors";
import type { FileArea } from "./file-area";
import { type Download, type FileService, type Listing, ownName, type Placed, placementOf, relativeName } from "./file-service";
import { localStaging, type MultipartUpload } from "./multipart-upload";

/**
 * Files done by the server itself, confined to the workspace by `FileArea` (paths and symlinks
 * checked before every operation): for a sandbox where the server and the code share one user, so
 * the server's rights are the user's anyway.
 */
export class WorkspaceFiles implements FileService {
  readonly staging;

  constructor(
    private readonly area: FileArea,
    readonly stagingDir: string,
  ) {
    this.staging = localStaging(stagingDir);
  }

  async openForDownload(input: string, cwd: string, maxBytes: number): Promise<Download> {
    const { path, stats } = this.area.forRead(input, cwd);
    if (stats.isDirectory()) throw new AppError("INVALID_PATH", `${JSON.stringify(input)} is a directory; list it with GET /files.`);
    if (stats.size > maxBytes) {
      throw new AppError("PAYLOAD_TOO_LARGE", `The file is ${stats.size} bytes, more than the limit of ${maxBytes} (CODERUNNER_MAX_UPLOAD_BYTES).`);
    }
    return { path, size: stats.size, source: path };
  }

  async list(input: string, cwd: string): Promise<Listing> {
    return this.area.list(input, cwd);
  }

  async place(upload: MultipartUpload, cwd: string): Promise<Placed> {
    const { area } = this;
    const { remote, recursive, files } = placementOf(upload);
    if (recursive) {
      const dir = area.directoryForWrite(remote ?? ".", cwd);
      const targets = files.map((file) => ({ file, path: area.forWrite(join(dir, relativeName(file)), cwd) }));
      for (const { file, path } of targets) {
        renameSync(file.staged, path);
        file.moved = true;
      }
      return { success: true, path: dir, size: files.reduce((sum, file) => sum + file.size, 0), files: targets.map(({ file, path }) => ({ path, size: file.size })) };
    }
    const file = files[0]!;
    let destination: string;
    if (!remote) destination = ownName(file);
    else if (remote.endsWith("/") || area.isDirectory(remote, cwd)) destination = join(area.directoryForWrite(remote, cwd), ownName(file));
    else destination = remote;
    const path = area.forWrite(destination, cwd);
    renameSync(file.staged, path);
    file.moved = true;
    return { success: true, path, size: file.size, files: [{ path, size: file.size }] };
  }
}
