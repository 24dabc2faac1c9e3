import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { runsAndFilesFeature } from "../../src/server/features/runs-and-files";
import { startTestServer } from "../helpers/server";

const MiB = 1024 * 1024;
let server: Awaited<ReturnType<typeof startTestServer>>;
let session: string;

beforeAll(async () => {
  // A real port, so multipart bodies really stream over a socket.
  server = await startTestServer({ kernelPoolSize: 1, host: "127.0.0.1", port: 0, maxUploadBytes: 60 * MiB }, { listen: true, features: [runsAndFilesFeature] });
  session = (await server.call("POST", "/v1/sessions/session", {})).body.session_id;
}, 60_000);

afterAll(async () => {
  await server?.stop();
}, 30_000);

async function upload(fields: Record<string, string>, files: { body: Blob | string; name: string }[]): Promise<{ status: number; body: any }> {
  const form = new FormData();
  for (const [key, value] of Object.entries(fields)) form.append(key, value);
  for (const file of files) form.append("file", typeof file.body === "string" ? new Blob([file.body]) : file.body, file.name);
  const response = await fetch(`${server.url}/upload`, { method: "POST", body: form });
  return { status: response.status, body: await response.json() };
}

async function download(filename: string, sessionId: string | undefined = session, form = false): Promise<{ status: number; body: any }> {
  const fields: Record<string, string> = sessionId ? { filename, session_id: sessionId } : { filename };
  const response = await fetch(`${server.url}/download`, {
    method: "POST",
    headers: { "content-type": form ? "application/x-www-form-urlencoded" : "application/json" },
    body: form ? new URLSearchParams(fields).toString() : JSON.stringify(fields),
  });
  return { status: response.status, body: await response.json() };
}

const python = async (command: string) => (await server.call("POST", "/execute", { command, session_id: session })).body;

