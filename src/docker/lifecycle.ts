import { randomBytes } from "node:crypto";
import type { Config } from "../config";
import { AppError, messageOf } from "../errors";
import { containerSettings, containerSpec, endpointOf, type ContainerSettings, type Endpoint, type SandboxOptions } from "./container-spec";
import { DockerAPIError, DockerClient, DockerConnectionError, DockerStreamError, type LogsOptions } from "./docker-client";
import type { ContainerInspect } from "./docker-types";
import { ensureEngine } from "./engine-setup";
import { ImageBuilder, sameImage } from "./image-builder";
import type { StreamText } from "./stream-demux";

type Say = (line: string) => void;
const quiet: Say = () => {};

/** What `up` did to get the container answering. */
export type UpAction = "created" | "started" | "running";

export interface ManagerOptions {
  docker: DockerClient;
  settings: ContainerSettings;
  /** Checks /health of the container; injected in tests. */
  fetch?: (url: string, init?: RequestInit) => Promise<Response>;
  /** Makes sure the Engine answers (installs/starts it where allowed). */
  engine?: (say: Say) => Promise<void>;
  /** Builds the base image offline when it cannot be pulled. */
  buildBase?: (tag: string, say: Say) => Promise<void>;
  /** The image; one is made from `docker`, `settings.image` and `buildBase` when absent. */
  images?: ImageBuilder;
  /**
   * What makes the container a sandbox (network, disk, confinement), asked for right before it is
   * created; without it the container is created as a plain CodeRunner container.
   */
  sandbox?: () => Promise<SandboxOptions>;
  /** Milliseconds between health polls. */
  pollMs?: number;
}

export interface StatusReport {
  engine: { address: string; reachable: boolean; version?: string };
  image: { tag: string; present: boolean; id?: string; sizeMB?: number; created?: string };
  container: {
    name: string;
    exists: boolean;
    id?: string;
    state?: string;
    health?: string;
    url?: string;
    startedAt?: string;
    restartCount?: number;
    /** False when the image tag now points at a newer build than the container runs. */
    imageCurrent?: boolean;
  };
}

/** Turns an Engine failure into the error a user sees; AppErrors pass through. */
export function dockerFailure(error: unknown, doing: string): AppError {
  if (error instanceof AppError) return error;
  if (error instanceof DockerConnectionError || error instanceof DockerAPIError || error instanceof DockerStreamError) {
    return new AppError("DOCKER_UNAVAILABLE", `${doing}: ${error.message}`, { cause: error });
  }
  return new AppError("DOCKER_UNAVAILABLE", `${doing}: ${messageOf(error)}`, { cause: error });
}

/**
 * The sandbox container's lifecycle over the Engine API: `up` (engine, image, create or resume, wait
 * for health), `down`, `status`, `logs`. Idempotent: `up` on a running container only checks its
 * health, and two `up` at once end with one container (the name is fixed; the loser of the create
 * race gets 409 and joins the winner).
 *
 * @example
 * const manager = ContainerManager.fromConfig(loadConfig());
 * const { baseURL, apiKey } = await manager.up({ onProgress: console.log });
 */
export class ContainerManager {
  readonly docker: DockerClient;
  readonly settings: ContainerSettings;
  private readonly fetch: (url: string, init?: RequestInit) => Promise<Response>;
  readonly images: ImageBuilder;
  private readonly engine: (say: Say) => Promise<void>;
  private readonly sandbox: (() => Promise<SandboxOptions>) | undefined;
  private readonly pollMs: number;

  constructor(options: ManagerOptions) {
    this.docker = options.docker;
    this.settings = options.settings;
    this.fetch = options.fetch ?? fetch;
    this.engine = options.engine ?? ((say) => ensureEngine(this.docker, { onProgress: say }));
    this.images = options.images ?? new ImageBuilder({ docker: this.docker, image: this.settings.image, published: this.settings.published, buildBase: options.buildBase });
    this.sandbox = options.sandbox;
    this.pollMs = options.pollMs ?? 50;
  }

  static fromConfig(config: Config, docker = new DockerClient({ host: config.dockerHost })): ContainerManager {
    return new ContainerManager({ docker, settings: containerSettings(config) });
  }

