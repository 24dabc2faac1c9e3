import { loadConfig } from "../config";
import { AppError } from "../errors";
import { createLogger } from "../log";
import { startHostMode } from "../host/host-mode";
import { ContainerManager, ensureUp } from "./lifecycle";

type Command = (args: string[]) => Promise<number>;

/**
 * Prints progress lines to stderr. On a terminal, build output (indented lines) rewrites one line
 * instead of scrolling hundreds of apt lines; elsewhere (CI logs) every line is kept.
 */
function progressPrinter(stream: NodeJS.WriteStream = process.stderr): (line: string) => void {
  const tty = stream.isTTY === true;
  let transient = false;
  return (line) => {
    if (tty && line.startsWith("  ")) {
      const width = Math.max(20, (stream.columns ?? 80) - 1);
      stream.write(`\r\x1b[2K${line.trim().slice(0, width)}`);
      transient = true;
      return;
    }
    stream.write(`${transient ? "\r\x1b[2K" : ""}${line}\n`);
    transient = false;
  };
}

function manager(): ContainerManager {
  return ContainerManager.fromConfig(loadConfig());
}

const flag = (args: string[], ...names: string[]) => args.some((arg) => names.includes(arg));

function optionValue(args: string[], name: string): string | undefined {
  const index = args.indexOf(name);
  if (index !== -1) return args[index + 1];
  return args.find((arg) => arg.startsWith(`${name}=`))?.slice(name.length + 1);
}

/**
 * `coderunner up [--rebuild] [--json]`: container up and healthy; prints where it answers. With
 * `--json`, progress goes to stderr and stdout is one line `{"baseURL", "apiKey"}` (the host proxy
 * when one serves the container): how SDKs in runtimes without the lifecycle code start the sandbox.
 */
const up: Command = async (args) => {
  if (flag(args, "--json")) {
    const endpoint = await ensureUp({ onProgress: (line) => process.stderr.write(`${line}\n`) });
    console.log(JSON.stringify(endpoint));
    return 0;
  }
  const containers = manager();
  const endpoint = await containers.up({ onProgress: progressPrinter(), rebuild: flag(args, "--rebuild") });
  const verb = { created: "created and started", started: "resumed", running: "already running" }[endpoint.action];
  console.log(`CodeRunner container ${containers.settings.name} ${verb}: ${endpoint.baseURL} (X-API-Key: ${endpoint.apiKey})`);
  console.log("Run `coderunner` to serve it on 127.0.0.1:8223 without a key; `coderunner down` stops it.");
  return 0;
};

/** `coderunner down [--rm]`: stops the container (and removes it with --rm). */
const down: Command = async (args) => {
  const containers = manager();
  const result = await containers.down({ remove: flag(args, "--rm", "--remove") });
  const name = containers.settings.name;
  console.log(
    {
      stopped: `Stopped container ${name}; \`coderunner up\` resumes it.`,
      "already stopped": `Container ${name} was not running.`,
      removed: `Removed container ${name}.`,
      absent: `There is no container ${name}.`,
    }[result],
  );
  return 0;
};

/** `coderunner status [--json]`: engine, image and container in a few lines. */
const status: Command = async (args) => {
  const report = await manager().status();
  if (flag(args, "--json")) {
    console.log(JSON.stringify(report, null, 2));
    return report.container.state === "running" ? 0 : 3;
  }
  const { engine, image, container } = report;
  console.log(`Docker Engine  ${engine.reachable ? `${engine.version} at ${engine.address}` : `not reachable at ${engine.address}`}`);
  if (engine.reachable) {
    console.log(`Image          ${image.tag}: ${image.present ? `${image.id?.slice(7, 19)}, ${image.sizeMB} MB, built ${image.created}` : "not built (coderunner up builds it)"}`);
    console.log(
      `Container      ${container.name}: ${
        container.exists
          ? `${container.state}${container.health ? ` (${container.health})` : ""}${container.url ? ` on ${container.url}` : ""}, started ${container.startedAt}, ${container.restartCount} restarts${container.imageCurrent === false ? ", runs an older image (coderunner up --rebuild)" : ""}`
          : "does not exist (coderunner up creates it)"
      }`,
    );
  }
  return container.state === "running" ? 0 : 3;
};

/** `coderunner logs [-f] [--tail N]`: the container's output. */
const logs: Command = async (args) => {
  const follow = flag(args, "-f", "--follow");
  const tailText = optionValue(args, "--tail") ?? optionValue(args, "-n");
  const tail = tailText === undefined ? (follow ? 100 : "all") : Number(tailText);
  if (tail !== "all" && (!Number.isInteger(tail) || tail < 0)) throw new AppError("INVALID_REQUEST", `--tail needs a whole number (got ${tailText}).`);
  const controller = new AbortController();
  process.once("SIGINT", () => controller.abort());
  try {
    for await (const piece of manager().logs({ follow, tail, signal: controller.signal })) {
      (piece.stream === "stderr" ? process.stderr : process.stdout).write(piece.text);
    }
  } catch (error) {
    if (!controller.signal.aborted) throw error;
  }
  return 0;
};

/** `coderunner build`: (re)builds the image from the embedded Dockerfile. */
const build: Command = async () => {
  const containers = manager();
  const id = await containers.buildImage(progressPrinter());
  console.log(`Image ${containers.settings.image}: ${id}`);
  return 0;
};

/** `coderunner healthcheck`: the image's HEALTHCHECK; exit 0 when this machine's server answers healthy. */
const healthcheck: Command = async () => {
  const { port } = loadConfig();
  try {
    const response = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(4000) });
    const body = (await response.json()) as { status?: string };
    return response.ok && body.status === "healthy" ? 0 : 1;
  } catch {
    return 1;
  }
};

/** `coderunner` with no arguments: the container up, and its API served on 127.0.0.1:8223 until Ctrl-C. */
const host: Command = async () => {
  const config = loadConfig();
  const log = createLogger(config.logLevel);
  const containers = ContainerManager.fromConfig(config);
  const mode = await startHostMode(config, containers, { log, onProgress: progressPrinter() });
  console.log(`CodeRunner ready on ${mode.url} (docs at ${mode.url}/docs), running in container ${containers.settings.name}.`);
  console.log("Ctrl-C stops serving here; the container keeps running (`coderunner down` stops it).");
  const { promise, resolve } = Promise.withResolvers<number>();
  const stop = () => mode.stop().then(() => resolve(0));
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  return promise;
};

/** The container layer's commands, registered in `src/cli.ts`. */
export const CONTAINER_COMMANDS: Record<string, Command> = { up, down, status, logs, build, healthcheck, host };
