import { describe, expect, test } from "bun:test";
import { CodeRunnerError, NetworkError, TimeoutError } from "../../../src/client/errors";
import { HTTPTransport } from "../../../src/client/http";

describe("HTTPTransport", () => {
  test("sends JSON with X-API-Key and parses the answer", async () => {
    let seen: { url: string; init: RequestInit } | undefined;
    const transport = new HTTPTransport({
      baseURL: "http://server/",
      apiKey: "k",
      fetch: async (url, init) => ((seen = { url: String(url), init: init! }), Response.json({ ok: 1 })),
    });
    expect(await transport.json("POST", "/execute", { what: "x", json: { command: "1" }, query: { a: 1, b: undefined } })).toEqual({ ok: 1 });
    expect(seen!.url).toBe("http://server/execute?a=1");
    expect((seen!.init.headers as Record<string, string>)["x-api-key"]).toBe("k");
    expect(seen!.init.body).toBe('{"command":"1"}');
  });

  test("a server that never answers hits the client deadline as TimeoutError", async () => {
    const transport = new HTTPTransport({
      baseURL: "http://server",
      fetch: (_url, init) => new Promise((_, reject) => init!.signal!.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError")))),
    });
    const error: any = await transport.json("GET", "/slow", { what: "Waiting", timeoutMs: 20 }).catch((e) => e);
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error.message).toContain("Waiting took longer than 20 ms");
  });

  test("the caller's own abort is passed through as-is, not disguised as a timeout", async () => {
    const transport = new HTTPTransport({
      baseURL: "http://server",
      fetch: (_url, init) => new Promise((_, reject) => init!.signal!.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError")))),
    });
    const controller = new AbortController();
    const pending = transport.json("GET", "/slow", { what: "x", timeoutMs: 10_000, signal: controller.signal }).catch((e) => e);
    controller.abort();
    const error: any = await pending;
    expect(error).not.toBeInstanceOf(CodeRunnerError);
    expect(error.name).toBe("AbortError");
  });

  test("connection failures are NetworkError naming the server", async () => {
    const transport = new HTTPTransport({ baseURL: "http://server:1", fetch: async () => { throw new TypeError("fetch failed"); } });
    const error: any = await transport.json("GET", "/x", { what: "Reading" }).catch((e) => e);
    expect(error).toBeInstanceOf(NetworkError);
    expect(error.message).toBe("Reading: cannot connect to http://server:1 (fetch failed).");
  });

  test("a 2xx that is not JSON is INVALID_RESPONSE", async () => {
    const transport = new HTTPTransport({ baseURL: "http://server", fetch: async () => new Response("<html>proxy login</html>") });
    const error: any = await transport.json("GET", "/x", { what: "Reading" }).catch((e) => e);
    expect(error).toBeInstanceOf(CodeRunnerError);
    expect(error.code).toBe("INVALID_RESPONSE");
  });
});
