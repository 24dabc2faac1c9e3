import { describe, expect, test } from "bun:test";
import { homedir } from "node:os";
import { API_VERSION, DockerAPIError, DockerClient, DockerConnectionError, DockerStreamError } from "../../../src/docker/docker-client";
import { parseDockerHost } from "../../../src/docker/docker-host";

interface Seen {
  url: string;
  method: string;
  unix?: string;
  headers: Headers;
  body?: string;
}

/** A fake Engine: answers from `routes` ("METHOD /path" without the version) and records each call. */
function fakeEngine(routes: Record<string, () => Response>) {
  const seen: Seen[] = [];
  const fetch = async (input: string, init: RequestInit & { unix?: string } = {}) => {
    const url = new URL(input);
    const body = init.body instanceof ReadableStream ? await new Response(init.body).text() : (init.body as string | undefined);
    seen.push({ url: input, method: init.method ?? "GET", unix: init.unix, headers: new Headers(init.headers), body });
    const path = url.pathname.replace(`/${API_VERSION}`, "");
    const route = routes[`${init.method ?? "GET"} ${path}`];
    if (!route) throw new Error(`unexpected ${init.method} ${path}`);
    return route();
  };
  return { seen, client: new DockerClient({ host: "unix:///run/test.sock", fetch }) };
}

const json = (status: number, body: unknown) => Response.json(body, { status });
const lines = (...messages: unknown[]) => new Response(messages.map((m) => JSON.stringify(m)).join("\r\n") + "\r\n");

