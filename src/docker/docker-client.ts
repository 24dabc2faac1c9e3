import { jsonLines } from "./json-lines";
import { parseDockerHost, type EngineAddress } from "./docker-host";
import { demuxText, type StreamText } from "./stream-demux";
import type { ContainerCreateBody, ContainerInspect, ContainerStats, ContainerSummary, EngineInfo, ImageInspect } from "./docker-types";

/** The Engine API version every path is pinned to: Docker Engine 20.10 (Debian bookworm's docker.io). */
export const API_VERSION = "v1.41";

/** An answer from the Engine with a status the call did not expect; `message` is the Engine's own. */
export class DockerAPIError extends Error {
  override name = "DockerAPIError";
  constructor(
    readonly status: number,
    readonly engineMessage: string,
    readonly call: string,
  ) {
    super(`Docker Engine answered ${status} to ${call}: ${engineMessage}`);
  }
}

/** The Engine could not be reached at all (no socket, refused, permission denied). */
export class DockerConnectionError extends Error {
  override name = "DockerConnectionError";
  constructor(
    readonly address: string,
    cause: unknown,
  ) {
    const reason = cause instanceof Error ? ((cause as { code?: string }).code ?? cause.message) : String(cause);
    super(`Cannot reach the Docker Engine at ${address} (${reason})`, { cause });
  }
}

/** A build, pull or import that the Engine reported as failed inside its progress stream. */
export class DockerStreamError extends Error {
  override name = "DockerStreamError";
}

/** Bun's fetch; `timeout: false` lifts its 300 s idle limit for streams that may be quiet (build, logs -f, wait). */
type Fetch = (input: string, init?: RequestInit & { unix?: string; duplex?: "half"; timeout?: boolean }) => Promise<Response>;

export interface DockerClientOptions {
  /** `DOCKER_HOST`-style address; defaults to the `DOCKER_HOST` variable, then the standard socket. */
  host?: string;
  /** Injected for tests; defaults to Bun's `fetch`. */
  fetch?: Fetch;
}

interface Call {
  query?: Record<string, string | number | boolean | string[] | undefined>;
  json?: unknown;
  body?: ReadableStream<Uint8Array>;
  headers?: Record<string, string>;
  /** Statuses this call treats as success; any other is a `DockerAPIError`. */
  expect: number[];
  signal?: AbortSignal;
  /** The answer may take longer than Bun's default idle limit (5 min). */
  long?: boolean;
}

export interface ProgressOptions {
  /** Each progress line the Engine sends (build output, pull status). */
  onProgress?: (line: string) => void;
  signal?: AbortSignal;
}

export interface LogsOptions {
  follow?: boolean;
  /** Number of lines from the end, or all. */
  tail?: number | "all";
  stdout?: boolean;
  stderr?: boolean;
  timestamps?: boolean;
  /** Whether the container has a TTY (raw stream); inspected when not given. */
  tty?: boolean;
  signal?: AbortSignal;
}

/**
 * A Docker Engine API client over `fetch` (a Unix socket or TCP), version pinned in every path. Each
 * call declares its expected statuses; anything else is a `DockerAPIError` carrying the Engine's message.
 *
 * @example
 * const docker = new DockerClient();            // DOCKER_HOST or /var/run/docker.sock
 * await docker.ping();
 * const info = await docker.inspectContainer("coderunner"); // undefined when absent
 */
export class DockerClient {
  readonly address: EngineAddress;
  private readonly fetch: Fetch;

  constructor(options: DockerClientOptions = {}) {
    this.address = parseDockerHost(options.host ?? process.env.DOCKER_HOST);
    this.fetch = options.fetch ?? (fetch as unknown as Fetch);
  }

