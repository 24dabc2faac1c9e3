import { describe, expect, test } from "bun:test";
import { translatePlaywrightError } from "../../../src/browser/playwright-errors";
import { AppError } from "../../../src/errors";

function playwrightError(name: string, message: string): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}

describe("translatePlaywrightError", () => {
  test("a timeout is 408 with the time given, keeping the original as cause", () => {
    const original = playwrightError("TimeoutError", "locator.click: Timeout 500ms exceeded.\nCall log:\n  - waiting for locator('#x')");
    const error = translatePlaywrightError(original, { action: "click", selector: "#x", timeout: 500 });
    expect(error.code).toBe("TIMEOUT");
    expect(error.status).toBe(408);
    expect(error.message).toContain("within 500 ms");
    expect(error.message).not.toContain("Call log");
    expect(error.cause).toBe(original);
  });

  test("a closed page or browser is 410", () => {
    const error = translatePlaywrightError(new Error("page.goto: Target page, context or browser has been closed"), { action: "navigate" });
    expect(error.code).toBe("SESSION_GONE");
  });

  test("a malformed selector is 400", () => {
    const error = translatePlaywrightError(new Error('locator.click: Unexpected token "" while parsing css selector "div[".'), { action: "click", selector: "div[" });
    expect(error.code).toBe("INVALID_SELECTOR");
  });

  test("a malformed XPath selector is 400 too", () => {
    const message = "locator.pressSequentially: SyntaxError: Failed to execute 'evaluate' on 'Document': The string '//*[' is not a valid XPath expression.";
    const error = translatePlaywrightError(new Error(message), { action: "type into", selector: "xpath=//*[" });
    expect(error.code).toBe("INVALID_SELECTOR");
    expect(error.status).toBe(400);
  });

  test("a page that navigated under the action (a concurrent request on the session) is a 409 to retry", () => {
    for (const message of [
      "page.evaluate: Execution context was destroyed, most likely because of a navigation",
      "page.goto: Navigation to \"about:blank\" is interrupted by another navigation to \"data:,\"",
    ]) {
      const error = translatePlaywrightError(new Error(message), { action: "scroll" });
      expect(error.code).toBe("SESSION_BUSY");
      expect(error.status).toBe(409);
      expect(error.message).toContain("try again");
    }
  });

  test("a network failure while navigating is 502 naming Chromium's error", () => {
    const error = translatePlaywrightError(new Error("page.goto: net::ERR_CONNECTION_REFUSED at http://127.0.0.1:9/"), { action: "navigate to http://127.0.0.1:9/" });
    expect(error.code).toBe("NAVIGATION_FAILED");
    expect(error.message).toContain("ERR_CONNECTION_REFUSED");
  });

  test("an element that cannot take the action is 400", () => {
    const error = translatePlaywrightError(new Error("locator.fill: Error: Element is not an <input>, <textarea> or <select> element"), { action: "fill", selector: "div" });
    expect(error.code).toBe("INVALID_REQUEST");
  });

  test("AppErrors pass through; anything else is BROWSER_ERROR without a stack", () => {
    const app = new AppError("ELEMENT_NOT_FOUND", "none");
    expect(translatePlaywrightError(app, { action: "click" })).toBe(app);
    const error = translatePlaywrightError(new Error("Protocol error (Page.navigate): something odd\n    at foo (x.js:1:1)"), { action: "navigate" });
    expect(error.code).toBe("BROWSER_ERROR");
    expect(error.message).not.toContain("x.js");
  });
});
