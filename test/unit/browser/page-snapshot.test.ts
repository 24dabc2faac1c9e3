import { describe, expect, test } from "bun:test";
import { cursorLine, estimateTokens, makeCursor, refOf, sliceLines } from "../../../src/browser/page-snapshot";
import { AppError } from "../../../src/errors";

describe("page snapshot slices", () => {
  const lines = Array.from({ length: 10 }, (_, i) => `- line ${i} ${"x".repeat(30)}`); // 39 characters each

  test("a slice never passes the token cap, and the next one starts where it stopped", () => {
    const first = sliceLines(lines, 0, 25); // 100 characters: two lines and a newline
    expect(first.text.split("\n")).toEqual(lines.slice(0, 2));
    expect(first.tokens).toBe(estimateTokens(first.text));
    expect(first.tokens).toBeLessThanOrEqual(25);
    expect(first.next).toBe(2);
    expect(sliceLines(lines, 8, 25)).toMatchObject({ next: null, text: lines.slice(8).join("\n") });
  });

  test("a line longer than the whole budget is cut, so reading always moves on", () => {
    const long = ["- " + "y".repeat(1000), "- short"];
    const slice = sliceLines(long, 0, 50);
    expect(slice.text.length).toBe(200);
    expect(slice.text.endsWith("…")).toBe(true);
    expect(slice.next).toBe(1);
  });

  test("cursors point into their own snapshot only", () => {
    const snapshot = { id: "abc123", lines };
    expect(cursorLine(makeCursor(snapshot, 4), snapshot)).toBe(4);
    for (const [cursor, against] of [
      ["abc123.4", { id: "other", lines }],
      ["abc123.4", undefined],
      ["abc123.99", snapshot],
      ["nonsense", snapshot],
    ] as const) {
      expect(() => cursorLine(cursor, against)).toThrow(AppError);
    }
  });

  test("refs are recognised as ref=eN only", () => {
    expect(refOf("ref=e12")).toBe("e12");
    expect(refOf(" ref = e3 ")).toBe("e3");
    for (const other of ["#ref", "e12", "ref=12", "[ref=e12]", "text=ref=e1"]) expect(refOf(other)).toBeNull();
  });
});
