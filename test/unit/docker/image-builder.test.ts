import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { API_VERSION, DockerClient } from "../../../src/docker/docker-client";
import { ImageBuilder, splitReference } from "../../../src/docker/image-builder";

const PUBLISHED = "registry.example:5000/coderunner/coderunner:0.1.0";
const dir = mkdtempSync(join(tmpdir(), "coderunner-image-builder-"));
const saved = { XDG_STATE_HOME: process.env.XDG_STATE_HOME, CODERUNNER_IMAGE_BINARY: process.env.CODERUNNER_IMAGE_BINARY };

beforeAll(() => {
  process.env.XDG_STATE_HOME = dir;
  process.env.CODERUNNER_IMAGE_BINARY = join(dir, "linux-coderunner");
  writeFileSync(process.env.CODERUNNER_IMAGE_BINARY, "binary");
});
afterAll(() => {
  for (const [name, value] of Object.entries(saved)) value === undefined ? delete process.env[name] : (process.env[name] = value);
  rmSync(dir, { recursive: true, force: true });
});

/** A fake Engine with the base image but not coderunner:unit; records the routes called. */
function fakeEngine(options: { pullFails: boolean }) {
  const routes: string[] = [];
  const tagged = new Set<string>();
  const fetch = async (input: string, init: RequestInit = {}) => {
    const url = new URL(input);
    const route = `${init.method ?? "GET"} ${decodeURIComponent(url.pathname.replace(`/${API_VERSION}`, ""))}`;
    routes.push(`${route}${url.search ? decodeURIComponent(url.search) : ""}`);
    if (route === "GET /images/debian:bookworm-slim/json") return Response.json({ Id: "sha256:base" });
    if (route === "GET /images/coderunner:unit/json") return tagged.has("coderunner:unit") ? Response.json({ Id: "sha256:published" }) : Response.json({ message: "No such image" }, { status: 404 });
    if (route === "POST /images/create") {
      return options.pullFails
        ? Response.json({ message: "Get https://registry.example:5000/v2/: no such host" }, { status: 500 })
        : new Response(`${JSON.stringify({ status: "Pull complete" })}\n`);
    }
    if (route === `POST /images/${PUBLISHED}/tag`) {
      tagged.add(`${url.searchParams.get("repo")}:${url.searchParams.get("tag")}`);
      return new Response(null, { status: 201 });
    }
    if (route === "POST /build") {
      await new Response(init.body as ReadableStream).arrayBuffer();
      return new Response(`${JSON.stringify({ aux: { ID: "sha256:built" } })}\n`);
    }
    return Response.json({ message: `unexpected ${route}` }, { status: 500 });
  };
  return { routes, docker: new DockerClient({ host: "tcp://engine:2375", fetch: fetch as typeof globalThis.fetch }) };
}

describe("ImageBuilder.ensureImage", () => {
  test("pulls the published image of its version and tags it, building nothing", async () => {
    const engine = fakeEngine({ pullFails: false });
    const said: string[] = [];
    const id = await new ImageBuilder({ docker: engine.docker, image: "coderunner:unit", published: PUBLISHED }).ensureImage((line) => said.push(line));
    expect(id).toBe("sha256:published");
    expect(engine.routes).toContain("POST /images/create?fromImage=registry.example:5000/coderunner/coderunner&tag=0.1.0");
    expect(engine.routes).toContain(`POST /images/${PUBLISHED}/tag?repo=coderunner&tag=unit`);
    expect(engine.routes.some((route) => route.startsWith("POST /build"))).toBe(false);
    expect(said).toContain(`Pulled image ${PUBLISHED} as coderunner:unit.`);
  });

  test("builds from the embedded Dockerfile when the registry cannot be reached, saying why", async () => {
    const engine = fakeEngine({ pullFails: true });
    const said: string[] = [];
    const id = await new ImageBuilder({ docker: engine.docker, image: "coderunner:unit", published: PUBLISHED }).ensureImage((line) => said.push(line));
    expect(id).toBe("sha256:built");
    expect(said.some((line) => line.startsWith(`Cannot pull ${PUBLISHED}`) && line.includes("no such host"))).toBe(true);
    expect(engine.routes.some((route) => route.startsWith("POST /build?"))).toBe(true);
  });

  test("without a published image it builds at once", async () => {
    const engine = fakeEngine({ pullFails: false });
    expect(await new ImageBuilder({ docker: engine.docker, image: "coderunner:unit" }).ensureImage()).toBe("sha256:built");
    expect(engine.routes.some((route) => route.startsWith("POST /images/create"))).toBe(false);
  });
});

test("splitReference keeps a registry's port out of the tag", () => {
  expect(splitReference("registry.example:5000/a/b:1.2")).toEqual(["registry.example:5000/a/b", "1.2"]);
  expect(splitReference("registry.example:5000/a/b")).toEqual(["registry.example:5000/a/b", "latest"]);
  expect(splitReference("debian:bookworm-slim")).toEqual(["debian", "bookworm-slim"]);
});
