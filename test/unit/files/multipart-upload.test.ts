import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { receiveMultipart } from "../../../src/files/multipart-upload";

let staging: string;
beforeAll(() => {
  staging = mkdtempSync(join(tmpdir(), "multipart-"));
});
afterAll(() => rmSync(staging, { recursive: true, force: true }));

/** A multipart request built by hand, so part order is exactly as written. */
function multipart(parts: { name: string; filename?: string; body: string | Uint8Array<ArrayBuffer> }[]): Request {
  const boundary = "----coderunner-test-boundary";
  const chunks: BlobPart[] = [];
  for (const part of parts) {
    const disposition = `form-data; name="${part.name}"${part.filename !== undefined ? `; filename="${part.filename}"` : ""}`;
    chunks.push(`--${boundary}\r\nContent-Disposition: ${disposition}\r\n${part.filename !== undefined ? "Content-Type: application/octet-stream\r\n" : ""}\r\n`, part.body, "\r\n");
  }
  chunks.push(`--${boundary}--\r\n`);
  return new Request("http://localhost/upload", { method: "POST", headers: { "content-type": `multipart/form-data; boundary=${boundary}` }, body: new Blob(chunks) });
}

describe("receiveMultipart", () => {
  test("stages file parts on disk and reads fields sent before or after them", async () => {
    const upload = await receiveMultipart(
      multipart([
        { name: "file", filename: "dir/a.txt", body: "hello" },
        { name: "remote_path", body: "x/y.txt" },
        { name: "file", filename: "b.bin", body: new Uint8Array([0, 255, 1]) },
        { name: "session_id", body: "s1" },
      ]),
      { stagingDir: staging, limitBytes: 1024 },
    );
    expect(upload.fields).toEqual({ remote_path: "x/y.txt", session_id: "s1" });
    expect(upload.files.map((file) => [file.field, file.filename, file.size])).toEqual([
      ["file", "dir/a.txt", 5],
      ["file", "b.bin", 3],
    ]);
    expect(readFileSync(upload.files[0]!.staged, "utf8")).toBe("hello");
    expect([...readFileSync(upload.files[1]!.staged)]).toEqual([0, 255, 1]);
    upload.discard();
    expect(upload.files.some((file) => existsSync(file.staged))).toBe(false);
  });

  test("more bytes than the limit is a 413 and leaves no staged file behind", async () => {
    const request = multipart([{ name: "file", filename: "big", body: new Uint8Array(5000) }]);
    await expect(receiveMultipart(request, { stagingDir: staging, limitBytes: 4096 })).rejects.toMatchObject({ code: "PAYLOAD_TOO_LARGE", status: 413 });
    expect(readdirSync(staging)).toEqual([]);
  });

  test("the limit counts all files together", async () => {
    const request = multipart([
      { name: "file", filename: "a", body: new Uint8Array(3000) },
      { name: "file", filename: "b", body: new Uint8Array(3000) },
    ]);
    await expect(receiveMultipart(request, { stagingDir: staging, limitBytes: 4096 })).rejects.toMatchObject({ code: "PAYLOAD_TOO_LARGE" });
    expect(readdirSync(staging)).toEqual([]);
  });

  test("a body that is not multipart is a 415; a malformed one a 400", async () => {
    const json = new Request("http://localhost/upload", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    await expect(receiveMultipart(json, { stagingDir: staging, limitBytes: 1024 })).rejects.toMatchObject({ code: "UNSUPPORTED_MEDIA_TYPE" });
    const broken = new Request("http://localhost/upload", {
      method: "POST",
      headers: { "content-type": "multipart/form-data; boundary=xyz" },
      body: "--xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\nunterminated",
    });
    await expect(receiveMultipart(broken, { stagingDir: staging, limitBytes: 1024 })).rejects.toMatchObject({ status: 400 });
    expect(readdirSync(staging)).toEqual([]);
  });
});
