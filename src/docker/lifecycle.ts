import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig, type Config } from "../config";
import { AppError, messageOf } from "../errors";
import { VERSION } from "../version";
import { containerSettings, containerSpec, endpointOf, LABEL, type ContainerSettings, type Endpoint } from "./container-spec";
import { DockerAPIError, DockerClient, DockerConnectionError, DockerStreamError, type LogsOptions } from "./docker-client";
import type { ContainerInspect } from "./docker-types";
import { ensureEngine } from "./engine-setup";
import { stateDir, withFileLock } from "./file-lock";
import { baseImage, binaryForImage, contextTar, EMBEDDED } from "./image-context";
import type { StreamText } from "./stream-demux";
import { PROXY_HEADER } from "../host/host-proxy";

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

/** True when two image IDs (full `sha256:…` or short) name the same image. */
export function sameImage(a: string, b: string): boolean {
  const [x, y] = [a, b].map((id) => id.replace(/^sha256:/, ""));
  return x!.length >= y!.length ? x!.startsWith(y!) : y!.startsWith(x!);
}

/** Turns an Engine failure into the error a user sees; AppErrors pass through. */
export function dockerFailure(error: unknown, doing: string): AppError {
  if (error instanceof AppError) return error;
  if (error instanceof DockerConnectionError || error instanceof DockerAPIError || error instanceof DockerStreamError) {
    return new AppError("DOCKER_UNAVAILABLE", `${doing}: ${error.message}`, { cause: error });
  }
  return new AppError("DOCKER_UNAVAILABLE", `${doing}: ${messageOf(error)}`, { cause: error });
}

