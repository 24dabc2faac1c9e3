import { describe, expect, test } from "bun:test";
import { findChromium } from "../../../src/browser/chromium-path";
import { AppError } from "../../../src/errors";

const none = () => null;

describe("findChromium", () => {
  test("uses the configured executable when it exists, and refuses a missing one without falling back", () => {
    expect(findChromium({ configured: "/opt/chrome/chrome", exists: (path) => path === "/opt/chrome/chrome", which: none })).toBe("/opt/chrome/chrome");
    expect(() => findChromium({ configured: "/nope/chrome", exists: (path) => path === "/usr/bin/chromium", which: none })).toThrow(/CODERUNNER_CHROMIUM/);
  });

  test("resolves a configured command name on PATH", () => {
    expect(findChromium({ configured: "my-chrome", exists: () => false, which: (name) => (name === "my-chrome" ? "/usr/local/bin/my-chrome" : null) })).toBe("/usr/local/bin/my-chrome");
  });

  test("prefers /usr/bin/chromium, then chromium-browser and google-chrome on PATH", () => {
    expect(findChromium({ exists: (path) => path === "/usr/bin/chromium", which: () => "/x" })).toBe("/usr/bin/chromium");
    expect(findChromium({ exists: () => false, which: (name) => (name === "chromium-browser" ? "/snap/bin/chromium-browser" : null) })).toBe("/snap/bin/chromium-browser");
    expect(findChromium({ exists: () => false, which: (name) => (name === "google-chrome" ? "/usr/bin/google-chrome" : null) })).toBe("/usr/bin/google-chrome");
  });

  test("says what it tried when nothing is installed", () => {
    try {
      findChromium({ exists: () => false, which: none });
      throw new Error("found a browser that does not exist");
    } catch (error) {
      expect(error).toBeInstanceOf(AppError);
      expect((error as AppError).code).toBe("BROWSER_UNAVAILABLE");
      expect((error as AppError).message).toContain("google-chrome");
    }
  });
});
