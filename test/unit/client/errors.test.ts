import { describe, expect, test } from "bun:test";
import {
  AuthenticationError,
  BrowserSessionError,
  CodeRunnerError,
  ElementNotFoundError,
  ERROR_CLASSES,
  errorFromResponse,
  ExecutionError,
  FileError,
  InvalidRequestError,
  RateLimitError,
  SessionError,
  TimeoutError,
} from "../../../src/client/errors";
import { ErrorStatus } from "../../../src/errors";

describe("errorFromResponse", () => {
  test.each([
    [401, "UNAUTHORIZED", AuthenticationError],
    [404, "SESSION_NOT_FOUND", SessionError],
    [410, "SESSION_GONE", SessionError],
    [404, "TASK_NOT_FOUND", ExecutionError],
    [404, "FILE_NOT_FOUND", FileError],
    [400, "INVALID_PATH", FileError],
    [404, "BROWSER_SESSION_NOT_FOUND", BrowserSessionError],
    [404, "ELEMENT_NOT_FOUND", ElementNotFoundError],
    [408, "TIMEOUT", TimeoutError],
    [429, "TOO_MANY_SESSIONS", RateLimitError],
    [422, "VALIDATION_ERROR", InvalidRequestError],
  ] as const)("%d %s becomes %p", (status, code, Class) => {
    const error = errorFromResponse(status, { detail: "Something specific.", code }, "Doing it");
    expect(error).toBeInstanceOf(Class);
    expect(error).toBeInstanceOf(CodeRunnerError);
    expect(error.name).toBe(Class.name);
    expect(error.code).toBe(code);
    expect(error.status).toBe(status);
    expect(error.detail).toBe("Something specific.");
    expect(error.message).toBe(`Doing it failed (HTTP ${status}): Something specific.`);
  });

  test("every class in the table is for a code the server really has", () => {
    for (const code of Object.keys(ERROR_CLASSES)) expect(ErrorStatus).toHaveProperty(code);
  });

  test("an unknown code falls back by status", () => {
    expect(errorFromResponse(429, { detail: "slow down", code: "SOMETHING_NEW" }, "x")).toBeInstanceOf(RateLimitError);
    expect(errorFromResponse(401, { detail: "no" }, "x")).toBeInstanceOf(AuthenticationError);
    expect(errorFromResponse(408, "timeout", "x")).toBeInstanceOf(TimeoutError);
    const server = errorFromResponse(502, "<html>Bad Gateway</html>", "x");
    expect(server.constructor).toBe(CodeRunnerError);
    expect(server.detail).toBe("<html>Bad Gateway</html>");
    expect(server.code).toBe("INTERNAL_ERROR");
  });

  test("FastAPI-style validation lists become a readable detail", () => {
    const error = errorFromResponse(422, { detail: [{ loc: ["body", "command"], msg: "field required" }] }, "x");
    expect(error).toBeInstanceOf(InvalidRequestError);
    expect(error.detail).toContain("field required");
  });
});