/** Runs the embedded `image/build-base.sh` (debootstrap + docker import). Needs root and the docker CLI. */
export async function runBuildBase(tag: string, say: Say): Promise<void> {
  if (process.platform !== "linux" || process.getuid?.() !== 0) {
    throw new AppError(
      "DOCKER_UNAVAILABLE",
      `The base image ${tag} cannot be pulled, and building it offline (debootstrap) needs root on Linux. Pull or load ${tag} yourself, then run coderunner up again.`,
    );
  }
  const dir = mkdtempSync(join(tmpdir(), "coderunner-base-"));
  try {
    const script = join(dir, "build-base.sh");
    writeFileSync(script, EMBEDDED.buildBaseScript, { mode: 0o755 });
    const child = Bun.spawn(["bash", script, tag], { stdout: "pipe", stderr: "pipe" });
    const lines: string[] = [];
    const relay = async (stream: ReadableStream<Uint8Array>) => {
      const decoder = new TextDecoder();
      let pending = "";
      for await (const chunk of stream) {
        const text = pending + decoder.decode(chunk, { stream: true });
        const parts = text.split("\n");
        pending = parts.pop() ?? "";
        for (const line of parts) if (line.trim()) (lines.push(line), say(`  ${line}`));
      }
      if (pending.trim()) (lines.push(pending), say(`  ${pending}`));
    };
    await Promise.all([relay(child.stdout), relay(child.stderr)]);
    if ((await child.exited) !== 0) {
      throw new AppError("DOCKER_UNAVAILABLE", `Building ${tag} offline failed:\n${lines.slice(-10).join("\n")}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
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
  private readonly engine: (say: Say) => Promise<void>;
  private readonly buildBase: (tag: string, say: Say) => Promise<void>;
  private readonly pollMs: number;
  private building: Promise<string> | undefined;

  constructor(options: ManagerOptions) {
    this.docker = options.docker;
    this.settings = options.settings;
    this.fetch = options.fetch ?? fetch;
    this.engine = options.engine ?? ((say) => ensureEngine(this.docker, { onProgress: say }));
    this.buildBase = options.buildBase ?? runBuildBase;
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

  /**
   * The image's ID, building it when the tag is absent. A lock file makes a second `coderunner up`
   * wait for the first one's build instead of building the same image beside it.
   */
  async ensureImage(say: Say = quiet): Promise<string> {
    const image = await this.docker.inspectImage(this.settings.image);
    if (image) return image.Id;
    const lock = join(stateDir(), `build-${this.settings.image.replace(/[^\w.-]+/g, "_")}.lock`);
    return withFileLock(
      lock,
      async () => {
        const built = await this.docker.inspectImage(this.settings.image);
        if (built) return built.Id;
        say(`Image ${this.settings.image} is not here yet: building it from the Dockerfile embedded in coderunner.`);
        return this.buildImage(say);
      },
      { onWait: () => say(`Another coderunner is building image ${this.settings.image}: waiting for it ...`) },
    );
  }

  /**
   * Builds the image from the embedded context (Dockerfile, `image/`, the binary) with the classic
   * builder, reporting each build line. Concurrent calls in one process share one build.
   */
  buildImage(say: Say = quiet): Promise<string> {
    this.building ??= this.build(say).finally(() => (this.building = undefined));
    return this.building;
  }

  private async build(say: Say): Promise<string> {
    await this.ensureBaseImage(say);
    const binary = await binaryForImage(say);
    const started = performance.now();
    const recent: string[] = [];
    const previous = await this.docker.inspectImage(this.settings.image);
    try {
      say(`Building image ${this.settings.image} (the first build downloads Debian packages: a few minutes) ...`);
      const id = await this.docker.buildImage(contextTar(binary.path), {
        tag: this.settings.image,
        labels: { [LABEL.managed]: "true", [LABEL.version]: VERSION },
        onProgress: (line) => {
          recent.push(line);
          if (recent.length > 15) recent.shift();
          say(`  ${line}`);
        },
      });
      say(`Built image ${this.settings.image} in ${((performance.now() - started) / 1000).toFixed(1)} s.`);
      // The build moved the tag: drop the image it left untagged, unless a container still uses it.
      if (previous && !sameImage(previous.Id, id)) await this.docker.removeImage(previous.Id).catch(() => false);
      return id;
    } catch (error) {
      if (error instanceof DockerStreamError) {
        throw new AppError("DOCKER_UNAVAILABLE", `Building image ${this.settings.image} failed: ${error.message}\nLast build output:\n${recent.join("\n")}`, {
          cause: error,
        });
      }
      throw error;
    } finally {
      binary.dispose();
    }
  }

  /** Makes sure the Dockerfile's base image is present: pulls it, or builds it offline when no registry answers. */
  async ensureBaseImage(say: Say = quiet): Promise<void> {
    const base = baseImage();
    if (await this.docker.inspectImage(base)) return;
    const [name, tag = "latest"] = base.split(":");
    say(`Pulling base image ${base} ...`);
    try {
      await this.docker.pullImage(name!, tag, { onProgress: (line) => say(`  ${line}`) });
      return;
    } catch (error) {
      if (!(error instanceof DockerAPIError || error instanceof DockerStreamError)) throw error;
      say(`Cannot pull ${base} (${error instanceof DockerAPIError ? error.engineMessage : error.message}).`);
    }
    say(`Building ${base} offline with debootstrap (image/build-base.sh) ...`);
    await this.buildBase(base, say);
    if (!(await this.docker.inspectImage(base))) throw new AppError("DOCKER_UNAVAILABLE", `Building ${base} offline did not produce the image.`);
  }

  private async create(say: Say): Promise<ContainerInspect> {
    const apiKey = randomBytes(24).toString("base64url");
    try {
      const created = await this.docker.createContainer(this.settings.name, containerSpec(this.settings, apiKey));
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

/** The host proxy's URL when one is serving `container` on the configured port, else undefined. */
export async function findHostProxy(config: Config, container: string, fetcher: typeof fetch = fetch): Promise<string | undefined> {
  const url = `http://127.0.0.1:${config.port}`;
  try {
    const response = await fetcher(`${url}/health`, { signal: AbortSignal.timeout(1000) });
    await response.body?.cancel();
    return response.headers.get(PROXY_HEADER) === container ? url : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Brings the sandbox container up (building, creating or resuming it as needed) and says how to reach
 * the API: the host proxy on the configured port (8223) when one serves this container, else the
 * container's own published port and its API key.
 *
 * @example
 * const { baseURL, apiKey } = await ensureUp({ onProgress: console.error });
 * await fetch(`${baseURL}/execute`, { method: "POST", headers: { "x-api-key": apiKey ?? "" }, body: ... });
 */
export async function ensureUp(
  options: { onProgress?: (line: string) => void; config?: Config; docker?: DockerClient } = {},
): Promise<{ baseURL: string; apiKey?: string }> {
  const config = options.config ?? loadConfig();
  const manager = ContainerManager.fromConfig(config, options.docker);
  const endpoint = await manager.up({ onProgress: options.onProgress });
  const proxy = await findHostProxy(config, manager.settings.name);
  return proxy ? { baseURL: proxy, apiKey: config.apiKey } : { baseURL: endpoint.baseURL, apiKey: endpoint.apiKey };
}
