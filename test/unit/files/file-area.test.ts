import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileArea, isInside } from "../../../src/files/file-area";

let root: string;
let workspace: string;
let cwd: string;
let outside: string;
let area: FileArea;

beforeAll(() => {
  root = realpathSync(mkdtempSync(join(tmpdir(), "file-area-")));
  workspace = join(root, "workspace");
  cwd = join(workspace, "sessions", "s1");
  outside = join(root, "outside");
  mkdirSync(cwd, { recursive: true });
  mkdirSync(join(workspace, "sessions", "s2"), { recursive: true });
  mkdirSync(outside);
  writeFileSync(join(outside, "secret.txt"), "secret");
  writeFileSync(join(cwd, "here.txt"), "here");
  symlinkSync(outside, join(cwd, "out-dir"));
  symlinkSync(join(outside, "secret.txt"), join(cwd, "out-file"));
  symlinkSync(join(outside, "missing.txt"), join(cwd, "dangling-out"));
  symlinkSync(join(cwd, "here.txt"), join(cwd, "in-file"));
  area = new FileArea(workspace);
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

const rejects = (fn: () => unknown) => expect(fn).toThrow(expect.objectContaining({ code: "INVALID_PATH", status: 400 }));

describe("FileArea", () => {
  test("isInside compares path segments, not string prefixes", () => {
    expect(isInside("/a/b", "/a/b")).toBe(true);
    expect(isInside("/a/b", "/a/b/c")).toBe(true);
    expect(isInside("/a/b", "/a/bc")).toBe(false);
    expect(isInside("/a/b", "/a")).toBe(false);
    expect(isInside("/a/b", "/a/b/..foo")).toBe(true);
  });

  test("relative paths resolve in the working directory; absolute ones inside the workspace are fine", () => {
    expect(area.forRead("here.txt", cwd).path).toBe(join(cwd, "here.txt"));
    expect(area.forRead("./sub/../here.txt", cwd).path).toBe(join(cwd, "here.txt"));
    expect(area.forWrite(join(workspace, "sessions", "s2", "x.txt"), cwd)).toBe(join(workspace, "sessions", "s2", "x.txt"));
  });

  test("../ out of the working directory is refused", () => {
    rejects(() => area.forRead("../s2", cwd));
    rejects(() => area.forRead("../../../outside/secret.txt", cwd));
    rejects(() => area.forWrite("a/../../escape.txt", cwd));
  });

  test("absolute paths outside the workspace are refused", () => {
    rejects(() => area.forRead("/etc/passwd", cwd));
    rejects(() => area.forWrite(join(outside, "new.txt"), cwd));
    rejects(() => area.forRead(`${workspace}-sibling/x`, cwd));
  });

  test("symlinks pointing out are refused for reading, listing and writing", () => {
    rejects(() => area.forRead("out-file", cwd));
    rejects(() => area.forRead("out-dir/secret.txt", cwd));
    rejects(() => area.list("out-dir", cwd));
    rejects(() => area.forWrite("out-dir/new.txt", cwd));
    rejects(() => area.forWrite("out-file", cwd));
    rejects(() => area.forWrite("dangling-out", cwd));
    rejects(() => area.forWrite("out-dir/deep/new.txt", cwd));
  });

  test("a symlink staying inside is followed", () => {
    expect(area.forRead("in-file", cwd).path).toBe(join(cwd, "here.txt"));
    expect(area.forWrite("in-file", cwd)).toBe(join(cwd, "here.txt"));
  });

  test("empty paths, NUL bytes and directories-as-files are refused; missing files are 404", () => {
    rejects(() => area.forRead("", cwd));
    rejects(() => area.forRead("a\0b", cwd));
    rejects(() => area.forWrite("dir/", cwd));
    rejects(() => area.forWrite(".", cwd));
    rejects(() => area.forWrite("here.txt/child", cwd));
    expect(() => area.forRead("nope.txt", cwd)).toThrow(expect.objectContaining({ code: "FILE_NOT_FOUND", status: 404 }));
  });

  test("forWrite creates parent directories", () => {
    const path = area.forWrite("new/deep/file.txt", cwd);
    expect(path).toBe(join(cwd, "new", "deep", "file.txt"));
    expect(area.isDirectory("new/deep", cwd)).toBe(true);
  });

  test("list reports entries with their type; symlinks are not followed", () => {
    const { entries } = area.list(".", cwd);
    const byName = Object.fromEntries(entries.map((entry) => [entry.name, entry]));
    expect(byName["here.txt"]).toMatchObject({ type: "file", size: 4, path: join(cwd, "here.txt") });
    expect(byName["out-dir"]!.type).toBe("symlink");
    expect(byName["new"]!.type).toBe("directory");
  });
});
