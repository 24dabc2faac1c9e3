import { randomBytes, randomInt } from "node:crypto";
import { networkInterfaces } from "node:os";
import { AppError, messageOf } from "../errors";
import type { Logger } from "../log";
import { silentLogger } from "../log";
import { containerSpec, endpointOf, LABEL, type ContainerSettings, type SandboxOptions } from "../docker/container-spec";
import { DockerAPIError, type DockerClient } from "../docker/docker-client";
import type { ContainerInspect, HostConfig } from "../docker/docker-types";
import { ImageBuilder, sameImage } from "../docker/image-builder";
import { ensureEngine } from "../docker/engine-setup";
import { ContainerManager, dockerFailure } from "../docker/lifecycle";
import { confinedContainer, SANDBOX_UID_RANGE, userProcessBudget } from "../confinement/container";
import { SANDBOX_USER } from "../confinement/layout";
import type { DiskCap, SandboxBackend, SandboxHandle, SandboxLimits, SandboxSpec, SandboxUsage } from "./backend";
import { LoopDisks } from "./loop-disks";

const MiB = 1024 * 1024;

/** What the host puts into a sandbox's create body to confine its server and code (see `src/confinement`). */
export type Confine = (options: { egress: boolean; denyCIDRs: string[]; readonlyRootfs?: boolean; sandboxUid?: number; userProcesses?: number }) => {
  User: string;
  Env: string[];
  HostConfig: Partial<HostConfig>;
};

export interface DockerBackendOptions {
  docker: DockerClient;
  /** Image, instance name (the default sandbox's container name), default limits, labels. */
  settings: ContainerSettings;
  /** Where per-sandbox disks live when they are loop-mounted. */
  diskDir: string;
  /** The default sandbox's disk cap in MiB (session sandboxes ask for theirs). */
  diskMB: number;
  /** `auto` picks the best the Engine and this host allow. */
  diskMechanism?: "auto" | DiskCap["mechanism"];
  /** Default: the image's own confinement (`confinedContainer`); tests may pass another. */
  confine?: Confine;
  /** Destinations sandboxes may never reach besides private and link-local ranges; default: this host's addresses. */
  denyCIDRs?: string[];
  /** Makes sure the Engine answers (installs/starts it where allowed). */
  engine?: (say: (line: string) => void) => Promise<void>;
  images?: ImageBuilder;
  disks?: LoopDisks;
  /** True when this process may mount loop devices for the Engine (root on Linux, the Engine local and rootful). */
  canMount?: () => boolean;
  log?: Logger;
}

/** This host's own addresses (every interface but loopback), as /32 and /128 CIDRs. */
export function hostAddresses(): string[] {
  const found: string[] = [];
  for (const addresses of Object.values(networkInterfaces())) {
    for (const address of addresses ?? []) {
      if (address.internal) continue;
      found.push(`${address.address.split("%")[0]}/${address.family === "IPv6" ? 128 : 32}`);
    }
  }
  return [...new Set(found)];
}

/**
 * The environment of a session sandbox's server: one session, working in the workspace itself; one
 * warm kernel, no spare; no idle expiry of its own (the host decides).
 */
const SESSION_SERVER_ENV = ["CODERUNNER_ONE_SESSION=true", "CODERUNNER_KERNEL_POOL_SIZE=1", "CODERUNNER_KERNEL_POOL_REFILL=false", "CODERUNNER_SESSION_IDLE_SECONDS=315360000"];

/**
 * Sandboxes as Docker containers of the CodeRunner image, one per session plus the default one,
 * all labelled with this instance's name so a restarted host finds them again. Limits are the
 * container's cgroup; the network rules and the uid split are the image's (`src/confinement`); the
 * disk cap is the Engine's `StorageOpt` where it supports one, else a loop-mounted filesystem per
 * sandbox where this host may mount, else none (said at start and in /health).
 *
 * The code of each session sandbox runs as a uid of its own (label `org.coderunner.uid`), with a
 * process budget below the container's pids limit: whatever it forks, the sandbox's server keeps
 * room to run, and no sandbox's budget counts another's processes. The default sandbox keeps the
 * image's uid 1000 (its files outlive the container) and no budget of its own: uid 1000 is
 * commonly a real account on the Engine's machine, whose processes the budget would count too.
 */