  private async call(method: string, path: string, call: Call): Promise<Response> {
    const search = new URLSearchParams();
    for (const [name, value] of Object.entries(call.query ?? {})) {
      if (Array.isArray(value)) for (const item of value) search.append(name, item);
      else if (value !== undefined) search.set(name, typeof value === "boolean" ? (value ? "1" : "0") : String(value));
    }
    const query = search.size ? `?${search}` : "";
    const url = `${this.address.baseURL}/${API_VERSION}${path}${query}`;
    const headers: Record<string, string> = { ...call.headers };
    let body: BodyInit | undefined = call.body;
    if (call.json !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(call.json);
    }
    let response: Response;
    try {
      response = await this.fetch(url, {
        method,
        headers,
        body,
        signal: call.signal,
        ...(call.long ? { timeout: false } : {}),
        ...(this.address.socketPath ? { unix: this.address.socketPath } : {}),
        ...(call.body ? { duplex: "half" as const } : {}),
      });
    } catch (error) {
      if ((error as Error)?.name === "AbortError" || call.signal?.aborted) throw error;
      throw new DockerConnectionError(this.address.display, error);
    }
    if (!call.expect.includes(response.status)) {
      const text = await response.text().catch(() => "");
      let message = text.trim() || response.statusText;
      try {
        const parsed = JSON.parse(text) as { message?: unknown };
        if (typeof parsed.message === "string") message = parsed.message;
      } catch {
        // a plain-text body is the message
      }
      throw new DockerAPIError(response.status, message, `${method} ${path}`);
    }
    return response;
  }

  private async json<T>(method: string, path: string, call: Call): Promise<T> {
    return (await this.call(method, path, call)).json() as Promise<T>;
  }

  /** `GET /_ping`: true when the Engine answers. Never throws. */
  async ping(signal?: AbortSignal): Promise<boolean> {
    try {
      const response = await this.call("GET", "/_ping", { expect: [200], signal });
      await response.text();
      return true;
    } catch {
      return false;
    }
  }

  /** `GET /_ping`, throwing `DockerConnectionError` or `DockerAPIError` when it fails (for messages). */
  async pingOrThrow(signal?: AbortSignal): Promise<void> {
    await (await this.call("GET", "/_ping", { expect: [200], signal })).text();
  }

  /** `GET /version`. */
  version(): Promise<{ Version: string; ApiVersion: string; Os: string; Arch: string }> {
    return this.json("GET", "/version", { expect: [200] });
  }

  /** `GET /info`: the Engine's storage driver, security options (rootless), CPUs and memory. */
  info(): Promise<EngineInfo> {
    return this.json("GET", "/info", { expect: [200] });
  }

  /** `GET /images/{name}/json`; undefined when there is no such image. */
  async inspectImage(name: string): Promise<ImageInspect | undefined> {
    const response = await this.call("GET", `/images/${encodeURIComponent(name)}/json`, { expect: [200, 404] });
    if (response.status === 404) return void (await response.text());
    return response.json() as Promise<ImageInspect>;
  }

  /**
   * `POST /build` (the classic builder) from a tar stream of the context. Build output goes to
   * `onProgress` line by line; a failed step throws `DockerStreamError` with the Engine's message.
   * Returns the new image's ID.
   */
  async buildImage(
    context: ReadableStream<Uint8Array>,
    options: ProgressOptions & { tag: string; labels?: Record<string, string>; dockerfile?: string; pull?: boolean },
  ): Promise<string> {
    const response = await this.call("POST", "/build", {
      query: {
        t: options.tag,
        dockerfile: options.dockerfile,
        rm: true,
        forcerm: true,
        pull: options.pull,
        labels: options.labels ? JSON.stringify(options.labels) : undefined,
      },
      headers: { "content-type": "application/x-tar" },
      body: context,
      expect: [200],
      signal: options.signal,
      long: true,
    });
    let imageID: string | undefined;
    for await (const message of this.progress(response, options.onProgress)) {
      const aux = (message as { aux?: { ID?: string } }).aux;
      if (aux?.ID) imageID = aux.ID;
      const stream = (message as { stream?: string }).stream;
      const built = stream && /^Successfully built ([0-9a-f]+)/.exec(stream);
      if (built && !imageID) imageID = built[1];
    }
    if (!imageID) throw new DockerStreamError(`the build of ${options.tag} ended without an image`);
    return imageID;
  }

