/**
 * The seam between the sandbox manager and what runs sandboxes. The manager (pool, routing, expiry)
 * speaks only this interface; `DockerBackend` implements it over the Engine API, and a Kubernetes
 * backend (a pod per sandbox) can implement it later without touching routing.
 */

/** What a sandbox may use. */
export interface SandboxLimits {
  /** Memory limit in MiB (swap included: no swap beyond it). */
  memoryMB: number;
  /** CPU quota in cores (fractions allowed). */
  cpus: number;
  /** Most processes at once. */
  pidsLimit: number;
  /** Most bytes the sandbox may write to disk, in MiB; enforced as `DiskCap` says. */
  diskMB: number;
}

/** `default`: the sandbox of calls that name no session (fixed name, kept across restarts); `session`: one session's. */
export type SandboxRole = "default" | "session";

export interface SandboxSpec {
  role: SandboxRole;
  limits: SandboxLimits;
  /** Internet egress allowed (private, link-local and host addresses never are). */
  egress: boolean;
}

/** How the host reaches a sandbox's API. */
export interface SandboxAddress {
  baseURL: string;
  apiKey: string;
}

/** A sandbox as the backend sees it. */
export interface SandboxHandle {
  /** The backend's id (a container id). */
  id: string;
  /** A short human name (the container name). */
  name: string;
  role: SandboxRole;
  /** `running` answers (or soon will); `stopped` exists but does not run; `failed` ended by itself. */
  state: "running" | "stopped" | "failed";
  /** Why it stopped, when it ended by itself (exit code, out of memory). */
  stopReason?: string;
  /** Running but frozen (`pause`): its API does not answer until `resume`. */
  paused?: boolean;
  address?: SandboxAddress;
  createdAt: Date;
  limits: SandboxLimits;
  egress: boolean;
  /** False when it runs an older image than the one new sandboxes get. */
  imageCurrent: boolean;
}

/** Which mechanism caps a sandbox's disk writes, and why that one. */
export interface DiskCap {
  mechanism: "storage-opt" | "loop" | "none";
  /** A sentence for logs and /health: what enforces the cap, or why nothing can. */
  detail: string;
}

/** Live figures of one sandbox, from the backend (the container's cgroup). */
export interface SandboxUsage {
  memoryBytes: number | null;
  /** Page cache the memory figure leaves out (it can be dropped at once). */
  cacheBytes?: number | null;
  cpuSeconds: number | null;
  pids: number | null;
  /** Bytes written to its disk, when the disk is one of its own (the loop mechanism). */
  diskBytes?: number | null;
}

export interface SandboxBackend {
  /** Backend name for /health ("docker"). */
  readonly kind: string;
  /** Prepares the backend (engine, image, disk mechanism); idempotent. */
  prepare(onProgress?: (line: string) => void): Promise<void>;
  /** The disk cap in force (known after `prepare`). */
  readonly diskCap: DiskCap;
  /** The most CPUs and memory (MiB) one sandbox can be given (known after `prepare`). */
  capacity(): Promise<{ cpus: number; memoryMB: number }>;
  /** Creates and starts a sandbox; its API may take a moment to answer. Nothing is left behind when it fails. */
  create(spec: SandboxSpec): Promise<SandboxHandle>;
  /** The default sandbox (the backend's configured limits, internet on): created, or started when stopped, with its files kept. */
  ensureDefault(onProgress?: (line: string) => void): Promise<SandboxHandle>;
  start(id: string): Promise<SandboxHandle>;
  stop(id: string): Promise<void>;
  /** Freezes a running sandbox's processes, memory kept; its API does not answer meanwhile. */
  pause(id: string): Promise<void>;
  /** Lets a paused sandbox's processes go on. */
  resume(id: string): Promise<void>;
  /** Removes the sandbox and its files; a missing one is not an error. */
  remove(id: string): Promise<void>;
  /** Every sandbox of this instance, running or not. */
  list(): Promise<SandboxHandle[]>;
  /** The sandbox now (state and address), or undefined when it no longer exists. */
  inspect(id: string): Promise<SandboxHandle | undefined>;
  /** Changes a running sandbox's memory and CPU limits. */
  update(id: string, limits: Pick<SandboxLimits, "memoryMB" | "cpus">): Promise<void>;
  usage(id: string): Promise<SandboxUsage>;
  /** The last lines the sandbox's server wrote (for failures). */
  lastLogLines(id: string, count?: number): Promise<string[]>;
  /** Removes leftovers that belong to no sandbox (disks of removed sandboxes). */
  sweepLeftovers(live: SandboxHandle[]): Promise<void>;
}
