import { describe, expect, test } from "bun:test";
import { checkURL } from "../../../src/browser/url-policy";
import { AppError } from "../../../src/errors";

function refusal(raw: string): AppError {
  try {
    checkURL(raw);
  } catch (error) {
    if (error instanceof AppError) return error;
    throw error;
  }
  throw new Error(`${raw} was accepted`);
}

describe("checkURL", () => {
  test("accepts http, https, data and about:blank, normalised", () => {
    expect(checkURL(" http://127.0.0.1:8080/a?b=1 ")).toBe("http://127.0.0.1:8080/a?b=1");
    expect(checkURL("https://Example.com")).toBe("https://example.com/");
    expect(checkURL("data:text/html,<p>hi</p>")).toStartWith("data:text/html,");
    expect(checkURL("about:blank")).toBe("about:blank");
  });

  test("refuses file: URLs with the reason", () => {
    const error = refusal("file:///etc/passwd");
    expect(error.code).toBe("INVALID_URL");
    expect(error.status).toBe(400);
    expect(error.message).toContain("outside the sandbox");
  });

  test("refuses other schemes, relative and empty URLs", () => {
    for (const raw of ["javascript:alert(1)", "chrome://settings", "view-source:http://a.b", "ftp://a.b/x", "about:config", "/relative", "", "http://"]) {
      expect(refusal(raw).code).toBe("INVALID_URL");
    }
  });

  test("suggests a scheme for a bare host name", () => {
    expect(refusal("example.com/page").message).toContain("https://example.com/page");
  });
});