  /** `POST /images/create?fromImage=`: pulls an image from its registry. */
  async pullImage(image: string, tag: string, options: ProgressOptions = {}): Promise<void> {
    const response = await this.call("POST", "/images/create", {
      query: { fromImage: image, tag },
      expect: [200],
      signal: options.signal,
      long: true,
    });
    for await (const _ of this.progress(response, options.onProgress));
  }

  /** `POST /images/{name}/tag`: gives the image `name` the tag `repo:tag` too (like `docker tag`). */
  async tagImage(name: string, repo: string, tag: string): Promise<void> {
    await (await this.call("POST", `/images/${encodeURIComponent(name)}/tag`, { query: { repo, tag }, expect: [201] })).text();
  }

  /** `POST /images/create?fromSrc=-`: imports a root filesystem tar as `repo:tag` (like `docker import`). */
  async importImage(
    rootfs: ReadableStream<Uint8Array>,
    options: ProgressOptions & { repo: string; tag: string; changes?: string[] },
  ): Promise<void> {
    const response = await this.call("POST", "/images/create", {
      query: { fromSrc: "-", repo: options.repo, tag: options.tag, changes: options.changes },
      headers: { "content-type": "application/x-tar" },
      body: rootfs,
      expect: [200],
      signal: options.signal,
      long: true,
    });
    for await (const _ of this.progress(response, options.onProgress));
  }

  /** `DELETE /images/{name}`; false when there was no such image. */
  async removeImage(name: string, options: { force?: boolean } = {}): Promise<boolean> {
    const response = await this.call("DELETE", `/images/${encodeURIComponent(name)}`, {
      query: { force: options.force },
      expect: [200, 404],
    });
    await response.text();
    return response.status === 200;
  }

  /** `POST /containers/create`; a name already taken is a `DockerAPIError` with status 409. */
  createContainer(name: string, body: ContainerCreateBody): Promise<{ Id: string; Warnings: string[] | null }> {
    return this.json("POST", "/containers/create", { query: { name }, json: body, expect: [201] });
  }

  /** `POST /containers/{id}/start`; false when it was already running (304). */
  async startContainer(id: string): Promise<boolean> {
    const response = await this.call("POST", `/containers/${encodeURIComponent(id)}/start`, { expect: [204, 304] });
    await response.text();
    return response.status === 204;
  }

  /** `POST /containers/{id}/pause`: freezes every process of the container (cgroup freezer); memory is kept. */
  async pauseContainer(id: string): Promise<void> {
    await (await this.call("POST", `/containers/${encodeURIComponent(id)}/pause`, { expect: [204] })).text();
  }

  /** `POST /containers/{id}/unpause`: its processes go on where they were. */
  async unpauseContainer(id: string): Promise<void> {
    await (await this.call("POST", `/containers/${encodeURIComponent(id)}/unpause`, { expect: [204] })).text();
  }

  /** `POST /containers/{id}/stop`; false when it was not running (304). */
  async stopContainer(id: string, options: { timeoutSeconds?: number } = {}): Promise<boolean> {
    const response = await this.call("POST", `/containers/${encodeURIComponent(id)}/stop`, {
      query: { t: options.timeoutSeconds },
      expect: [204, 304],
    });
    await response.text();
    return response.status === 204;
  }

  /** `POST /containers/{id}/restart`. */
  async restartContainer(id: string, options: { timeoutSeconds?: number } = {}): Promise<void> {
    const response = await this.call("POST", `/containers/${encodeURIComponent(id)}/restart`, {
      query: { t: options.timeoutSeconds },
      expect: [204],
    });
    await response.text();
  }

  /**
   * `DELETE /containers/{id}`; false when there was no such container. A removal already under way
   * (409, from another caller or an auto-remove) counts as done: the container is going.
   */
  async removeContainer(id: string, options: { force?: boolean; volumes?: boolean } = {}): Promise<boolean> {
    const response = await this.call("DELETE", `/containers/${encodeURIComponent(id)}`, {
      query: { force: options.force, v: options.volumes },
      expect: [204, 404, 409],
    });
    const text = await response.text();
    if (response.status === 409 && !/already in progress/.test(text)) throw new DockerAPIError(409, text.trim(), `DELETE /containers/${id}`);
    return response.status !== 404;
  }

