import { existsSync, openSync } from "node:fs";
import { AppError, messageOf } from "../errors";
import { DockerAPIError, DockerConnectionError, type DockerClient } from "./docker-client";

/** The machine facts and effects `ensureEngine` needs; injected in tests. */
export interface EngineEffects {
  platform: NodeJS.Platform;
  isRoot: boolean;
  /** Debian or a derivative (has /etc/debian_version and apt-get). */
  isDebian: boolean;
  which(command: string): string | null;
  /** Runs a command to completion; resolves with its exit code. */
  run(command: string[]): Promise<number>;
  /** Starts `dockerd` in the background, detached, logging to `logFile`. */
  startDaemon(logFile: string): void;
  sleep(ms: number): Promise<void>;
}

export const DOCKERD_LOG = "/var/log/coderunner-dockerd.log";

export const realEngineEffects = (): EngineEffects => ({
  platform: process.platform,
  isRoot: process.getuid?.() === 0,
  isDebian: existsSync("/etc/debian_version") && Bun.which("apt-get") !== null,
  which: (command) => Bun.which(command),
  run: async (command) => {
    const child = Bun.spawn(command, { stdout: "inherit", stderr: "inherit", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
    return child.exited;
  },
  startDaemon: (logFile) => {
    const log = openSync(logFile, "a");
    const child = Bun.spawn(["dockerd"], { stdio: ["ignore", log, log], detached: true } as Parameters<typeof Bun.spawn>[1]);
    child.unref();
  },
  sleep: (ms) => Bun.sleep(ms),
});

/** How to get a Docker Engine on this operating system, as sentences for the user. */
export function installHelp(platform: NodeJS.Platform, isDebian: boolean): string {
  switch (platform) {
    case "darwin":
      return "Install Docker Desktop (https://docs.docker.com/desktop/setup/install/mac-install/) and start it, or use Colima: `brew install colima docker && colima start`. Then run coderunner again.";
    case "win32":
      return "Install Docker Desktop with the WSL 2 backend (https://docs.docker.com/desktop/setup/install/windows-install/) and start it, then run coderunner again.";
    case "linux":
      return isDebian
        ? "Install and start the Docker Engine: `sudo apt-get install -y docker.io && sudo systemctl start docker` (without systemd: `sudo dockerd &`), and add yourself to the docker group (`sudo usermod -aG docker $USER`, then log in again). Run as root, coderunner does this itself."
        : "Install the Docker Engine for your distribution (https://docs.docker.com/engine/install/), start it (`sudo systemctl start docker`), and add yourself to the docker group.";
    default:
      return "Install a Docker Engine (https://docs.docker.com/engine/install/) and start it.";
  }
}

async function waitForEngine(docker: DockerClient, effects: EngineEffects, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await docker.ping()) return true;
    await effects.sleep(250);
  }
  return false;
}

/**
 * Makes sure the Docker Engine answers. When it does not: as root on Linux with a local socket, starts
 * `dockerd` (installing Debian's `docker.io` first if needed), saying so before each step; otherwise
 * throws `DOCKER_UNAVAILABLE` with install help for this operating system.
 */
export async function ensureEngine(
  docker: DockerClient,
  options: { onProgress?: (line: string) => void; effects?: EngineEffects; startTimeoutMs?: number } = {},
): Promise<void> {
  const say = options.onProgress ?? (() => {});
  let reason: string;
  try {
    await docker.pingOrThrow();
    return;
  } catch (error) {
    reason = error instanceof DockerConnectionError || error instanceof DockerAPIError ? error.message : messageOf(error);
  }
  const effects = options.effects ?? realEngineEffects();
  const help = installHelp(effects.platform, effects.isDebian);
  const local = docker.address.socketPath === "/var/run/docker.sock";
  if (/EACCES|permission/i.test(reason)) {
    throw new AppError(
      "DOCKER_UNAVAILABLE",
      `${reason}. Your user may not use the Docker socket: add it to the docker group (\`sudo usermod -aG docker $USER\`, then log in again).`,
    );
  }
  if (effects.platform !== "linux" || !effects.isRoot || !local) {
    throw new AppError("DOCKER_UNAVAILABLE", `${reason}. ${help}`);
  }
  if (!effects.which("dockerd")) {
    if (!effects.isDebian) throw new AppError("DOCKER_UNAVAILABLE", `${reason}, and dockerd is not installed. ${help}`);
    say("The Docker Engine is not installed: installing Debian's docker.io with apt-get (running as root) ...");
    if ((await effects.run(["apt-get", "update", "-qq"])) !== 0 || (await effects.run(["apt-get", "install", "-y", "-qq", "docker.io"])) !== 0) {
      throw new AppError("DOCKER_UNAVAILABLE", `Installing docker.io with apt-get failed. ${help}`);
    }
  }
  say(`The Docker Engine is not running: starting dockerd in the background (log: ${DOCKERD_LOG}) ...`);
  effects.startDaemon(DOCKERD_LOG);
  if (!(await waitForEngine(docker, effects, options.startTimeoutMs ?? 30_000))) {
    throw new AppError("DOCKER_UNAVAILABLE", `dockerd was started but does not answer at ${docker.address.display}; see ${DOCKERD_LOG}.`);
  }
  say("The Docker Engine is running.");
}
