import type { Config } from "../config";
import { VERSION } from "../version";
import type { ContainerCreateBody, ContainerInspect } from "./docker-types";

/** The port `coderunner serve` listens on inside the container. */
export const API_PORT = 8223;
const PORT_KEY = `${API_PORT}/tcp`;
const MiB = 1024 * 1024;

/** Labels CodeRunner puts on its containers and images. */
export const LABEL = {
  managed: "org.coderunner.managed",
  apiKey: "org.coderunner.api-key",
  version: "org.coderunner.version",
} as const;

/** What the sandbox container is: which image, its name, where it is published, its limits. */
export interface ContainerSettings {
  image: string;
  name: string;
  /** Host port on 127.0.0.1; 0 lets Docker choose one (it may change when the container restarts). */
  hostPort: number;
  memoryMB: number;
  cpus: number;
  pidsLimit: number;
  upTimeoutSeconds: number;
  logLevel: string;
  /** Extra labels (tests mark their containers with one). */
  labels?: Record<string, string>;
}

export function containerSettings(config: Config): ContainerSettings {
  return {
    image: config.image,
    name: config.containerName,
    hostPort: config.containerPort,
    memoryMB: config.memoryMB,
    cpus: config.cpus,
    pidsLimit: config.pidsLimit,
    upTimeoutSeconds: config.upTimeoutSeconds,
    logLevel: config.logLevel,
  };
}

/**
 * The create body of the sandbox container: its API published on 127.0.0.1 only, restarted by the
 * Engine unless stopped on purpose, memory/CPU/process limits, every capability dropped and no
 * privilege gain (setuid binaries stay unprivileged). `apiKey` protects the API inside; the host
 * side reads it back from the label.
 */
export function containerSpec(settings: ContainerSettings, apiKey: string): ContainerCreateBody {
  return {
    Image: settings.image,
    Env: [`CODERUNNER_API_KEY=${apiKey}`, "CODERUNNER_HOST=0.0.0.0", `CODERUNNER_PORT=${API_PORT}`, `CODERUNNER_LOG_LEVEL=${settings.logLevel}`],
    Labels: { ...settings.labels, [LABEL.managed]: "true", [LABEL.apiKey]: apiKey, [LABEL.version]: VERSION },
    ExposedPorts: { [PORT_KEY]: {} },
    HostConfig: {
      PortBindings: { [PORT_KEY]: [{ HostIp: "127.0.0.1", HostPort: settings.hostPort ? String(settings.hostPort) : "" }] },
      RestartPolicy: { Name: "unless-stopped" },
      Memory: settings.memoryMB * MiB,
      MemorySwap: settings.memoryMB * MiB,
      NanoCpus: Math.round(settings.cpus * 1e9),
      PidsLimit: settings.pidsLimit,
      CapDrop: ["ALL"],
      SecurityOpt: ["no-new-privileges"],
      ShmSize: 256 * MiB,
    },
  };
}

/** How to reach the API of a container: its published address and key. */
export interface Endpoint {
  id: string;
  baseURL: string;
  port: number;
  apiKey: string;
}

/** The endpoint of an inspected container, or undefined while it has no published port (not running). */
export function endpointOf(info: ContainerInspect): Endpoint | undefined {
  const binding = info.NetworkSettings?.Ports?.[PORT_KEY]?.find((b) => b.HostIp === "127.0.0.1" || b.HostIp === "") ?? undefined;
  const port = Number(binding?.HostPort);
  if (!binding || !Number.isInteger(port) || port <= 0) return undefined;
  const apiKey = info.Config.Labels?.[LABEL.apiKey] ?? "";
  return { id: info.Id, baseURL: `http://127.0.0.1:${port}`, port, apiKey };
}
