/** Where the Docker Engine listens, from `DOCKER_HOST` (the variable the docker CLI reads). */
export interface EngineAddress {
  /** Base URL of requests: `http://localhost` for a Unix socket, `http://host:port` for TCP. */
  baseURL: string;
  /** Path of the Unix socket, when the Engine listens on one. */
  socketPath?: string;
  /** `DOCKER_HOST` as given, for messages. */
  display: string;
}

export const DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock";

/**
 * Parses `DOCKER_HOST`: `unix:///path`, `tcp://host:port` (plain HTTP, port 2375 by default),
 * `http://` and `https://` URLs. Anything else (e.g. `ssh://`, `npipe://`) is refused with a message.
 */
export function parseDockerHost(value: string | undefined): EngineAddress {
  const raw = value?.trim() || DEFAULT_DOCKER_HOST;
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
