import { describe, expect, test } from "bun:test";
import { type Check, diagnose, type DoctorProbes, formatChecks } from "../../../src/cli/doctor";
import { loadConfig } from "../../../src/config";
import { binaryFormat } from "../../../src/docker/linux-binary";

const config = loadConfig({});

/** A healthy Linux machine with no image yet; each test changes what it is about. */
const machine = (overrides: Partial<DoctorProbes> = {}): DoctorProbes => ({
  platform: "linux",
  isDebian: true,
  dockerHostSet: false,
  sockets: [{ path: "/var/run/docker.sock", exists: true }],
  engine: async () => ({ reachable: true, address: "unix:///var/run/docker.sock", version: "27.0", arch: "amd64", rootDir: "/var/lib/docker", local: true }),
  imagePresent: async () => false,
  imageBinary: async () => ({ arch: "x64", source: "this coderunner" }),
  freeBytes: () => 50e9,
  portFree: async () => true,
  hostAnswers: async () => false,
  sandboxRunning: async () => false,
  ...overrides,
});

const byName = (checks: Check[], name: string) => checks.find((check) => check.name === name)!;

describe("coderunner doctor", () => {
  test("a ready machine passes every check and exits 0", async () => {
    const checks = await diagnose(config, machine());
    expect(checks.map((check) => check.name)).toEqual(["Docker Engine", "Architecture", "Disk space", "API port", "Sandbox port"]);
    expect(checks.every((check) => check.ok)).toBe(true);
    expect(formatChecks(checks).code).toBe(0);
  });

  test("an Engine that does not answer blocks, names the sockets tried, and says how to get one on a Mac", async () => {
    const probes = machine({
      platform: "darwin",
      sockets: [
        { path: "/var/run/docker.sock", exists: false },
        { path: "/Users/me/.docker/run/docker.sock", exists: false },
      ],
      engine: async () => ({ reachable: false, address: "unix:///var/run/docker.sock", reason: "ENOENT" }),
    });
    const checks = await diagnose(config, probes);
    const engine = byName(checks, "Docker Engine");
    expect(engine.ok).toBe(false);
    expect(engine.detail).toContain("/Users/me/.docker/run/docker.sock (absent)");
    expect(engine.fix).toMatch(/Docker Desktop|colima/i);
    expect(byName(checks, "Architecture")).toBeUndefined();
    const report = formatChecks(checks);
    expect(report.code).toBe(1);
    expect(report.text).toMatch(/FAIL\s+Docker Engine/);
  });

  test("a socket the user may not open says to join the docker group", async () => {
    const checks = await diagnose(config, machine({ engine: async () => ({ reachable: false, address: "unix:///var/run/docker.sock", reason: "EACCES" }) }));
    expect(byName(checks, "Docker Engine").fix).toContain("usermod -aG docker");
  });

  test("an Engine of another architecture than the image's binary blocks, naming the release to use", async () => {
    const checks = await diagnose(config, machine({ engine: async () => ({ reachable: true, address: "tcp://arm:2375", version: "27.0", arch: "arm64", local: false }) }));
    const arch = byName(checks, "Architecture");
    expect(arch.ok).toBe(false);
    expect(arch.fix).toContain("coderunner-linux-arm64");
    expect(formatChecks(checks).code).toBe(1);
  });

  test("a Mac binary that carries no Linux binary blocks when the image must be built, not once it is present", async () => {
    const probes = machine({ platform: "darwin", imageBinary: async () => ({ missing: "this coderunner carries no Linux binary" }) });
    expect(byName(await diagnose(config, probes), "Architecture").ok).toBe(false);
    expect(byName(await diagnose(config, { ...probes, imagePresent: async () => true }), "Architecture").ok).toBe(true);
  });

  test("too little disk for the build blocks; an Engine in a VM is not measured and only warned about", async () => {
    const full = byName(await diagnose(config, machine({ freeBytes: () => 1e9 })), "Disk space");
    expect(full).toMatchObject({ ok: false, blocking: true });
    expect(full.fix).toContain("docker system prune");
    const vm = byName(await diagnose(config, machine({ engine: async () => ({ reachable: true, address: "unix:///Users/me/.docker/run/docker.sock", version: "27.0", arch: "arm64", local: false }), imageBinary: async () => ({ arch: "arm64", source: "embedded" }) })), "Disk space");
    expect(vm.ok).toBe(true);
    expect(vm.detail).toContain("cannot be measured");
  });

  test("a port in use blocks unless CodeRunner itself holds it", async () => {
    const busy = await diagnose(config, machine({ portFree: async () => false }));
    expect(byName(busy, "API port")).toMatchObject({ ok: false, fix: expect.stringContaining("CODERUNNER_PORT") });
    expect(byName(busy, "Sandbox port").fix).toContain("CODERUNNER_CONTAINER_PORT");
    const ours = await diagnose(config, machine({ portFree: async () => false, hostAnswers: async () => true, sandboxRunning: async () => true }));
    expect(byName(ours, "API port").ok).toBe(true);
    expect(byName(ours, "Sandbox port").ok).toBe(true);
  });
});

describe("binaryFormat", () => {
  test("tells ELF and Mach-O apart, and their CPUs", () => {
    const elf = (machine: number) => Uint8Array.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, machine, 0]);
    expect(binaryFormat(elf(0x3e))).toEqual({ format: "elf", arch: "x64" });
    expect(binaryFormat(elf(0xb7))).toEqual({ format: "elf", arch: "arm64" });
    expect(binaryFormat(Uint8Array.from([0xcf, 0xfa, 0xed, 0xfe, 0x0c, 0, 0, 1]))).toEqual({ format: "mach-o", arch: "arm64" });
    expect(binaryFormat(new TextEncoder().encode("#!/bin/sh\n"))).toBeUndefined();
  });
});
