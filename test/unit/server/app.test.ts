import { describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Executor } from "../../../src/kernels/executor";
import type { KernelPool } from "../../../src/kernels/kernel-pool";
import { SessionStore } from "../../../src/kernels/session-store";
import { silentLogger } from "../../../src/log";
import { createApp } from "../../../src/server/app";
import { executionResult } from "../../helpers/results";

/** The HTTP layer with a fake executor: no Jupyter involved. */
function app(options: { apiKey?: string; maxBodyBytes?: number } = {}) {
  const calls: unknown[] = [];
  const executor = {
    async execute(request: unknown) {
      calls.push(request);
      return executionResult({ stdout: "ok\n", session_id: "default" });
    },
  } as unknown as Executor;
  const sessions = new SessionStore({
    pool: { acquire: async () => ({ prepare: () => {}, shutdown: async () => {}, usable: true }) } as unknown as KernelPool,
    workspace: mkdtempSync(join(tmpdir(), "coderunner-app-")),
    idleSeconds: 60,
    maxSessions: 4,
    log: silentLogger,
  });
  const instance = createApp({ log: silentLogger, apiKey: options.apiKey, maxBodyBytes: options.maxBodyBytes ?? 1024, sessions, executor });
  const call = async (method: string, path: string, body?: string, headers: Record<string, string> = {}) => {
    const response = await instance.handle(new Request(`http://localhost${path}`, { method, body, headers: body === undefined ? headers : { "content-type": "application/json", ...headers } }));
    const text = await response.text();
    let json: any;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: response.status, json, text, type: response.headers.get("content-type") };
  };
  return { call, calls, handle: (request: Request) => instance.handle(request) };
}

