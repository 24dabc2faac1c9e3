import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AppError } from "../errors";
import { VERSION } from "../version";
import { LABEL } from "./container-spec";
import { DockerAPIError, type DockerClient, DockerStreamError } from "./docker-client";
import { stateDir, withFileLock } from "./file-lock";
import { baseImage, binaryForImage, contextTar, EMBEDDED } from "./image-context";

type Say = (line: string) => void;
const quiet: Say = () => {};

/** `registry:5000/repo:tag` as its repository and tag (`latest` when it names none). */
export function splitReference(reference: string): [string, string] {
  const colon = reference.lastIndexOf(":");
  return colon > reference.lastIndexOf("/") ? [reference.slice(0, colon), reference.slice(colon + 1)] : [reference, "latest"];
}

/** True when two image IDs (full `sha256:…` or short) name the same image. */
export function sameImage(a: string, b: string): boolean {
  const [x, y] = [a, b].map((id) => id.replace(/^sha256:/, ""));
  return x!.length >= y!.length ? x!.startsWith(y!) : y!.startsWith(x!);
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

export interface ImageBuilderOptions {
  docker: DockerClient;
  /** The tag of the sandbox image, e.g. `coderunner:0.1.0`. */
  image: string;
  /** The published image (`<registry>:<version>`) to pull and tag as `image` before building it; unset: build. */
  published?: string;
  /** Builds the base image offline when it cannot be pulled. */
  buildBase?: (tag: string, say: Say) => Promise<void>;
}

/**
 * The sandbox image: present, pulled from where releases publish it, or built from the Dockerfile and context embedded in the binary (the
 * base pulled, or built offline with debootstrap where no registry answers).
 */
export class ImageBuilder {
  readonly docker: DockerClient;
  readonly image: string;
  readonly published: string | undefined;
  private readonly buildBase: (tag: string, say: Say) => Promise<void>;
  private building: Promise<string> | undefined;

  constructor(options: ImageBuilderOptions) {
    this.docker = options.docker;
    this.image = options.image;
    this.published = options.published;
    this.buildBase = options.buildBase ?? runBuildBase;
  }

  /**
   * The image's ID; when the tag is absent, the published image of this version pulled and tagged,
   * else one built from the embedded Dockerfile (offline base included). A lock file makes a second `coderunner up`
   * wait for the first one's build instead of building the same image beside it.
   */
  async ensureImage(say: Say = quiet): Promise<string> {
    const image = await this.docker.inspectImage(this.image);
    if (image) return image.Id;
    const lock = join(stateDir(), `build-${this.image.replace(/[^\w.-]+/g, "_")}.lock`);
    return withFileLock(
      lock,
      async () => {
        const built = await this.docker.inspectImage(this.image);
        if (built) return built.Id;
        const pulled = await this.pullPublished(say);
        if (pulled) return pulled;
        say(`Image ${this.image} is not here yet: building it from the Dockerfile embedded in coderunner.`);
        return this.buildImage(say);
      },
      { onWait: () => say(`Another coderunner is building image ${this.image}: waiting for it ...`) },
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
    const previous = await this.docker.inspectImage(this.image);
    try {
      say(`Building image ${this.image} (the first build downloads Debian packages: a few minutes) ...`);
      const id = await this.docker.buildImage(contextTar(binary.path), {
        tag: this.image,
        labels: { [LABEL.managed]: "true", [LABEL.version]: VERSION },
        onProgress: (line) => {
          recent.push(line);
          if (recent.length > 15) recent.shift();
          say(`  ${line}`);
        },
      });
      say(`Built image ${this.image} in ${((performance.now() - started) / 1000).toFixed(1)} s.`);
      // The build moved the tag: drop the image it left untagged, unless a container still uses it.
      if (previous && !sameImage(previous.Id, id)) await this.docker.removeImage(previous.Id).catch(() => false);
      return id;
    } catch (error) {
      if (error instanceof DockerStreamError) {
        throw new AppError("DOCKER_UNAVAILABLE", `Building image ${this.image} failed: ${error.message}\nLast build output:\n${recent.join("\n")}`, {
          cause: error,
        });
      }
      throw error;
    } finally {
      binary.dispose();
    }
  }

  /** Pulls the published image and tags it as `image`; resolves with its ID, or undefined when it cannot be pulled. */
  private async pullPublished(say: Say): Promise<string | undefined> {
    if (!this.published) return undefined;
    const [name, tag] = splitReference(this.published);
    say(`Pulling image ${this.published} ...`);
    try {
      await this.docker.pullImage(name, tag, { onProgress: (line) => say(`  ${line}`) });
    } catch (error) {
      if (!(error instanceof DockerAPIError || error instanceof DockerStreamError)) throw error;
      say(`Cannot pull ${this.published} (${error instanceof DockerAPIError ? error.engineMessage : error.message}).`);
      return undefined;
    }
    const [repo, ownTag] = splitReference(this.image);
    await this.docker.tagImage(this.published, repo, ownTag);
    const image = await this.docker.inspectImage(this.image);
    if (!image) throw new AppError("DOCKER_UNAVAILABLE", `Tagging ${this.published} as ${this.image} did not produce the image.`);
    say(`Pulled image ${this.published} as ${this.image}.`);
    return image.Id;
  }

  /** Makes sure the Dockerfile's base image is present: pulls it, or builds it offline when no registry answers. */
  async ensureBaseImage(say: Say = quiet): Promise<void> {
    const base = baseImage();
    if (await this.docker.inspectImage(base)) return;
    const [name, tag] = splitReference(base);
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

}
