import type { Config } from "../config";
import { VERSION } from "../version";
import type { ContainerCreateBody, ContainerInspect, HostConfig } from "./docker-types";

/** The port `coderunner serve` listens on inside the container. */
export const API_PORT = 8223;
const PORT_KEY = `${API_PORT}/tcp`;
const MiB = 1024 * 1024;

/** Labels CodeRunner puts on its containers and images. */
export const LABEL = {
  managed: "org.coderunner.managed",
  apiKey: "org.coderunner.api-key",
  version: "org.coderunner.version",
  /** Which host instance owns the container (its default container's name). */
  instance: "org.coderunner.instance",
  /** `default` or `session` (see `SandboxRole`). */
  role: "org.coderunner.role",
  /** `on` or `off`: internet egress. */
  egress: "org.coderunner.egress",
  /** The disk cap: `<mechanism>:<MiB>`. */
  disk: "org.coderunner.disk",
  /** The uid the sandbox's code runs as: a restarted host knows which are taken. */
  uid: "org.coderunner.uid",
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
  /** The published image to pull when `image` is absent, before building it (`<registry>:<version>`). */
  published?: string;
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
    ...(config.registry === "none" ? {} : { published: `${config.registry}:${VERSION}` }),
  };
}

/** What makes a container one sandbox: its role, network, disk and the environment of its server. */
export interface SandboxOptions {
  role: "default" | "session";
  egress: boolean;
  /** Disk cap in MiB, recorded in a label with the mechanism enforcing it. */
  diskMB: number;
  diskMechanism: string;
  /** Bind mounts of the sandbox's disk; with any, the root filesystem is read-only. */
  mounts?: { Type: "bind"; Source: string; Target: string }[];
  /** `StorageOpt` of the writable layer (a size cap where the Engine supports it). */
  storageOpt?: Record<string, string>;
  /** Extra environment of the sandbox's server. */
  env?: string[];
  /** The uid its code runs as (recorded in a label; `confinement` passes it into the container). */
  sandboxUid?: number;
  /** Create-body fields that confine the server and its code (user, capabilities, environment; see `src/confinement/container.ts`). */
  confinement?: { User: string; Env: string[]; HostConfig: Partial<HostConfig> };
}

/**
 * The create body of a sandbox container: its API published on 127.0.0.1 only, memory/CPU/process
 * limits, every capability dropped but those `confinement` needs, no privilege gain (setuid binaries
 * stay unprivileged), a bounded log. The default sandbox restarts with the Engine unless stopped on
 * purpose; session sandboxes do not (a session whose server died is gone, and says so). `apiKey`
 * protects the API inside; the host reads it back from the label.
 */
export function containerSpec(settings: ContainerSettings, apiKey: string, sandbox?: SandboxOptions): ContainerCreateBody {
  const role = sandbox?.role ?? "default";
  const confined = sandbox?.confinement;
  const hostConfig: HostConfig = {
    PortBindings: { [PORT_KEY]: [{ HostIp: "127.0.0.1", HostPort: settings.hostPort ? String(settings.hostPort) : "" }] },
    RestartPolicy: { Name: role === "default" ? "unless-stopped" : "no" },
    Memory: settings.memoryMB * MiB,
    MemorySwap: settings.memoryMB * MiB,
    NanoCpus: Math.round(settings.cpus * 1e9),
    PidsLimit: settings.pidsLimit,
    CapDrop: ["ALL"],
    SecurityOpt: ["no-new-privileges"],
    ShmSize: 256 * MiB,
    // The server's own log: bounded, so nothing fills the host's disk through it.
    LogConfig: { Type: "json-file", Config: { "max-size": "10m", "max-file": "2" } },
    ...confined?.HostConfig,
  };
  if (sandbox?.mounts?.length) {
    // The disk's directories are the only writable paths; the server's state is on a small tmpfs.
    hostConfig.Mounts = sandbox.mounts;
    hostConfig.ReadonlyRootfs = true;
    hostConfig.Tmpfs ??= { "/run": "rw,nosuid,nodev,noexec,mode=0755,size=64m" };
  }
  if (sandbox?.storageOpt) hostConfig.StorageOpt = sandbox.storageOpt;
  const labels: Record<string, string> = {
    ...settings.labels,
    [LABEL.managed]: "true",
    [LABEL.apiKey]: apiKey,
    [LABEL.version]: VERSION,
  };
  if (sandbox) {
    Object.assign(labels, {
      [LABEL.instance]: settings.labels?.[LABEL.instance] ?? "",
      [LABEL.role]: role,
      [LABEL.egress]: sandbox.egress ? "on" : "off",
      [LABEL.disk]: `${sandbox.diskMechanism}:${sandbox.diskMB}`,
    });
    if (sandbox.sandboxUid !== undefined) labels[LABEL.uid] = String(sandbox.sandboxUid);
  }
  return {
    Image: settings.image,
    ...(confined ? { User: confined.User } : {}),
    Env: [
      `CODERUNNER_API_KEY=${apiKey}`,
      "CODERUNNER_HOST=0.0.0.0",
      `CODERUNNER_PORT=${API_PORT}`,
      `CODERUNNER_LOG_LEVEL=${settings.logLevel}`,
      ...(confined?.Env ?? []),
      ...(sandbox?.env ?? []),
    ],
    Labels: labels,
    ExposedPorts: { [PORT_KEY]: {} },
    HostConfig: hostConfig,
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
