import { describe, expect, test } from "bun:test";
import { loadConfig } from "../../../src/config";
import { containerSettings, containerSpec, endpointOf, LABEL } from "../../../src/docker/container-spec";
import type { ContainerInspect } from "../../../src/docker/docker-types";
import { sameImage } from "../../../src/docker/image-builder";

describe("containerSpec", () => {
  const settings = containerSettings(loadConfig({ CODERUNNER_MEMORY_MB: "2048", CODERUNNER_CPUS: "1.5", CODERUNNER_PIDS_LIMIT: "256", CODERUNNER_CONTAINER_PORT: "9000" }));

  test("publishes on 127.0.0.1 only, drops every capability, forbids privilege gain, sets limits and a restart policy", () => {
    const spec = containerSpec(settings, "k3y");
    expect(spec.HostConfig).toMatchObject({
      PortBindings: { "8223/tcp": [{ HostIp: "127.0.0.1", HostPort: "9000" }] },
      RestartPolicy: { Name: "unless-stopped" },
      Memory: 2048 * 1024 * 1024,
      MemorySwap: 2048 * 1024 * 1024,
      NanoCpus: 1_500_000_000,
      PidsLimit: 256,
      CapDrop: ["ALL"],
      SecurityOpt: ["no-new-privileges"],
    });
    expect(spec.Env).toContain("CODERUNNER_API_KEY=k3y");
    expect(spec.Env).toContain("CODERUNNER_HOST=0.0.0.0");
    expect(spec.Labels).toMatchObject({ [LABEL.managed]: "true", [LABEL.apiKey]: "k3y" });
  });

  test("host port 0 lets Docker choose", () => {
    expect(containerSpec({ ...settings, hostPort: 0 }, "k").HostConfig?.PortBindings?.["8223/tcp"]?.[0]?.HostPort).toBe("");
  });

  test("the endpoint comes from the published loopback port and the key label", () => {
    const info = {
      Id: "abc",
      Config: { Labels: { [LABEL.apiKey]: "k3y" } },
      NetworkSettings: { Ports: { "8223/tcp": [{ HostIp: "127.0.0.1", HostPort: "32768" }] } },
    } as unknown as ContainerInspect;
    expect(endpointOf(info)).toEqual({ id: "abc", baseURL: "http://127.0.0.1:32768", port: 32768, apiKey: "k3y" });
    expect(endpointOf({ ...info, NetworkSettings: { Ports: { "8223/tcp": null } } })).toBeUndefined();
  });

  test("image IDs compare full against short", () => {
    expect(sameImage("sha256:c19dd7b7fb99aaaa", "c19dd7b7fb99")).toBe(true);
    expect(sameImage("sha256:c19dd7b7fb99aaaa", "sha256:c19dd7b7fb99aaaa")).toBe(true);
    expect(sameImage("sha256:c19dd7b7fb99aaaa", "d19dd7b7fb99")).toBe(false);
  });
});
