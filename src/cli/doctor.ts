import { existsSync, statfsSync } from "node:fs";
import { createServer } from "node:net";
import type { Config } from "../config";
import type { DockerClient } from "../docker/docker-client";
import { defaultSocketCandidates } from "../docker/docker-host";
import { installHelp } from "../docker/engine-setup";
import { binaryFormat, embeddedLinuxName, linuxArch, type LinuxArch } from "../docker/linux-binary";
import { messageOf } from "../errors";
import { findHost } from "../host/daemon";

/** One finding of `coderunner doctor`: what was checked, what was found, and when it fails, the fix in one sentence. */
export interface Check {
  name: string;
  ok: boolean;
  /** A failing blocking check means `coderunner up` cannot work; a non-blocking one is a warning. */
  blocking: boolean;
  detail: string;
  fix?: string;
}

export type EngineProbe =
  | { reachable: true; address: string; version: string; arch: string; rootDir?: string; local: boolean }
  | { reachable: false; address: string; reason: string };

/** What `doctor` looks at, injected so tests can describe any machine. */
export interface DoctorProbes {
  platform: NodeJS.Platform;
  isDebian: boolean;
  /** Set when DOCKER_HOST is; otherwise the sockets tried, in order, and whether each exists. */
  dockerHostSet: boolean;
  sockets: { path: string; exists: boolean }[];
  engine(): Promise<EngineProbe>;
  imagePresent(): Promise<boolean>;
  /** The architecture of the Linux binary an image build would use, or why there is none. */
  imageBinary(): Promise<{ arch: LinuxArch | "other"; source: string } | { missing: string }>;
  /** Free bytes on the filesystem holding `path`, undefined when it cannot be measured from here. */
  freeBytes(path: string): number | undefined;
  portFree(port: number): Promise<boolean>;
  /** True when the CodeRunner host of this instance answers on its port. */
  hostAnswers(): Promise<boolean>;
  /** True when this instance's default sandbox runs (and so holds its port). */
  sandboxRunning(): Promise<boolean>;
}

/** Disk an image build needs: the 1.9 GB image plus the build's intermediate layers. */
export const IMAGE_DISK_BYTES = 4e9;

const GB = (bytes: number) => `${(bytes / 1e9).toFixed(1)} GB`;
/** Docker names CPUs as Go does (`amd64`, `arm64`); Node and the release files as `x64`, `arm64`. */
const engineArch = (arch: string) => (arch === "amd64" || arch === "x86_64" ? "x64" : arch === "aarch64" ? "arm64" : arch);

/** Runs every check; an unreachable Engine skips the checks that need it. */
export async function diagnose(config: Config, probes: DoctorProbes): Promise<Check[]> {
  const checks: Check[] = [];
  const engine = await probes.engine();
  const tried = probes.dockerHostSet ? "from DOCKER_HOST" : `sockets tried: ${probes.sockets.map((s) => `${s.path}${s.exists ? "" : " (absent)"}`).join(", ")}`;
  if (!engine.reachable) {
    const denied = /EACCES|permission/i.test(engine.reason);
    checks.push({
      name: "Docker Engine",
      ok: false,
      blocking: true,
      detail: `not reachable at ${engine.address} (${engine.reason}; ${tried})`,
      fix: denied
        ? "Add yourself to the docker group (`sudo usermod -aG docker $USER`) and log in again."
        : installHelp(probes.platform, probes.isDebian),
    });
  } else {
    checks.push({ name: "Docker Engine", ok: true, blocking: true, detail: `${engine.version} (${engine.arch}) at ${engine.address} (${tried})` });
  }
  if (engine.reachable) {
    const present = await probes.imagePresent();
    const binary = await probes.imageBinary();
    const want = engineArch(engine.arch);
    if (present) {
      checks.push({ name: "Architecture", ok: true, blocking: true, detail: `image ${config.image} is present; nothing to build` });
    } else if ("missing" in binary) {
      checks.push({ name: "Architecture", ok: false, blocking: true, detail: binary.missing, fix: `Use the release binary for this machine (coderunner-${probes.platform}-${want}), or set CODERUNNER_IMAGE_BINARY to a Linux ${want} coderunner.` });
    } else if (binary.arch !== want) {
      checks.push({
        name: "Architecture",
        ok: false,
        blocking: true,
        detail: `the Engine runs ${engine.arch}, the Linux binary for the image (${binary.source}) is ${binary.arch}`,
        fix: `Use the coderunner release built for ${want} (coderunner-${probes.platform}-${want}), or set CODERUNNER_IMAGE_BINARY to a Linux ${want} coderunner.`,
      });
    } else {
      checks.push({ name: "Architecture", ok: true, blocking: true, detail: `the Engine and the image's binary (${binary.source}) are both ${want}` });
    }
    const free = engine.local && engine.rootDir ? probes.freeBytes(engine.rootDir) : undefined;
    if (present) {
      checks.push({ name: "Disk space", ok: true, blocking: false, detail: "the image is built already" });
    } else if (free === undefined) {
      checks.push({
        name: "Disk space",
        ok: true,
        blocking: false,
        detail: `cannot be measured from here (the Engine keeps its data in ${engine.rootDir ?? "a place it does not say"}); the image build needs about ${GB(IMAGE_DISK_BYTES)}`,
      });
    } else {
      const enough = free >= IMAGE_DISK_BYTES;
      checks.push({
        name: "Disk space",
        ok: enough,
        blocking: true,
        detail: `${GB(free)} free in ${engine.rootDir}; the image build needs about ${GB(IMAGE_DISK_BYTES)}`,
        ...(enough ? {} : { fix: "Free space there (`docker system prune` removes unused images and build cache)." }),
      });
    }
  }
  checks.push(await portCheck("API port", config.port, "CODERUNNER_PORT", probes.hostAnswers, "the CodeRunner host", probes));
  if (config.containerPort !== 0) {
    checks.push(await portCheck("Sandbox port", config.containerPort, "CODERUNNER_CONTAINER_PORT", probes.sandboxRunning, `the default sandbox ${config.containerName}`, probes));
  }
  return checks;
}