export class DockerBackend implements SandboxBackend {
  readonly kind = "docker";
  readonly docker: DockerClient;
  readonly settings: ContainerSettings;
  readonly images: ImageBuilder;
  readonly disks: LoopDisks;
  private readonly log: Logger;
  private readonly denyCIDRs: string[];
  private imageID: string | undefined;
  private cap: DiskCap = { mechanism: "none", detail: "not prepared yet" };
  private prepared: Promise<void> | undefined;
  /** CPUs the Engine's machine has (and so every container sees): the server's reserve grows with them. */
  private engineCPUs = 1;
  /** Uids of session sandboxes being created, not yet visible in a container's label. */
  private readonly claimedUids = new Set<number>();
  /** The default sandbox's container lifecycle (create or resume, wait, down). */
  readonly defaultContainer: ContainerManager;

  constructor(private readonly options: DockerBackendOptions) {
    this.docker = options.docker;
    this.settings = { ...options.settings, labels: { ...options.settings.labels, [LABEL.instance]: options.settings.name } };
    this.images = options.images ?? new ImageBuilder({ docker: this.docker, image: this.settings.image, published: this.settings.published });
    this.disks = options.disks ?? new LoopDisks(options.diskDir);
    this.log = options.log ?? silentLogger;
    this.denyCIDRs = options.denyCIDRs ?? hostAddresses();
    this.defaultContainer = new ContainerManager({
      docker: this.docker,
      settings: this.settings,
      images: this.images,
      engine: options.engine,
      sandbox: () => this.sandboxOptions({ role: "default", limits: this.defaultLimits(), egress: true }, this.settings.name),
    });
  }

  get instance(): string {
    return this.settings.name;
  }

  get diskCap(): DiskCap {
    return this.cap;
  }

  private defaultLimits(): SandboxLimits {
    return { memoryMB: this.settings.memoryMB, cpus: this.settings.cpus, pidsLimit: this.settings.pidsLimit, diskMB: this.options.diskMB };
  }

  prepare(onProgress: (line: string) => void = () => {}): Promise<void> {
    this.prepared ??= (async () => {
      try {
        await (this.options.engine ?? ((say) => ensureEngine(this.docker, { onProgress: say })))(onProgress);
        // A CPU quota above the machine's CPUs is refused by the Engine.
        this.engineCPUs = (await this.capacity()).cpus;
        this.settings.cpus = Math.min(this.settings.cpus, this.engineCPUs);
        // Session sandboxes get the configured pids limit: one too small for a budget fails here, not at every session.
        userProcessBudget(this.settings.pidsLimit, this.engineCPUs);
        this.imageID = await this.images.ensureImage(onProgress);
        this.cap = await this.chooseDiskCap();
        this.log.info(`Sandbox disk cap: ${this.cap.mechanism} (${this.cap.detail})`);
      } catch (error) {
        this.prepared = undefined;
        throw dockerFailure(error, "Cannot prepare the sandboxes");
      }
    })();
    return this.prepared;
  }

  private async chooseDiskCap(): Promise<DiskCap> {
    const wanted = this.options.diskMechanism ?? "auto";
    if (wanted === "none") return { mechanism: "none", detail: "switched off (CODERUNNER_DISK_CAP=none): a sandbox may fill the Engine's disk" };
    if (wanted === "auto" || wanted === "storage-opt") {
      const refused = await this.storageOptRefusal();
      if (!refused) return { mechanism: "storage-opt", detail: "the Engine caps each sandbox's writable layer (--storage-opt size)" };
      if (wanted === "storage-opt") throw new AppError("DOCKER_UNAVAILABLE", `CODERUNNER_DISK_CAP=storage-opt, but the Engine refuses it: ${refused}`);
      this.log.debug(`The Engine cannot cap writable layers (${refused})`);
    }
    const canMount = this.options.canMount ?? (() => this.mountsVisibleToEngine());
    if (canMount()) {
      return { mechanism: "loop", detail: "each sandbox writes to its own loop-mounted ext4 filesystem of that size; the root filesystem is read-only" };
    }
    if (wanted === "loop") throw new AppError("DOCKER_UNAVAILABLE", "CODERUNNER_DISK_CAP=loop needs root on Linux with a local, rootful Docker Engine.");
    return {
      mechanism: "none",
      detail:
        "nothing caps what a sandbox writes: the Engine's storage driver has no size option here (overlay2 needs xfs with pquota), and loop-mounted disks need coderunner to run as root on Linux beside a rootful Engine",
    };
  }