  /**
   * Brings the container up and waits until its API answers /health: creates it (building the image
   * first if needed), starts it if stopped, or only checks it if running.
   */
  async up(options: { onProgress?: Say; rebuild?: boolean } = {}): Promise<Endpoint & { action: UpAction }> {
    const say = options.onProgress ?? quiet;
    try {
      await this.engine(say);
      let info = await this.docker.inspectContainer(this.settings.name);
      if (options.rebuild) {
        const imageID = await this.buildImage(say);
        if (info && !sameImage(info.Image, imageID)) {
          say(`Replacing container ${this.settings.name} with one of the new image (files inside it are lost) ...`);
          await this.docker.removeContainer(info.Id, { force: true });
          info = undefined;
        }
      }
      if (info && (info.State.Status === "dead" || info.State.Status === "removing")) {
        say(`Container ${this.settings.name} is ${info.State.Status}: replacing it ...`);
        await this.docker.removeContainer(info.Id, { force: true });
        info = undefined;
      }
      if (info && !options.rebuild) {
        const image = await this.docker.inspectImage(this.settings.image);
        if (image && !sameImage(image.Id, info.Image)) {
          say(`Container ${this.settings.name} runs an older build of ${this.settings.image}; \`coderunner up --rebuild\` replaces it (files inside it are lost).`);
        }
      }
      let action: UpAction = "running";
      if (!info) {
        await this.ensureImage(say);
        info = await this.create(say);
        action = "created";
      }
      if (info.State.Status === "paused") {
        throw new AppError("DOCKER_UNAVAILABLE", `Container ${this.settings.name} is paused: run \`docker unpause ${this.settings.name}\`.`);
      }
      if (!info.State.Running && !info.State.Restarting) {
        if (action !== "created") {
          say(`Starting container ${this.settings.name} ...`);
          action = "started";
        }
        await this.docker.startContainer(info.Id);
      }
      const endpoint = await this.waitHealthy(info.Id, say);
      return { ...endpoint, action };
    } catch (error) {
      throw dockerFailure(error, `Cannot bring up container ${this.settings.name}`);
    }
  }

  /** The image's ID, building it when absent (see `ImageBuilder.ensureImage`). */
  ensureImage(say: Say = quiet): Promise<string> {
    return this.images.ensureImage(say);
  }

  /** Builds the image from the embedded context (see `ImageBuilder.buildImage`). */
  buildImage(say: Say = quiet): Promise<string> {
    return this.images.buildImage(say);
  }

  private async create(say: Say): Promise<ContainerInspect> {
    const apiKey = randomBytes(24).toString("base64url");
    try {
      const created = await this.docker.createContainer(this.settings.name, containerSpec(this.settings, apiKey, await this.sandbox?.()));
      for (const warning of created.Warnings ?? []) say(`Docker: ${warning}`);
      say(`Created container ${this.settings.name} from ${this.settings.image}.`);
    } catch (error) {
      // Another `up` created it first: join that one.
      if (!(error instanceof DockerAPIError && error.status === 409)) throw error;
    }
    // The Engine reserves the name before the winner's container is inspectable: give it a moment.
    for (let attempt = 0; attempt < 50; attempt++) {
      const info = await this.docker.inspectContainer(this.settings.name);
      if (info) return info;
      await Bun.sleep(100);
    }
    throw new AppError("DOCKER_UNAVAILABLE", `Container ${this.settings.name} vanished right after it was created.`);
  }

  /** Inspects the container: undefined when it does not exist. */
  inspect(): Promise<ContainerInspect | undefined> {
    return this.docker.inspectContainer(this.settings.name);
  }

  /** Where the running container answers, or undefined when it is not running. */
  async endpoint(): Promise<Endpoint | undefined> {
    const info = await this.inspect();
    return info?.State.Running ? endpointOf(info) : undefined;
  }

  /** True when `baseURL/health` answers healthy within `timeoutMs`. */
  async healthy(baseURL: string, timeoutMs = 2000): Promise<boolean> {
    try {
      const response = await this.fetch(`${baseURL}/health`, { signal: AbortSignal.timeout(timeoutMs) });
      if (!response.ok) {
        await response.body?.cancel();
        return false;
      }
      const body = (await response.json()) as { status?: string };
      return body.status === "healthy";
    } catch {
      return false;
    }
  }