  /** `GET /containers/{id}/json`; undefined when there is no such container. */
  async inspectContainer(id: string): Promise<ContainerInspect | undefined> {
    const response = await this.call("GET", `/containers/${encodeURIComponent(id)}/json`, { expect: [200, 404] });
    if (response.status === 404) return void (await response.text());
    return response.json() as Promise<ContainerInspect>;
  }

  /** `POST /containers/{id}/update`: new memory and CPU limits for a running container. */
  async updateContainer(id: string, limits: { Memory?: number; MemorySwap?: number; NanoCpus?: number; PidsLimit?: number }): Promise<void> {
    const response = await this.call("POST", `/containers/${encodeURIComponent(id)}/update`, { json: limits, expect: [200] });
    await response.text();
  }

  /** `GET /containers/{id}/stats?stream=false&one-shot=true`: one sample of the container's cgroup figures. */
  containerStats(id: string): Promise<ContainerStats> {
    return this.json("GET", `/containers/${encodeURIComponent(id)}/stats`, { query: { stream: false, "one-shot": true }, expect: [200] });
  }

  /** `GET /containers/json`, e.g. `{ all: true, filters: { label: ["org.coderunner.managed=true"] } }`. */
  listContainers(options: { all?: boolean; filters?: Record<string, string[]> } = {}): Promise<ContainerSummary[]> {
    return this.json("GET", "/containers/json", {
      query: { all: options.all, filters: options.filters ? JSON.stringify(options.filters) : undefined },
      expect: [200],
    });
  }

  /** `POST /containers/{id}/wait`: resolves with the exit code once the container is not running. */
  waitContainer(
    id: string,
    options: { condition?: "not-running" | "next-exit" | "removed"; signal?: AbortSignal } = {},
  ): Promise<{ StatusCode: number; Error?: { Message: string } | null }> {
    return this.json("POST", `/containers/${encodeURIComponent(id)}/wait`, {
      query: { condition: options.condition ?? "not-running" },
      expect: [200],
      signal: options.signal,
      long: true,
    });
  }

  /**
   * `GET /containers/{id}/logs` as text pieces tagged stdout/stderr: demultiplexed unless the
   * container has a TTY. With `follow` it continues until the container stops or `signal` aborts.
   */
  async *logs(id: string, options: LogsOptions = {}): AsyncGenerator<StreamText> {
    const tty = options.tty ?? (await this.inspectContainer(id))?.Config?.Tty ?? false;
    const response = await this.call("GET", `/containers/${encodeURIComponent(id)}/logs`, {
      query: {
        stdout: options.stdout ?? true,
        stderr: options.stderr ?? true,
        follow: options.follow ?? false,
        tail: options.tail ?? "all",
        timestamps: options.timestamps ?? false,
      },
      expect: [200],
      signal: options.signal,
      long: options.follow ?? false,
    });
    if (!response.body) return;
    yield* demuxText(response.body, tty);
  }

  /** Reads a progress stream (JSON lines); reports each line and throws on an `error` message. */
  private async *progress(response: Response, onProgress?: (line: string) => void): AsyncGenerator<unknown> {
    if (!response.body) return;
    for await (const message of jsonLines(response.body)) {
      const { error, errorDetail, stream, status, progress, id } = message as Record<string, unknown>;
      if (error !== undefined || errorDetail !== undefined) {
        const detail = (errorDetail as { message?: string } | undefined)?.message ?? String(error);
        throw new DockerStreamError(detail.trim());
      }
      if (onProgress) {
        if (typeof stream === "string") for (const line of stream.split("\n")) line.trim() && onProgress(line.trimEnd());
        else if (typeof status === "string") onProgress([id, status, progress].filter(Boolean).join(" "));
      }
      yield message;
    }
  }
}
