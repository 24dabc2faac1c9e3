/** Where the Docker Engine listens, from `DOCKER_HOST` (the variable the docker CLI reads). */
export interface EngineAddress {
  /** Base URL of requests: `http://localhost` for a Unix socket, `http://host:port` for TCP. */
  baseURL: string;
  /** Path of the Unix socket, when the Engine listens on one. */
  socketPath?: string;
  /** `DOCKER_HOST` as given, for messages. */
  display: string;
}

import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

export const DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock";

/**
 * Sockets tried in order when `DOCKER_HOST` is unset: the standard one, rootless Docker, Docker
 * Desktop's per-user socket, Colima. The first that exists wins; none existing means the standard one.
 */
export function defaultSocketCandidates(env: Record<string, string | undefined> = process.env, home: string = homedir()): string[] {
  return [
    "/var/run/docker.sock",
    ...(env.XDG_RUNTIME_DIR ? [join(env.XDG_RUNTIME_DIR, "docker.sock")] : []),
    join(home, ".docker", "run", "docker.sock"),
    join(home, ".colima", "default", "docker.sock"),
  ];
}

function defaultDockerHost(exists: (path: string) => boolean = existsSync): string {
  const found = defaultSocketCandidates().find((path) => exists(path));
  return found ? `unix://${found}` : DEFAULT_DOCKER_HOST;
}

/**
 * Parses `DOCKER_HOST` (unset: the first existing socket of `defaultSocketCandidates`): `unix:///path`, `tcp://host:port` (plain HTTP, port 2375 by default),
 * `http://` and `https://` URLs. Anything else (e.g. `ssh://`, `npipe://`) is refused with a message.
 */
export function parseDockerHost(value: string | undefined, exists?: (path: string) => boolean): EngineAddress {
  const raw = value?.trim() || defaultDockerHost(exists);
  if (raw.startsWith("unix://")) {
    const socketPath = raw.slice("unix://".length);
    if (!socketPath.startsWith("/")) throw new Error(`DOCKER_HOST=${raw}: a unix:// address needs an absolute socket path`);
    return { baseURL: "http://localhost", socketPath, display: raw };
  }
  if (raw.startsWith("/")) return { baseURL: "http://localhost", socketPath: raw, display: raw };
  const match = /^(tcp|http|https):\/\/([^/]+)\/?$/.exec(raw);
  if (match) {
    const [, scheme, authority] = match;
    const hasPort = /:\d+$/.test(authority!) && !authority!.endsWith("]");
    const port = hasPort ? "" : scheme === "https" ? ":2376" : ":2375";
    return { baseURL: `${scheme === "https" ? "https" : "http"}://${authority}${port}`, display: raw };
  }
  throw new Error(`DOCKER_HOST=${raw} is not supported: use unix:///path/to/docker.sock or tcp://host:port`);
}