  /** Undefined when the Engine accepts a size on a container's writable layer, else its refusal. */
  private async storageOptRefusal(): Promise<string | undefined> {
    const name = `${this.instance}-probe-${randomBytes(4).toString("hex")}`;
    try {
      const created = await this.docker.createContainer(name, {
        Image: this.settings.image,
        Labels: { ...this.settings.labels, [LABEL.managed]: "true" },
        HostConfig: { StorageOpt: { size: "1G" } },
      });
      await this.docker.removeContainer(created.Id, { force: true });
      return undefined;
    } catch (error) {
      await this.docker.removeContainer(name, { force: true }).catch(() => false);
      if (error instanceof DockerAPIError) return error.engineMessage;
      throw error;
    }
  }

  private mountsVisibleToEngine(): boolean {
    if (process.platform !== "linux" || process.getuid?.() !== 0) return false;
    if (this.docker.address.socketPath === undefined) return false;
    return Bun.which("mkfs.ext4") !== null && Bun.which("mount") !== null && Bun.which("umount") !== null;
  }

  /**
   * Network, disk and confinement of a sandbox named `name`; provisions its disk. A session sandbox
   * gets `uid` for its code and a process budget; the default one, the image's uid and none.
   */
  private async sandboxOptions(spec: SandboxSpec, name: string, uid?: number): Promise<SandboxOptions> {
    const diskMB = spec.limits.diskMB;
    const loop = this.cap.mechanism === "loop";
    const confine = this.options.confine ?? confinedContainer;
    const own = spec.role === "session" && uid !== undefined;
    const codeUid = own ? uid : SANDBOX_USER.uid;
    let userProcesses: number | undefined;
    try {
      userProcesses = own ? userProcessBudget(spec.limits.pidsLimit, this.engineCPUs) : undefined;
    } catch (error) {
      throw new AppError("VALIDATION_ERROR", messageOf(error));
    }
    const options: SandboxOptions = {
      role: spec.role,
      egress: spec.egress,
      diskMB,
      diskMechanism: this.cap.mechanism,
      env: spec.role === "session" ? SESSION_SERVER_ENV : [],
      sandboxUid: codeUid,
      confinement: confine({ egress: spec.egress, denyCIDRs: this.denyCIDRs, readonlyRootfs: loop, ...(own ? { sandboxUid: uid, userProcesses } : {}) }),
    };
    if (this.cap.mechanism === "storage-opt") options.storageOpt = { size: `${diskMB}M` };
    if (loop) options.mounts = await this.disks.provision(name, diskMB * MiB, codeUid);
    return options;
  }

  /**
   * A uid for the code of a new session sandbox, from `SANDBOX_UID_RANGE`: none that a container of
   * any CodeRunner instance on this Engine carries (running or stopped), nor one a start under way
   * here holds. Picked at random, so hosts starting sandboxes side by side rarely pick alike.
   * Release it with `claimedUids.delete` once the container (and so its label) exists, or failed.
   */
  private async claimUid(): Promise<number> {
    const labelled = await this.docker.listContainers({ all: true, filters: { label: [LABEL.uid] } });
    const taken = new Set([...this.claimedUids, ...labelled.map((container) => Number(container.Labels?.[LABEL.uid]))]);
    const { first, last } = SANDBOX_UID_RANGE;
    const free = (uid: number) => !taken.has(uid);
    let uid: number | undefined;
    for (let attempt = 0; attempt < 64 && uid === undefined; attempt++) {
      const candidate = first + randomInt(last - first + 1);
      if (free(candidate)) uid = candidate;
    }
    for (let candidate = first; uid === undefined && candidate <= last; candidate++) if (free(candidate)) uid = candidate;
    if (uid === undefined) throw new AppError("DOCKER_UNAVAILABLE", `Every sandbox uid (${first}-${last}) is taken by a container on this Engine.`);
    this.claimedUids.add(uid);
    return uid;
  }

