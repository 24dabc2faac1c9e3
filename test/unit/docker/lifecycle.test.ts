import { describe, expect, test } from "bun:test";
import { LABEL, type ContainerSettings } from "../../../src/docker/container-spec";
import { API_VERSION, DockerClient } from "../../../src/docker/docker-client";
import type { ContainerInspect } from "../../../src/docker/docker-types";
import { ContainerManager } from "../../../src/docker/lifecycle";
import { AppError } from "../../../src/errors";

const settings: ContainerSettings = {
  image: "coderunner:unit",
  name: "coderunner-unit",
  hostPort: 0,
  memoryMB: 512,
  cpus: 1,
  pidsLimit: 64,
  upTimeoutSeconds: 0.3,
  logLevel: "info",
};

function frame(text: string): Uint8Array<ArrayBuffer> {
  const data = new TextEncoder().encode(text);
  const out = new Uint8Array(8 + data.length);
  out[0] = 2;
  new DataView(out.buffer).setUint32(4, data.length);
  out.set(data, 8);
  return out;
}

/** A fake Engine holding at most one container; `created` counts creates, `conflictOnCreate` simulates a lost race. */
function fakeEngine(options: { container?: Partial<ContainerInspect["State"]>; conflictOnCreate?: boolean } = {}) {
  const state = { created: 0, started: 0, container: undefined as ContainerInspect | undefined };
  const make = (status: Partial<ContainerInspect["State"]>): ContainerInspect =>
    ({
      Id: "c0ffee",
      Name: `/${settings.name}`,
      Image: "sha256:image",
      RestartCount: 0,
      State: { Status: "exited", Running: false, Restarting: false, ExitCode: 0, OOMKilled: false, Error: "", ...status },
      Config: { Labels: { [LABEL.apiKey]: "secret" }, Tty: false },
      HostConfig: {},
      NetworkSettings: { Ports: status.Running ? { "8223/tcp": [{ HostIp: "127.0.0.1", HostPort: "40001" }] } : {} },
    }) as unknown as ContainerInspect;
  if (options.container) state.container = make(options.container);
  const fetch = async (input: string, init: RequestInit = {}) => {
    const path = decodeURIComponent(new URL(input).pathname.replace(`/${API_VERSION}`, ""));
    const route = `${init.method ?? "GET"} ${path}`;
    if (route === "GET /_ping") return new Response("OK");
    if (route === "GET /images/coderunner:unit/json") return Response.json({ Id: "sha256:image" });
    if (route === `GET /containers/${settings.name}/json` || route === "GET /containers/c0ffee/json") {
      return state.container ? Response.json(state.container) : Response.json({ message: "No such container" }, { status: 404 });
    }
    if (route === "POST /containers/create") {
      state.created++;
      state.container = make({ Status: "created" });
      if (options.conflictOnCreate) return Response.json({ message: "Conflict. The container name is already in use" }, { status: 409 });
      return Response.json({ Id: "c0ffee", Warnings: [] }, { status: 201 });
    }
    if (route === "POST /containers/c0ffee/start") {
      state.started++;
      state.container = make({ Status: "running", Running: true });
      return new Response(null, { status: 204 });
    }
    if (route === `GET /containers/c0ffee/logs`) return new Response(new Blob([frame("Traceback: boom\n"), frame("last words\n")]));
    throw new Error(`unexpected ${route}`);
  };
  const docker = new DockerClient({ host: "unix:///fake.sock", fetch });
  return { state, docker };
}

const healthy = async () => Response.json({ status: "healthy" });
const refused = async () => Promise.reject(Object.assign(new Error("refused"), { code: "ECONNREFUSED" }));

function manager(docker: DockerClient, healthFetch: typeof healthy | typeof refused) {
  return new ContainerManager({ docker, settings, fetch: healthFetch, engine: async () => {}, pollMs: 5 });
}

describe("ContainerManager.up", () => {
  test("creates and starts a missing container, then returns its published address and key", async () => {
    const { docker, state } = fakeEngine();
    const lines: string[] = [];
    const endpoint = await manager(docker, healthy).up({ onProgress: (line) => lines.push(line) });
    expect(endpoint).toEqual({ id: "c0ffee", baseURL: "http://127.0.0.1:40001", port: 40001, apiKey: "secret", action: "created" });
    expect([state.created, state.started]).toEqual([1, 1]);
    expect(lines).toContain("Waiting for CodeRunner to answer on http://127.0.0.1:40001 ...");
  });

  test("starts a stopped container instead of creating one; leaves a running one alone", async () => {
    const stopped = fakeEngine({ container: { Status: "exited" } });
    expect((await manager(stopped.docker, healthy).up()).action).toBe("started");
    expect(stopped.state.created).toBe(0);
    const running = fakeEngine({ container: { Status: "running", Running: true } });
    expect((await manager(running.docker, healthy).up()).action).toBe("running");
    expect(running.state.started).toBe(0);
  });

  test("losing the create race (409) joins the container the other `up` created", async () => {
    const { docker, state } = fakeEngine({ conflictOnCreate: true });
    const endpoint = await manager(docker, healthy).up();
    expect(endpoint.id).toBe("c0ffee");
    expect(state.created).toBe(1);
  });

  test("a container that never answers /health fails at the timeout with its state and last log lines", async () => {
    const { docker } = fakeEngine({ container: { Status: "running", Running: true } });
    const error = await manager(docker, refused).up().catch((e) => e);
    expect(error).toBeInstanceOf(AppError);
    expect(error.code).toBe("DOCKER_UNAVAILABLE");
    expect(error.message).toContain("did not answer /health within 0.3 s (container running)");
    expect(error.message).toContain("Last log lines:\nTraceback: boom\nlast words");
  });

  test("a missing Engine surfaces as DOCKER_UNAVAILABLE from the engine check", async () => {
    const { docker } = fakeEngine();
    const failing = new ContainerManager({
      docker,
      settings,
      engine: async () => {
        throw new AppError("DOCKER_UNAVAILABLE", "Cannot reach the Docker Engine. Install it.");
      },
    });
    const error = await failing.up().catch((e) => e);
    expect(error.message).toBe("Cannot reach the Docker Engine. Install it.");
  });
});
