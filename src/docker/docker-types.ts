/** The parts of the Engine API's objects (v1.41) that CodeRunner reads or sends. */
export interface PortBinding {
  HostIp: string;
  HostPort: string;
}

export interface HostConfig {
  /** Bind mounts, `host-path:container-path[:ro]`. */
  PortBindings?: Record<string, PortBinding[]>;
  RestartPolicy?: { Name: "" | "no" | "always" | "unless-stopped" | "on-failure"; MaximumRetryCount?: number };
  Memory?: number;
  MemorySwap?: number;
  NanoCpus?: number;
  PidsLimit?: number;
  CapDrop?: string[];
  CapAdd?: string[];
  SecurityOpt?: string[];
  ShmSize?: number;
  ReadonlyRootfs?: boolean;
  Init?: boolean;
  /** `host-path:container-path[:options]`. */
  Binds?: string[];
  Mounts?: { Type: "bind" | "volume" | "tmpfs"; Source?: string; Target: string; ReadOnly?: boolean; TmpfsOptions?: { SizeBytes?: number; Mode?: number } }[];
  /** Container path → mount options (`rw,noexec,size=64m`). */
  Tmpfs?: Record<string, string>;
  StorageOpt?: Record<string, string>;
  LogConfig?: { Type: string; Config?: Record<string, string> };
}

export interface ContainerCreateBody {
  Image: string;
  Entrypoint?: string[];
  Cmd?: string[];
  Env?: string[];
  Labels?: Record<string, string>;
  ExposedPorts?: Record<string, Record<string, never>>;
  User?: string;
  Tty?: boolean;
  HostConfig?: HostConfig;
}

export interface ContainerState {
  Status: "created" | "running" | "paused" | "restarting" | "removing" | "exited" | "dead";
  Running: boolean;
  Paused: boolean;
  Restarting: boolean;
  OOMKilled: boolean;
  Pid: number;
  ExitCode: number;
  Error: string;
  StartedAt: string;
  FinishedAt: string;
  Health?: { Status: "starting" | "healthy" | "unhealthy" | "none"; FailingStreak: number };
}

export interface ContainerInspect {
  Id: string;
  Name: string;
  Image: string;
  Created: string;
  RestartCount: number;
  State: ContainerState;
  Config: { Image: string; Env: string[] | null; Labels: Record<string, string> | null; Tty: boolean; User: string };
  HostConfig: HostConfig;
  NetworkSettings: {
    Ports: Record<string, PortBinding[] | null> | null;
    IPAddress?: string;
    Gateway?: string;
    Networks?: Record<string, { IPAddress: string; Gateway: string }>;
  };
}

export interface ContainerSummary {
  Id: string;
  Names: string[];
  Image: string;
  State: string;
  Status: string;
  Labels: Record<string, string>;
}

export interface ImageInspect {
  Id: string;
  RepoTags: string[] | null;
  Created: string;
  Size: number;
  Config: { Labels: Record<string, string> | null } | null;
}

/** The parts of `GET /info` CodeRunner reads. */
export interface EngineInfo {
  Driver: string;
  DriverStatus: [string, string][] | null;
  SecurityOptions: string[] | null;
  NCPU: number;
  MemTotal: number;
  OperatingSystem: string;
  CgroupVersion?: string;
  /** Where the Engine keeps images and containers (on its own machine: a VM under Docker Desktop). */
  DockerRootDir?: string;
}

/** The parts of one `GET /containers/{id}/stats` sample CodeRunner reads. */
export interface ContainerStats {
  memory_stats: { usage?: number; limit?: number; stats?: Record<string, number> };
  cpu_stats: { cpu_usage: { total_usage: number } };
  pids_stats?: { current?: number; limit?: number };
}