  async capacity(): Promise<{ cpus: number; memoryMB: number }> {
    const info = await this.docker.info();
    return { cpus: info.NCPU, memoryMB: Math.floor(info.MemTotal / MiB) };
  }

  async create(spec: SandboxSpec): Promise<SandboxHandle> {
    await this.prepare();
    const name = `${this.instance}-${randomBytes(6).toString("hex")}`;
    const apiKey = randomBytes(24).toString("base64url");
    const settings: ContainerSettings = { ...this.settings, name, hostPort: 0, memoryMB: spec.limits.memoryMB, cpus: spec.limits.cpus, pidsLimit: spec.limits.pidsLimit };
    let id: string | undefined;
    let uid: number | undefined;
    try {
      if (spec.role === "session") uid = await this.claimUid();
      const body = containerSpec(settings, apiKey, await this.sandboxOptions(spec, name, uid));
      id = (await this.docker.createContainer(name, body)).Id;
      await this.docker.startContainer(id);
      const handle = await this.inspect(id);
      if (!handle) throw new AppError("DOCKER_UNAVAILABLE", `Sandbox ${name} vanished right after it was started.`);
      return handle;
    } catch (error) {
      // Nothing is left behind by a failed start: the container (if any) and its disk go.
      await this.docker.removeContainer(id ?? name, { force: true }).catch(() => false);
      await this.disks.release(name).catch(() => undefined);
      throw dockerFailure(error, `Cannot start a sandbox`);
    } finally {
      // Created (its label now holds the uid) or gone.
      if (uid !== undefined) this.claimedUids.delete(uid);
    }
  }

  async ensureDefault(onProgress?: (line: string) => void): Promise<SandboxHandle> {
    await this.prepare(onProgress);
    // A loop-mounted disk is not mounted again by the Engine after a reboot: mount it before the container starts.
    const existing = await this.docker.inspectContainer(this.instance);
    if (existing && this.cap.mechanism === "loop" && existing.Config.Labels?.[LABEL.disk]?.startsWith("loop:")) {
      const diskMB = Number(existing.Config.Labels[LABEL.disk].split(":")[1]);
      await this.disks.provision(this.instance, diskMB * MiB, SANDBOX_USER.uid);
    }
    const endpoint = await this.defaultContainer.up({ onProgress });
    const handle = await this.inspect(endpoint.id);
    if (!handle) throw new AppError("DOCKER_UNAVAILABLE", `The default sandbox ${this.instance} vanished right after it started.`);
    return handle;
  }

  async start(id: string): Promise<SandboxHandle> {
    await this.docker.startContainer(id);
    const handle = await this.inspect(id);
    if (!handle) throw new AppError("DOCKER_UNAVAILABLE", `Sandbox ${id} vanished while starting.`);
    return handle;
  }

  async stop(id: string): Promise<void> {
    await this.docker.stopContainer(id, { timeoutSeconds: 5 }).catch((error) => {
      if (!(error instanceof DockerAPIError && error.status === 404)) throw error;
    });
  }

  async pause(id: string): Promise<void> {
    await this.docker.pauseContainer(id).catch((error) => {
      throw dockerFailure(error, "Cannot pause the sandbox");
    });
  }

  async resume(id: string): Promise<void> {
    await this.docker.unpauseContainer(id).catch((error) => {
      throw dockerFailure(error, "Cannot resume the sandbox");
    });
  }

