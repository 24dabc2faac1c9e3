import { describe, expect, test } from "bun:test";
import { processConfinement, sandboxEnvironment } from "../../../src/confinement/confinement";
import { kernelHandoff } from "../../../src/kernels/jupyter-server";
import { helperError, parseEntries, resolveInput } from "../../../src/files/sandbox-user-files";

describe("the sandbox user's environment", () => {
  test("the server's, less its secrets, its home and its temp directory", () => {
    const env = sandboxEnvironment({
      CODERUNNER_API_KEY: "secret",
      JUPYTER_TOKEN: "t",
      HOME: "/run/coderunner/server/home",
      TMPDIR: "/run/coderunner/server/tmp",
      USER: "coderunner-server",
      PATH: "/usr/bin",
      CODERUNNER_PORT: "8223",
    });
    expect(env).toEqual({ HOME: "/home/coderunner", USER: "coderunner", LOGNAME: "coderunner", PATH: "/usr/bin", CODERUNNER_PORT: "8223" });
  });

  test("a TMPDIR the host chose elsewhere is kept", () => {
    expect(sandboxEnvironment({ TMPDIR: "/scratch" }).TMPDIR).toBe("/scratch");
  });
});

describe("the kernel handoff", () => {
  test("turns Jupyter's environment into the kernel's: server-only variables unset, changed ones set", () => {
    const kernelEnv = { HOME: "/home/coderunner", PATH: "/usr/bin", PYTHONUNBUFFERED: "1" };
    const jupyterEnv = { ...kernelEnv, HOME: "/run/s/home", JUPYTER_RUNTIME_DIR: "/run/s/runtime", PYTHONNOUSERSITE: "1", TMPDIR: "/run/s/tmp" };
    const handoff = kernelHandoff({ uid: 1000, gid: 1000, cwd: "/home/coderunner", oomScoreAdj: 1000, env: kernelEnv }, jupyterEnv, kernelEnv);
    expect(handoff).toEqual({
      uid: 1000,
      gid: 1000,
      cwd: "/home/coderunner",
      oom_score_adj: 1000,
      nproc: null,
      nice: null,
      env: { HOME: "/home/coderunner" },
      unset: ["JUPYTER_RUNTIME_DIR", "PYTHONNOUSERSITE", "TMPDIR"],
    });
    expect(kernelHandoff({ uid: 234567, gid: 234567, cwd: "/", oomScoreAdj: 1000, processes: 192, niceness: 19, env: {} }, {}, {})).toMatchObject({ uid: 234567, gid: 234567, nproc: 192, nice: 19 });
  });
});

describe("plain process mode", () => {
  test("starts shells as they are and reports no firewall", () => {
    const confinement = processConfinement();
    expect(confinement.launchShell(["/bin/bash"], "/w")).toEqual({ argv: ["/bin/bash"], cwd: "/w" });
    expect(confinement.kernelUser).toBeUndefined();
    expect(confinement.health()).toMatchObject({ mode: "process", firewall: "none", egress: "on", user_uid: process.getuid!(), server_uid: process.getuid!() });
  });
});

describe("file paths and helper answers in a confined sandbox", () => {
  test("absolute paths are taken as given; relative ones may not climb out of the working directory", () => {
    expect(resolveInput("/app/data.csv", "/w/s")).toBe("/app/data.csv");
    expect(resolveInput("/tmp/../etc/passwd", "/w/s")).toBe("/etc/passwd");
    expect(resolveInput("out/a.png", "/w/s")).toBe("/w/s/out/a.png");
    expect(() => resolveInput("../other/x", "/w/s")).toThrow(/climb out/);
    expect(() => resolveInput("a/../../x", "/w/s")).toThrow(/climb out/);
    expect(() => resolveInput("a\0b", "/w/s")).toThrow(/NUL/);
    expect(() => resolveInput(" ", "/w/s")).toThrow(/empty/);
  });

  test("errno names become the matching codes, each with a sentence", () => {
    const as = (line: string, action: "read" | "write" | "list" = "read") => helperError(line, "/x", action, "coderunner (uid 1000)");
    expect(as("error EACCES cannot open /x: Permission denied")).toMatchObject({ code: "FORBIDDEN", status: 403, message: 'Permission denied: the sandbox user coderunner (uid 1000) may not read "/x".' });
    expect(as("error EROFS cannot write /x: Read-only file system", "write")).toMatchObject({ code: "FORBIDDEN", message: expect.stringContaining("read-only filesystem") });
    expect(as("error ENOENT cannot open /x: No such file or directory")).toMatchObject({ code: "FILE_NOT_FOUND", status: 404 });
    expect(as("error EISDIR /x is a directory")).toMatchObject({ code: "INVALID_PATH", message: expect.stringContaining("list it with GET /files") });
    expect(as("error ENOTREG /x is not a regular file")).toMatchObject({ code: "INVALID_PATH", status: 400 });
    expect(as("error ENOSPC cannot write /x: No space left on device", "write")).toMatchObject({ code: "PAYLOAD_TOO_LARGE" });
    expect(as("garbage")).toMatchObject({ code: "INVALID_PATH", status: 400 });
  });

  test("listing records are NUL-separated and survive any file name", () => {
    const body = new TextEncoder().encode(["f", "5", "1700000000", "a\nb.txt", "d", "0", "1700000001", "dir", "l", "0", "1700000002", "link", ""].join("\0"));
    expect(parseEntries(body, "/w", undefined)).toEqual([
      { name: "a\nb.txt", path: "/w/a\nb.txt", type: "file", size: 5, modified_at: "2023-11-14T22:13:20.000Z" },
      { name: "dir", path: "/w/dir", type: "directory", size: 0, modified_at: "2023-11-14T22:13:21.000Z" },
      { name: "link", path: "/w/link", type: "symlink", size: 0, modified_at: "2023-11-14T22:13:22.000Z" },
    ]);
  });
});