  /**
   * Waits until the container answers /health, with a progress line now and then. Fails early when the
   * container exits or keeps restarting, and at the timeout, each time with its last log lines.
   */
  async waitHealthy(id: string, say: Say = quiet): Promise<Endpoint> {
    const started = performance.now();
    const deadline = started + this.settings.upTimeoutSeconds * 1000;
    const elapsed = () => ((performance.now() - started) / 1000).toFixed(1);
    let announced = false;
    let nextNote = started + 5000;
    let firstRestartCount: number | undefined;
    for (;;) {
      const info = await this.docker.inspectContainer(id);
      if (!info) throw new AppError("DOCKER_UNAVAILABLE", `Container ${this.settings.name} was removed while starting.`);
      firstRestartCount ??= info.RestartCount;
      const state = info.State;
      if (!state.Running && !state.Restarting && state.Status !== "created") {
        throw await this.failure(id, `Container ${this.settings.name} stopped while starting (exit code ${state.ExitCode}${state.OOMKilled ? ", out of memory" : ""}${state.Error ? `: ${state.Error}` : ""}).`);
      }
      if (info.RestartCount - firstRestartCount >= 3) {
        throw await this.failure(id, `Container ${this.settings.name} keeps crashing (restarted ${info.RestartCount - firstRestartCount} times while starting).`);
      }
      const endpoint = state.Running ? endpointOf(info) : undefined;
      if (endpoint) {
        if (!announced) say(`Waiting for CodeRunner to answer on ${endpoint.baseURL} ...`);
        announced = true;
        if (await this.healthy(endpoint.baseURL)) {
          say(`CodeRunner is ready on ${endpoint.baseURL} (${elapsed()} s).`);
          return endpoint;
        }
      }
      const now = performance.now();
      if (now > deadline) {
        throw await this.failure(
          id,
          `CodeRunner in container ${this.settings.name} did not answer /health within ${this.settings.upTimeoutSeconds} s (container ${state.Status}${state.Health ? `, health ${state.Health.Status}` : ""}). Raise CODERUNNER_UP_TIMEOUT if the machine is slow.`,
        );
      }
      if (now > nextNote) {
        say(`  still waiting (${elapsed()} s; container ${state.Status}${state.Health ? `, health ${state.Health.Status}` : ""}) ...`);
        nextNote = now + 5000;
      }
      await Bun.sleep(this.pollMs);
    }
  }

  private async failure(id: string, sentence: string): Promise<AppError> {
    const tail = await this.lastLogLines(id, 20).catch(() => []);
    return new AppError("DOCKER_UNAVAILABLE", tail.length ? `${sentence}\nLast log lines:\n${tail.join("\n")}` : sentence);
  }

  /** The container's last `count` log lines (stdout and stderr interleaved as the Engine sent them). */
  async lastLogLines(id: string = this.settings.name, count = 20): Promise<string[]> {
    let text = "";
    for await (const piece of this.docker.logs(id, { tail: count })) text += piece.text;
    return text.split("\n").filter((line) => line.trim() !== "").slice(-count);
  }

  /** Stops the container (and removes it with `remove`). Says what it found. */
  async down(options: { remove?: boolean; timeoutSeconds?: number } = {}): Promise<"stopped" | "already stopped" | "removed" | "absent"> {
    try {
      const info = await this.inspect();
      if (!info) return "absent";
      let result: "stopped" | "already stopped" = "already stopped";
      if (info.State.Running || info.State.Restarting || info.State.Paused) {
        result = (await this.docker.stopContainer(info.Id, { timeoutSeconds: options.timeoutSeconds ?? 10 })) ? "stopped" : "already stopped";
      }
      if (options.remove) {
        await this.docker.removeContainer(info.Id, { force: true });
        return "removed";
      }
      return result;
    } catch (error) {
      throw dockerFailure(error, `Cannot stop container ${this.settings.name}`);
    }
  }

  /** Engine, image and container state in one report, for `coderunner status`. */
  async status(): Promise<StatusReport> {
    const report: StatusReport = {
      engine: { address: this.docker.address.display, reachable: false },
      image: { tag: this.settings.image, present: false },
      container: { name: this.settings.name, exists: false },
    };
    try {
      report.engine.version = (await this.docker.version()).Version;
      report.engine.reachable = true;
    } catch {
      return report;
    }
    const image = await this.docker.inspectImage(this.settings.image);
    if (image) Object.assign(report.image, { present: true, id: image.Id, sizeMB: Math.round(image.Size / 1024 / 1024), created: image.Created });
    const info = await this.inspect();
    if (info) {
      const endpoint = info.State.Running ? endpointOf(info) : undefined;
      Object.assign(report.container, {
        exists: true,
        id: info.Id.slice(0, 12),
        state: info.State.Status,
        health: info.State.Health?.Status,
        url: endpoint?.baseURL,
        startedAt: info.State.StartedAt,
        restartCount: info.RestartCount,
        imageCurrent: image ? image.Id === info.Image : undefined,
      });
    }
    return report;
  }

  /** The container's log as text pieces; `follow` continues until it stops or `signal` aborts. */
  logs(options: LogsOptions = {}): AsyncGenerator<StreamText> {
    return this.docker.logs(this.settings.name, options);
  }
}