  async remove(id: string): Promise<void> {
    const info = await this.docker.inspectContainer(id);
    try {
      await this.docker.removeContainer(id, { force: true, volumes: true });
    } catch (error) {
      // Two removals at once (a close racing the sweeper): the Engine does it once; wait for it.
      if (!(error instanceof DockerAPIError && error.status === 409)) throw error;
      for (let i = 0; i < 100 && (await this.docker.inspectContainer(id)); i++) await Bun.sleep(100);
    }
    const name = info?.Name.replace(/^\//, "");
    if (name) await this.disks.release(name).catch((error) => this.log.warn(`Releasing the disk of ${name}: ${messageOf(error)}`));
  }

  async list(): Promise<SandboxHandle[]> {
    const summaries = await this.docker.listContainers({ all: true, filters: { label: [`${LABEL.instance}=${this.instance}`] } });
    const handles = await Promise.all(summaries.map((summary) => this.inspect(summary.Id)));
    return handles.filter((handle): handle is SandboxHandle => handle !== undefined);
  }

  async inspect(id: string): Promise<SandboxHandle | undefined> {
    const info = await this.docker.inspectContainer(id);
    return info ? this.handleOf(info) : undefined;
  }

  private handleOf(info: ContainerInspect): SandboxHandle {
    const labels = info.Config.Labels ?? {};
    const name = info.Name.replace(/^\//, "");
    const state = info.State;
    const endpoint = state.Running ? endpointOf(info) : undefined;
    const diskMB = Number((labels[LABEL.disk] ?? "").split(":")[1] ?? 0) || 0;
    let handleState: SandboxHandle["state"] = state.Running || state.Restarting ? "running" : "stopped";
    let stopReason: string | undefined;
    if (!state.Running && !state.Restarting && state.Status !== "created" && (state.OOMKilled || state.ExitCode !== 0)) {
      handleState = "failed";
      stopReason = state.OOMKilled ? "out of memory" : `its server exited with code ${state.ExitCode}${state.Error ? ` (${state.Error})` : ""}`;
    }
    return {
      id: info.Id,
      name,
      role: labels[LABEL.role] === "session" ? "session" : "default",
      state: handleState,
      stopReason,
      paused: state.Paused === true || undefined,
      address: endpoint ? { baseURL: endpoint.baseURL, apiKey: endpoint.apiKey } : undefined,
      createdAt: new Date(info.Created),
      limits: {
        memoryMB: Math.round((info.HostConfig.Memory ?? 0) / MiB),
        cpus: (info.HostConfig.NanoCpus ?? 0) / 1e9,
        pidsLimit: info.HostConfig.PidsLimit ?? 0,
        diskMB,
      },
      egress: labels[LABEL.egress] !== "off",
      imageCurrent: this.imageID ? sameImage(info.Image, this.imageID) : true,
    };
  }

  async update(id: string, limits: Pick<SandboxLimits, "memoryMB" | "cpus">): Promise<void> {
    await this.docker.updateContainer(id, { Memory: limits.memoryMB * MiB, MemorySwap: limits.memoryMB * MiB, NanoCpus: Math.round(limits.cpus * 1e9) });
  }

  async usage(id: string): Promise<SandboxUsage> {
    const [stats, info] = await Promise.all([this.docker.containerStats(id), this.cap.mechanism === "loop" ? this.docker.inspectContainer(id) : undefined]);
    const memory = stats.memory_stats;
    // As `docker stats` counts it: the cgroup's usage less the page cache it could drop at once.
    const cache = memory.stats?.total_inactive_file ?? memory.stats?.inactive_file ?? 0;
    const disk = info ? this.disks.usage(info.Name.replace(/^\//, "")) : undefined;
    return {
      memoryBytes: memory.usage === undefined ? null : Math.max(0, memory.usage - cache),
      cacheBytes: memory.usage === undefined ? null : cache,
      diskBytes: disk?.usedBytes ?? null,
      cpuSeconds: stats.cpu_stats?.cpu_usage?.total_usage === undefined ? null : stats.cpu_stats.cpu_usage.total_usage / 1e9,
      pids: stats.pids_stats?.current ?? null,
    };
  }

  async lastLogLines(id: string, count = 20): Promise<string[]> {
    let text = "";
    for await (const piece of this.docker.logs(id, { tail: count })) text += piece.text;
    return text.split("\n").filter((line) => line.trim() !== "").slice(-count);
  }

  async sweepLeftovers(live: SandboxHandle[]): Promise<void> {
    const names = new Set(live.map((handle) => handle.name));
    for (const name of this.disks.names()) {
      if (names.has(name)) continue;
      this.log.info(`Removing the disk of sandbox ${name}, which no longer exists`);
      await this.disks.release(name).catch((error) => this.log.warn(`Removing the disk of ${name}: ${messageOf(error)}`));
    }
  }
}