describe("files", () => {
  test("an uploaded file is readable by Python at its relative path, and what Python writes is downloadable", async () => {
    const up = await upload({ remote_path: "data/in.txt", session_id: session, recursive: "false" }, [{ body: "héllo\n", name: "ignored.txt" }]);
    expect(up.status).toBe(200);
    expect(up.body).toMatchObject({ success: true, size: 7 });
    expect(up.body.path).toEndWith("/data/in.txt");
    expect((await python("print(open('data/in.txt').read(), end='')")).stdout).toBe("héllo\n");

    await python("open('out.bin', 'wb').write(bytes(range(256)) * 4)");
    for (const form of [false, true]) {
      const down = await download("out.bin", session, form);
      expect(down.status).toBe(200);
      expect(down.body.filename).toBe("out.bin");
      expect(down.body.size).toBe(1024);
      expect([...Buffer.from(down.body.content, "base64")]).toEqual([...Buffer.from(new Uint8Array(1024).map((_, i) => i % 256))]);
    }
    const abs = await download(up.body.path);
    expect(Buffer.from(abs.body.content, "base64").toString()).toBe("héllo\n");
  }, 30_000);

  test("remote_path naming a directory keeps the file's own name; no remote_path means the working directory", async () => {
    const intoDir = await upload({ remote_path: "data/", session_id: session }, [{ body: "a", name: "named.txt" }]);
    expect(intoDir.status).toBe(200);
    expect(intoDir.body.path).toEndWith("/data/named.txt");
    const bare = await upload({ session_id: session }, [{ body: "b", name: "bare.txt" }]);
    expect(bare.body.path).toBe(`${server.sessions.get(session).dir}/bare.txt`);
    expect((await python("print(open('bare.txt').read())")).stdout).toBe("b\n");
  });

  test("recursive=true uploads several files as a directory tree", async () => {
    const up = await upload({ remote_path: "proj", session_id: session, recursive: "true" }, [
      { body: "VALUE = 1\n", name: "pkg/__init__.py" },
      { body: "VALUE = 2\n", name: "pkg/sub/mod.py" },
    ]);
    expect(up.status).toBe(200);
    expect(up.body.files).toHaveLength(2);
    expect(up.body.size).toBe(20);
    expect((await python("import sys; sys.path.insert(0, 'proj'); import pkg, pkg.sub.mod; print(pkg.VALUE + pkg.sub.mod.VALUE)")).stdout).toBe("3\n");
    const twoWithoutRecursive = await upload({ session_id: session }, [
      { body: "1", name: "a" },
      { body: "2", name: "b" },
    ]);
    expect(twoWithoutRecursive.status).toBe(422);
    const sneaky = await upload({ remote_path: "proj", session_id: session, recursive: "true" }, [{ body: "x", name: "../../escape.py" }]);
    expect(sneaky.status).toBe(400);
    expect(sneaky.body.code).toBe("INVALID_PATH");
  });

  test("GET /files lists a directory of the session", async () => {
    const { status, body } = await server.call("GET", `/files?session_id=${session}&path=data`);
    expect(status).toBe(200);
    const names = body.entries.map((entry: any) => entry.name);
    expect(names).toContain("in.txt");
    expect(body.entries.find((entry: any) => entry.name === "in.txt")).toMatchObject({ type: "file", size: 7 });
    expect((await server.call("GET", `/files?session_id=${session}&path=nope`)).status).toBe(404);
  });

  test("path traversal is a 400 INVALID_PATH: ../, absolute paths outside, symlinks pointing out", async () => {
    await python("import os\nos.symlink('/etc', 'etc-link')\nos.symlink('/etc/hostname', 'host-link')");
    const attempts = [
      () => download("../../../../etc/passwd"),
      () => download("/etc/passwd"),
      () => download("etc-link/passwd"),
      () => download("host-link"),
      () => upload({ remote_path: "../escape.txt", session_id: session }, [{ body: "x", name: "x" }]),
      () => upload({ remote_path: "/tmp/escape.txt", session_id: session }, [{ body: "x", name: "x" }]),
      () => upload({ remote_path: "etc-link/evil.txt", session_id: session }, [{ body: "x", name: "x" }]),
      () => upload({ remote_path: "host-link", session_id: session }, [{ body: "x", name: "x" }]),
      () => server.call("GET", `/files?session_id=${session}&path=etc-link`),
      () => server.call("GET", `/files?session_id=${session}&path=/`),
    ];
    for (const attempt of attempts) {
      const { status, body } = await attempt();
      expect(status).toBe(400);
      expect(body.code).toBe("INVALID_PATH");
    }
    expect((await python("import os; print(os.path.exists('/tmp/escape.txt'), os.path.exists('../escape.txt'))")).stdout).toBe("False False\n");
  });

  test("missing files and unknown sessions are 404; missing fields 422; too large 413", async () => {
    expect((await download("no-such-file")).body.code).toBe("FILE_NOT_FOUND");
    expect((await download("x", "no-such-session")).status).toBe(404);
    expect((await upload({ session_id: "no-such-session" }, [{ body: "x", name: "x" }])).status).toBe(404);
    expect((await upload({ session_id: session }, [])).status).toBe(422);
    const notMultipart = await fetch(`${server.url}/upload`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(notMultipart.status).toBe(415);
    const noFilename = await fetch(`${server.url}/download`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(noFilename.status).toBe(422);

    await python("f = open('sparse.bin', 'wb'); f.truncate(61 * 1024 * 1024); f.close()");
    const bigDownload = await download("sparse.bin");
    expect(bigDownload.status).toBe(413);
    expect(bigDownload.body.code).toBe("PAYLOAD_TOO_LARGE");
    const bigUpload = await upload({ remote_path: "big.bin", session_id: session }, [{ body: new Blob([new Uint8Array(61 * MiB)]), name: "big.bin" }]);
    expect(bigUpload.status).toBe(413);
    expect(bigUpload.body.code).toBe("PAYLOAD_TOO_LARGE");
    expect((await python("import os; print(os.path.exists('big.bin'))")).stdout).toBe("False\n");
  }, 30_000);

  test("a 50 MB upload and download round trip over a real socket is byte-identical", async () => {
    const bytes = new Uint8Array(50 * MiB);
    for (let offset = 0; offset < bytes.length; offset += 65536) crypto.getRandomValues(bytes.subarray(offset, offset + 65536));
    const digest = createHash("sha256").update(bytes).digest("hex");
    const up = await upload({ remote_path: "big/random.bin", session_id: session }, [{ body: new Blob([bytes]), name: "random.bin" }]);
    expect(up.status).toBe(200);
    expect(up.body.size).toBe(50 * MiB);
    const seen = await python("import hashlib; print(hashlib.sha256(open('big/random.bin', 'rb').read()).hexdigest())");
    expect(seen.stdout).toBe(`${digest}\n`);
    const down = await download("big/random.bin");
    expect(down.status).toBe(200);
    expect(down.body.size).toBe(50 * MiB);
    expect(createHash("sha256").update(Buffer.from(down.body.content, "base64")).digest("hex")).toBe(digest);
  }, 60_000);
});
