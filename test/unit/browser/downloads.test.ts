import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { placeOf, safeFilename, uniqueName } from "../../../src/browser/downloads";

describe("safeFilename", () => {
  test("keeps ordinary names", () => {
    expect(safeFilename("report.pdf")).toBe("report.pdf");
    expect(safeFilename("Über ümlaut (1).tar.gz")).toBe("Über ümlaut (1).tar.gz");
  });

  test("drops directories, absolute names, dot names, NUL and control characters", () => {
    expect(safeFilename("../../etc/passwd")).toBe("passwd");
    expect(safeFilename("/etc/shadow")).toBe("shadow");
    expect(safeFilename("..\\..\\windows\\win.ini")).toBe("win.ini");
    expect(safeFilename("..")).toBe("download");
    expect(safeFilename("../")).toBe("download");
    expect(safeFilename("")).toBe("download");
    expect(safeFilename(".bashrc")).toBe("bashrc");
    expect(safeFilename("a\u0000b\nc.txt")).toBe("a_b_c.txt");
    expect(safeFilename('x<y>:"z"|?*.txt')).toBe("x_y___z____.txt");
  });

  test("cuts overlong names to 200 bytes, keeping the extension", () => {
    const name = safeFilename(`${"é".repeat(500)}.pdf`);
    expect(Buffer.byteLength(name)).toBeLessThanOrEqual(200);
    expect(name.endsWith(".pdf")).toBe(true);
    expect(Buffer.byteLength(safeFilename("x".repeat(5000)))).toBe(200);
  });

  test("any input gives one safe path part", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 600 }), (input) => {
        const name = safeFilename(input);
        expect(name.length).toBeGreaterThan(0);
        expect(name).not.toMatch(/[\/\\\u0000-\u001f]/);
        expect(name.startsWith(".")).toBe(false);
        expect(Buffer.byteLength(name)).toBeLessThanOrEqual(200);
      }),
    );
  });
});

describe("uniqueName", () => {
  test("numbers a taken name before its extension", () => {
    expect(uniqueName("a.txt", new Set())).toBe("a.txt");
    expect(uniqueName("a.txt", new Set(["a.txt"]))).toBe("a (2).txt");
    expect(uniqueName("a.txt", new Set(["a.txt", "a (2).txt"]))).toBe("a (3).txt");
    expect(uniqueName("README", new Set(["README"]))).toBe("README (2)");
  });
});

describe("placeOf", () => {
  const sessions = { workspace: "/ws", find: (id: string) => (id === "code1" ? ({ dir: "/ws/sessions/code1" } as never) : undefined) };
  const place = placeOf(sessions);
  test("a code session's browser session uses its working directory", () => {
    expect(place({ id: "code1.abc" } as never)).toEqual({ root: "/ws/sessions/code1", downloads: "downloads" });
  });
  test("any other uses its own folder in the workspace", () => {
    expect(place({ id: "default" } as never)).toEqual({ root: "/ws", downloads: "browser-downloads/default" });
    expect(place({ id: "gone.abc" } as never)).toEqual({ root: "/ws", downloads: "browser-downloads/gone.abc" });
  });
});