describe("HTTP layer", () => {
  test("GET /health answers healthy with the version", async () => {
    const { call } = app();
    const response = await call("GET", "/health");
    expect(response.status).toBe(200);
    expect(response.json).toMatchObject({ status: "healthy", version: expect.stringMatching(/^\d+\.\d+\.\d+/) });
  });

  test("execute passes command, language, timeout and session through; code is an alias", async () => {
    const { call, calls } = app();
    await call("POST", "/execute", JSON.stringify({ command: "1", language: "bash", timeout: 5, session_id: "s" }));
    await call("POST", "/execute", JSON.stringify({ code: "2" }));
    expect(calls).toEqual([
      { command: "1", language: "bash", timeout: 5, session_id: "s" },
      { command: "2", language: undefined, timeout: undefined, session_id: undefined },
    ]);
  });

  test.each([
    ["malformed JSON", "{", 400, "INVALID_JSON"],
    ["a JSON array", "[1]", 422, "VALIDATION_ERROR"],
    ["no command", "{}", 422, "VALIDATION_ERROR"],
    ["wrong type", '{"command": []}', 422, "VALIDATION_ERROR"],
    ["too large", JSON.stringify({ command: "x".repeat(2000) }), 413, "PAYLOAD_TOO_LARGE"],
  ])("bad input: %s", async (_name, body, status, code) => {
    const { call, calls } = app();
    const response = await call("POST", "/execute", body);
    expect(response.status).toBe(status);
    expect(response.json.code).toBe(code);
    expect(response.json.detail).toBeString();
    expect(calls).toHaveLength(0);
  });

  test("code with a lone surrogate is a 422 before any kernel sees it (it cannot be sent as UTF-8)", async () => {
    const { call, calls } = app();
    const response = await call("POST", "/execute", JSON.stringify({ command: "print('\ud800')" }));
    expect(response.status).toBe(422);
    expect(response.json.detail).toContain("surrogate");
    expect(calls).toHaveLength(0);
    expect((await call("POST", "/execute", JSON.stringify({ command: "print('😀')" }))).status).toBe(200);
  });

  test("an environment no process can have is a 422, not a kernel started in vain", async () => {
    const { call } = app();
    for (const env of [{ "": "x" }, { "A=B": "x" }, { "A\u0000": "x" }, { A: "x\u0000y" }, { A: "\ud800" }]) {
      const response = await call("POST", "/v1/sessions/session", JSON.stringify({ env }));
      expect({ env, status: response.status, code: response.json.code }).toEqual({ env, status: 422, code: "VALIDATION_ERROR" });
    }
    expect((await call("POST", "/v1/sessions/session", JSON.stringify({ env: { "A B": "é", "😀": "" } }))).status).toBe(200);
  });

  test("a JSON body that is not an object is a 422, also where the body is optional", async () => {
    const { call } = app();
    for (const body of ["5", '"text"', "[1]", "true"]) {
      const response = await call("POST", "/v1/sessions/session", body);
      expect({ body, status: response.status, code: response.json.code }).toEqual({ body, status: 422, code: "VALIDATION_ERROR" });
    }
    expect((await call("POST", "/v1/sessions/session", "null")).status).toBe(200);
  });

  test("a body over the limit without Content-Length is still a 413", async () => {
    const { calls, handle } = app();
    const chunks = Array.from({ length: 10 }, () => new TextEncoder().encode(`"${"x".repeat(198)}"`));
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        const chunk = chunks.shift();
        if (chunk) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const request = new Request("http://localhost/execute", { method: "POST", body, headers: { "content-type": "application/json" }, duplex: "half" } as RequestInit);
    expect(request.headers.get("content-length")).toBeNull();
    const streamed = await handle(request);
    expect(streamed.status).toBe(413);
    expect((await streamed.json()).code).toBe("PAYLOAD_TOO_LARGE");
    expect(calls).toHaveLength(0);
  });

  test("unknown routes are 404 {detail, code}", async () => {
    const { call } = app();
    const response = await call("GET", "/no/such/route");
    expect(response.status).toBe(404);
    expect(response.json).toEqual({ detail: "No route for GET /no/such/route.", code: "NOT_FOUND" });
  });

  test("the docs and the OpenAPI document are served locally", async () => {
    const { call } = app();
    const page = await call("GET", "/docs");
    expect(page.status).toBe(200);
    expect(page.text).toContain("/docs/assets/swagger-ui-bundle.js");
    expect(page.text).not.toMatch(/https?:\/\/(unpkg|cdn)/);
    const bundle = await call("GET", "/docs/assets/swagger-ui-bundle.js");
    expect(bundle.status).toBe(200);
    expect(bundle.text.length).toBeGreaterThan(100_000);
    const spec = await call("GET", "/docs/json");
    expect(spec.json.openapi).toStartWith("3.");
    expect(Object.keys(spec.json.paths)).toEqual(expect.arrayContaining(["/execute", "/v1/sessions/session", "/kill", "/health"]));
  });

  test("the OpenAPI document gives every request body its content types and schema", async () => {
    const { call } = app();
    const spec = (await call("GET", "/docs/json")).json;
    const execute = spec.paths["/execute"].post.requestBody.content;
    expect(Object.keys(execute)).toEqual(expect.arrayContaining(["application/json", "application/x-www-form-urlencoded"]));
    expect(Object.keys(execute["application/json"].schema.properties)).toEqual(expect.arrayContaining(["command", "language", "timeout", "session_id"]));
    expect(spec.paths["/kill"].post.requestBody.content["application/json"].schema.required).toEqual(["session_id"]);
    const empty = Object.entries(spec.paths as Record<string, Record<string, { requestBody?: { content: object } }>>).flatMap(([path, methods]) =>
      Object.entries(methods)
        .filter(([, operation]) => operation.requestBody && Object.keys(operation.requestBody.content).length === 0)
        .map(([method]) => `${method} ${path}`),
    );
    expect(empty).toEqual([]);
  });

  describe("with an API key", () => {
    test("requests without the key or with a wrong one are 401; health and docs stay open", async () => {
      const { call, calls } = app({ apiKey: "secret" });
      expect((await call("POST", "/execute", '{"command":"1"}')).status).toBe(401);
      const wrong = await call("POST", "/execute", '{"command":"1"}', { "x-api-key": "nope" });
      expect(wrong.status).toBe(401);
      expect(wrong.json.code).toBe("UNAUTHORIZED");
      expect((await call("GET", "/health")).status).toBe(200);
      expect((await call("GET", "/docs/json")).status).toBe(200);
      expect(calls).toHaveLength(0);
      expect((await call("POST", "/execute", '{"command":"1"}', { "x-api-key": "secret" })).status).toBe(200);
    });

    test("the key is checked before the body: a bad body without a key is a 401, not a 422", async () => {
      const { call } = app({ apiKey: "secret" });
      expect((await call("POST", "/execute", "{")).status).toBe(401);
    });

    test("session create accepts the key as api_key in the body, as the InstaVM SDK sends it", async () => {
      const { call } = app({ apiKey: "secret" });
      expect((await call("POST", "/v1/sessions/session", JSON.stringify({ api_key: "secret" }))).status).toBe(200);
      expect((await call("POST", "/v1/sessions/session", JSON.stringify({ api_key: "wrong" }))).status).toBe(401);
      expect((await call("POST", "/v1/sessions/session", "{}")).status).toBe(401);
    });

    test("a session's usage is read with its id alone, as the InstaVM SDK reads it; nothing else of the session is", async () => {
      const { call } = app({ apiKey: "secret" });
      const { json } = await call("POST", "/v1/sessions/session", JSON.stringify({ api_key: "secret" }));
      const usage = await call("GET", `/v1/sessions/usage/${json.session_id}`);
      expect(usage.status).toBe(200);
      expect(usage.json.session_id).toBe(json.session_id);
      expect((await call("GET", "/v1/sessions/usage/no-such-session")).json.code).toBe("SESSION_NOT_FOUND");
      expect((await call("GET", `/v1/sessions/usage/${json.session_id}`, undefined, { "x-api-key": "wrong" })).status).toBe(401);
      expect((await call("GET", `/v1/sessions/session/${json.session_id}`)).status).toBe(401);
      expect((await call("DELETE", `/v1/sessions/session/${json.session_id}`)).status).toBe(401);
      expect((await call("GET", `/v1/sessions/usage/${json.session_id}/x`)).status).toBe(401);
    });
  });
});
