import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startTestServer, type TestServer } from "../helpers/server";

/**
 * Every route the OpenAPI document lists, fed the kinds of bad input clients really send: no body,
 * malformed JSON, the wrong JSON shape, wrong types, unknown ids. None may answer 5xx, and every
 * error body must be {detail, code}. Runs against the whole server (all features, real Jupyter and
 * Chromium), so a route added later is swept too.
 */

let server: TestServer;
let spec: { paths: Record<string, Record<string, unknown>> };

beforeAll(async () => {
  server = await startTestServer({ kernelPoolSize: 1 }, { listen: false });
  spec = (await server.call("GET", "/docs/json")).body;
});
afterAll(async () => {
  await server?.stop();
});

const BODIES: [string, string | undefined, Record<string, string>][] = [
  ["no body", undefined, {}],
  ["empty JSON body", "", { "content-type": "application/json" }],
  ["malformed JSON", "{\"a\":", { "content-type": "application/json" }],
  ["a JSON array", "[1, 2]", { "content-type": "application/json" }],
  ["a JSON string", "\"text\"", { "content-type": "application/json" }],
  ["null", "null", { "content-type": "application/json" }],
  ["wrong types", JSON.stringify({ command: 1, session_id: 2, url: 3, selector: 4, filename: 5, timeout: "x", language: 6, viewport_width: "wide" }), { "content-type": "application/json" }],
  ["unknown ids", JSON.stringify({ command: "1", session_id: "nope", task_id: "nope", url: "http://127.0.0.1:9/", selector: "#x", filename: "f", text: "t", value: "v", condition: "load" }), { "content-type": "application/json" }],
  ["a form body", "command=1&session_id=nope", { "content-type": "application/x-www-form-urlencoded" }],
  ["a text body", "print(1)", { "content-type": "text/plain" }],
  ["a multipart body without parts", "--x--\r\n", { "content-type": "multipart/form-data; boundary=x" }],
];

function concrete(path: string): string {
  return path.replace(/\{[^}]+\}|:[A-Za-z_]+/g, "no-such-id");
}

describe("no route answers bad input with a 5xx", () => {
  test("every documented route and method", async () => {
    const failures: string[] = [];
    let calls = 0;
    for (const [path, methods] of Object.entries(spec.paths)) {
      if (path.startsWith("/docs") || path === "/mcp") continue;
      for (const method of Object.keys(methods).map((m) => m.toUpperCase())) {
        const bodies = method === "GET" || method === "DELETE" ? BODIES.slice(0, 1) : BODIES;
        for (const [name, body, headers] of bodies) {
          const response = await server.call(method, concrete(path), body, headers);
          calls++;
          const where = `${method} ${path} with ${name}: ${response.status} ${JSON.stringify(response.body).slice(0, 160)}`;
          if (response.status >= 500 && response.status !== 503) failures.push(where);
          else if (response.status >= 400 && !(typeof response.body?.detail === "string" && typeof response.body?.code === "string")) {
            failures.push(`${where} (not {detail, code})`);
          }
        }
      }
    }
    expect(calls).toBeGreaterThan(100);
    expect(failures).toEqual([]);
  }, 180_000);

  test("the server still works afterwards", async () => {
    const response = await server.call("POST", "/execute", { command: "print('alive')" });
    expect(response.body.stdout).toBe("alive\n");
  });
});