describe("DockerClient", () => {
  test("pins the API version in the path and talks over the configured socket", async () => {
    const { client, seen } = fakeEngine({ "GET /version": () => json(200, { Version: "20.10.24", ApiVersion: "1.41" }) });
    expect((await client.version()).Version).toBe("20.10.24");
    expect(seen[0]!.url).toBe("http://localhost/v1.41/version");
    expect(seen[0]!.unix).toBe("/run/test.sock");
  });

  test("an unexpected status becomes a DockerAPIError with the Engine's message", async () => {
    const { client } = fakeEngine({
      "POST /containers/create": () => json(409, { message: 'Conflict. The container name "/coderunner" is already in use' }),
      "POST /containers/abc/start": () => json(500, { message: "driver failed programming external connectivity" }),
      "GET /images/x/json": () => new Response("plain failure", { status: 502 }),
    });
    const conflict = await client.createContainer("coderunner", { Image: "i" }).catch((e) => e);
    expect(conflict).toBeInstanceOf(DockerAPIError);
    expect(conflict.status).toBe(409);
    expect(conflict.engineMessage).toContain("already in use");
    const start = await client.startContainer("abc").catch((e) => e);
    expect(start.status).toBe(500);
    expect(start.message).toContain("POST /containers/abc/start: driver failed");
    expect((await client.inspectImage("x").catch((e) => e)).engineMessage).toBe("plain failure");
  });

  test("declared alternative statuses are answers, not errors (404 → undefined, 304 → false)", async () => {
    const { client } = fakeEngine({
      "GET /containers/missing/json": () => json(404, { message: "No such container: missing" }),
      "GET /images/missing/json": () => json(404, { message: "No such image" }),
      "POST /containers/abc/start": () => new Response(null, { status: 304 }),
      "POST /containers/abc/stop": () => new Response(null, { status: 204 }),
      "DELETE /containers/gone": () => json(404, { message: "No such container" }),
    });
    expect(await client.inspectContainer("missing")).toBeUndefined();
    expect(await client.inspectImage("missing")).toBeUndefined();
    expect(await client.startContainer("abc")).toBe(false);
    expect(await client.stopContainer("abc")).toBe(true);
    expect(await client.removeContainer("gone")).toBe(false);
  });

  test("a removal already under way counts as removed; another conflict is an error", async () => {
    const { client } = fakeEngine({
      "DELETE /containers/going": () => json(409, { message: "removal of container going is already in progress" }),
      "DELETE /containers/stuck": () => json(409, { message: "You cannot remove a running container stuck" }),
    });
    expect(await client.removeContainer("going", { force: true })).toBe(true);
    expect((await client.removeContainer("stuck").catch((e) => e)).status).toBe(409);
  });

  test("a socket that does not answer is a DockerConnectionError naming the address; ping says false", async () => {
    const refused = Object.assign(new Error("connect failed"), { code: "ECONNREFUSED" });
    const client = new DockerClient({ host: "unix:///nowhere.sock", fetch: async () => Promise.reject(refused) });
    expect(await client.ping()).toBe(false);
    const error = await client.pingOrThrow().catch((e) => e);
    expect(error).toBeInstanceOf(DockerConnectionError);
    expect(error.message).toBe("Cannot reach the Docker Engine at unix:///nowhere.sock (ECONNREFUSED)");
  });

  test("build streams the context as the body, reports progress, returns the image ID", async () => {
    const { client, seen } = fakeEngine({
      "POST /build": () =>
        lines({ stream: "Step 1/2 : FROM debian:bookworm-slim\n" }, { stream: " ---> abc\n" }, { aux: { ID: "sha256:feed" } }, { stream: "Successfully built feed\n" }),
    });
    const progress: string[] = [];
    const context = new Blob(["tar bytes"]).stream();
    const id = await client.buildImage(context, { tag: "coderunner:test", labels: { a: "b" }, onProgress: (l) => progress.push(l) });
    expect(id).toBe("sha256:feed");
    expect(progress).toEqual(["Step 1/2 : FROM debian:bookworm-slim", " ---> abc", "Successfully built feed"]);
    const url = new URL(seen[0]!.url);
    expect(url.searchParams.get("t")).toBe("coderunner:test");
    expect(url.searchParams.get("labels")).toBe('{"a":"b"}');
    expect(seen[0]!.headers.get("content-type")).toBe("application/x-tar");
    expect(seen[0]!.body).toBe("tar bytes");
  });

  test("a failed build step inside a 200 stream is a DockerStreamError with the Engine's detail", async () => {
    const { client } = fakeEngine({
      "POST /build": () =>
        lines(
          { stream: "Step 3/9 : RUN apt-get install nope\n" },
          { errorDetail: { code: 100, message: "The command '/bin/sh -c apt-get install nope' returned a non-zero code: 100" }, error: "x" },
        ),
    });
    const error = await client.buildImage(new Blob([""]).stream(), { tag: "t" }).catch((e) => e);
    expect(error).toBeInstanceOf(DockerStreamError);
    expect(error.message).toContain("returned a non-zero code: 100");
  });

  test("logs of a non-TTY container are demultiplexed; import sends repeated changes", async () => {
    const frame = (stream: number, text: string) => {
      const data = new TextEncoder().encode(text);
      const out = new Uint8Array(8 + data.length);
      out[0] = stream;
      new DataView(out.buffer).setUint32(4, data.length);
      out.set(data, 8);
      return out;
    };
    const { client, seen } = fakeEngine({
      "GET /containers/c/logs": () => new Response(new Blob([frame(1, "out\n"), frame(2, "err\n")])),
      "POST /images/create": () => lines({ status: "sha256:1234" }),
    });
    const pieces: string[] = [];
    for await (const piece of client.logs("c", { tty: false, tail: 5 })) pieces.push(`${piece.stream}:${piece.text}`);
    expect(pieces).toEqual(["stdout:out\n", "stderr:err\n"]);
    expect(new URL(seen[0]!.url).searchParams.get("tail")).toBe("5");
    await client.importImage(new Blob(["rootfs"]).stream(), { repo: "debian", tag: "bookworm-slim", changes: ["CMD [\"bash\"]", "ENV A=1"] });
    expect(new URL(seen[1]!.url).searchParams.getAll("changes")).toEqual(['CMD ["bash"]', "ENV A=1"]);
    expect(new URL(seen[1]!.url).searchParams.get("fromSrc")).toBe("-");
  });
});

describe("parseDockerHost", () => {
  test("unix sockets, tcp with and without port, and refusals", () => {
    expect(parseDockerHost(undefined, () => false)).toMatchObject({ baseURL: "http://localhost", socketPath: "/var/run/docker.sock" });
    const colima = `${homedir()}/.colima/default/docker.sock`;
    expect(parseDockerHost("", (path) => path === colima).socketPath).toBe(colima);
    expect(parseDockerHost("unix:///run/user/1000/docker.sock").socketPath).toBe("/run/user/1000/docker.sock");
    expect(parseDockerHost("tcp://10.0.0.5:2375").baseURL).toBe("http://10.0.0.5:2375");
    expect(parseDockerHost("tcp://10.0.0.5:2375").socketPath).toBeUndefined();
    expect(parseDockerHost("tcp://docker.local").baseURL).toBe("http://docker.local:2375");
    expect(() => parseDockerHost("ssh://me@host")).toThrow(/not supported/);
    expect(() => parseDockerHost("unix://relative.sock")).toThrow(/absolute/);
  });
});