async function portCheck(name: string, port: number, variable: string, ours: () => Promise<boolean>, owner: string, probes: DoctorProbes): Promise<Check> {
  if (port === 0) return { name, ok: true, blocking: true, detail: "any free port (0)" };
  if (await ours()) return { name, ok: true, blocking: true, detail: `127.0.0.1:${port} is held by ${owner}` };
  if (await probes.portFree(port)) return { name, ok: true, blocking: true, detail: `127.0.0.1:${port} is free` };
  return { name, ok: false, blocking: true, detail: `127.0.0.1:${port} is in use by another program`, fix: `Stop what listens on port ${port}, or set ${variable} to a free port.` };
}

/** The report, one line per check (with its fix under a failing one); the exit code is 1 when a blocking check fails. */
export function formatChecks(checks: Check[]): { text: string; code: number } {
  const lines = checks.flatMap((check) => {
    const mark = check.ok ? "ok  " : check.blocking ? "FAIL" : "warn";
    return [`${mark}  ${check.name.padEnd(14)} ${check.detail}`, ...(check.ok || !check.fix ? [] : [`      ${"".padEnd(14)} → ${check.fix}`])];
  });
  const code = checks.some((check) => !check.ok && check.blocking) ? 1 : 0;
  return { text: `${lines.join("\n")}\n${code ? "Something blocks coderunner: fix what FAIL says, then run coderunner doctor again." : "Nothing blocks coderunner up."}`, code };
}

/** The probes of this machine: the real Engine, filesystem and ports. */
export function realProbes(config: Config, docker: DockerClient, env: Record<string, string | undefined> = process.env): DoctorProbes {
  return {
    platform: process.platform,
    isDebian: existsSync("/etc/debian_version"),
    dockerHostSet: Boolean(env.DOCKER_HOST?.trim()),
    sockets: defaultSocketCandidates(env).map((path) => ({ path, exists: existsSync(path) })),
    async engine() {
      const address = docker.address.display;
      try {
        const version = await docker.version();
        const info = await docker.info().catch(() => undefined);
        // A local socket on Linux is the Engine's own machine; Docker Desktop and Colima put theirs in a VM.
        return { reachable: true, address, version: version.Version, arch: version.Arch, rootDir: info?.DockerRootDir, local: process.platform === "linux" && Boolean(docker.address.socketPath) };
      } catch (error) {
        return { reachable: false, address, reason: messageOf(error) };
      }
    },
    imagePresent: async () => Boolean(await docker.inspectImage(config.image)),
    async imageBinary() {
      const given = env.CODERUNNER_IMAGE_BINARY;
      if (given) {
        const head = await Bun.file(given).slice(0, 64).bytes().catch(() => new Uint8Array());
        const format = binaryFormat(head);
        if (format?.format !== "elf") return { missing: `CODERUNNER_IMAGE_BINARY=${given} is not a Linux executable` };
        return { arch: format.arch, source: "CODERUNNER_IMAGE_BINARY" };
      }
      if (process.platform === "linux") return { arch: linuxArch(), source: "this coderunner" };
      const name = embeddedLinuxName(linuxArch());
      if (Bun.embeddedFiles.some((file) => (file as Blob & { name?: string }).name === name)) return { arch: linuxArch(), source: "the Linux coderunner embedded in this one" };
      return { missing: "this coderunner carries no Linux binary for the image (it is not a release build)" };
    },
    freeBytes(path) {
      try {
        const stats = statfsSync(path);
        return stats.bavail * stats.bsize;
      } catch {
        return undefined;
      }
    },
    portFree: (port) =>
      new Promise((resolve) => {
        const server = createServer();
        server.once("error", () => resolve(false));
        server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
      }),
    hostAnswers: async () => Boolean(await findHost(config)),
    sandboxRunning: async () => (await docker.inspectContainer(config.containerName).catch(() => undefined))?.State.Running === true,
  };
}
