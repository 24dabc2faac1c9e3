import { join } from "node:path";
import { type Config, loadConfig } from "../config";
import { containerSettings } from "../docker/container-spec";
import { DockerClient } from "../docker/docker-client";
import { stateDir } from "../docker/file-lock";
import { ContainerManager, dockerFailure } from "../docker/lifecycle";
import { AppError, messageOf } from "../errors";
import { ensureUp, hostLogPath } from "../host/daemon";
import { readHost } from "../host/host-lock";
import { startHostMode } from "../host/host-mode";
import { createLogger, survivePromiseRejections } from "../log";
import { DockerBackend } from "../sandboxes/docker-backend";
import { diagnose, formatChecks, realProbes } from "./doctor";
import { progressPrinter } from "./progress";

export type Command = (args: string[]) => Promise<number>;

const flag = (args: string[], ...names: string[]) => args.some((arg) => names.includes(arg));

function optionValue(args: string[], name: string): string | undefined {
  const index = args.indexOf(name);
  if (index !== -1) return args[index + 1];
  return args.find((arg) => arg.startsWith(`${name}=`))?.slice(name.length + 1);
}

function backendOf(config: Config): DockerBackend {
  return new DockerBackend({
    docker: new DockerClient({ host: config.dockerHost }),
    settings: containerSettings(config),
    diskDir: join(stateDir(), "disks"),
    diskMB: config.diskMB,
    diskMechanism: config.diskCap as "auto",
  });
}

/** Stops the host serving `instance`, if one runs; resolves once it has exited. */
async function stopHost(instance: string, say: (line: string) => void): Promise<boolean> {
  const host = readHost(instance);
  if (!host) return false;
  say(`Stopping the CodeRunner host (pid ${host.pid}) ...`);
  process.kill(host.pid, "SIGTERM");
  for (let waited = 0; readHost(instance); waited += 100) {
    if (waited > 15_000) {
      process.kill(host.pid, "SIGKILL");
      break;
    }
    await Bun.sleep(100);
  }
  return true;
}

/**
 * `coderunner up [--rebuild] [--json]`: the host serving the API on 127.0.0.1:8223 (started in the
 * background when none runs) with its default sandbox. `--rebuild` builds the image again first and
 * replaces what runs an older one. With `--json`, progress goes to stderr and stdout is one line
 * `{"baseURL", "apiKey"}`: how SDKs in runtimes without the lifecycle code start the sandbox.
 */
const up: Command = async (args) => {
  const config = loadConfig();
  const say = flag(args, "--json") ? (line: string) => process.stderr.write(`${line}\n`) : progressPrinter();
  if (flag(args, "--rebuild")) {
    const backend = backendOf(config);
    await backend.images.buildImage(say);
    if (await stopHost(config.containerName, say)) say("The host will start again with the new image.");
    const old = await backend.docker.inspectContainer(config.containerName);
    const image = await backend.docker.inspectImage(config.image);
    if (old && image && old.Image !== image.Id) {
      say(`Replacing the default sandbox ${config.containerName} with one of the new image (files inside it are lost) ...`);
      await backend.remove(old.Id);
    }
  }
  const endpoint = await ensureUp({ onProgress: say, config });
  if (flag(args, "--json")) {
    console.log(JSON.stringify(endpoint));
    return 0;
  }
  console.log(`CodeRunner is serving on ${endpoint.baseURL}${endpoint.apiKey ? " (X-API-Key required)" : ""}; docs at ${endpoint.baseURL}/docs.`);
  console.log(`Each session runs in a sandbox of its own; \`coderunner status\` lists them, \`coderunner down\` stops everything (host log: ${hostLogPath(config.containerName)}).`);
  return 0;
};

/** `coderunner down [--rm]`: stops the host, removes every session's sandbox, stops the default one (`--rm` removes it and its files). */
const down: Command = async (args) => {
  const config = loadConfig();
  const say = progressPrinter();
  await stopHost(config.containerName, say);
  const backend = backendOf(config);
  try {
    const sandboxes = await backend.list();
    const sessions = sandboxes.filter((sandbox) => sandbox.role === "session");
    await Promise.all(sessions.map((sandbox) => backend.remove(sandbox.id)));
    if (sessions.length) console.log(`Removed ${sessions.length} session sandbox${sessions.length === 1 ? "" : "es"}.`);
    const manager = new ContainerManager({ docker: backend.docker, settings: containerSettings(config) });
    const result = await manager.down({ remove: flag(args, "--rm", "--remove") });
    if (result === "removed") await backend.disks.release(config.containerName).catch(() => undefined);
    const name = config.containerName;
    console.log(
      {
        stopped: `Stopped the default sandbox ${name}; \`coderunner up\` resumes it with its files.`,
        "already stopped": `The default sandbox ${name} was not running.`,
        removed: `Removed the default sandbox ${name} and its files.`,
        absent: `There is no default sandbox ${name}.`,
      }[result],
    );
    await backend.sweepLeftovers(await backend.list()).catch(() => undefined);
  } catch (error) {
    throw dockerFailure(error, "Cannot stop the sandboxes");
  }
  return 0;
};

/** `coderunner status [--json]`: engine, image, host and every sandbox. */
const status: Command = async (args) => {
  const config = loadConfig();
  const manager = new ContainerManager({ docker: new DockerClient({ host: config.dockerHost }), settings: containerSettings(config) });
  const report = await manager.status();
  const host = readHost(config.containerName);
  const backend = backendOf(config);
  const sandboxes = report.engine.reachable ? (await backend.list().catch(() => [])).filter((sandbox) => sandbox.role === "session") : [];
  const full = {
    ...report,
    host: host ? { running: true, pid: host.pid, url: host.url, log: hostLogPath(config.containerName) } : { running: false },
    sandboxes: sandboxes.map((sandbox) => ({
      name: sandbox.name,
      state: sandbox.state,
      created: sandbox.createdAt.toISOString(),
      memory_mb: sandbox.limits.memoryMB,
      cpus: sandbox.limits.cpus,
      disk_mb: sandbox.limits.diskMB,
      internet: sandbox.egress,
    })),
  };
  const ok = full.host.running && report.container.state === "running";
  if (flag(args, "--json")) {
    console.log(JSON.stringify(full, null, 2));
    return ok ? 0 : 3;
  }
  const { engine, image, container } = report;
  console.log(`Docker Engine    ${engine.reachable ? `${engine.version} at ${engine.address}` : `not reachable at ${engine.address}`}`);
  if (engine.reachable) {
    console.log(`Image            ${image.tag}: ${image.present ? `${image.id?.slice(7, 19)}, ${image.sizeMB} MB, built ${image.created}` : "not built (coderunner up builds it)"}`);
  }
  console.log(`Host             ${host ? `serving on ${host.url || "(starting)"}, pid ${host.pid}` : "not running (coderunner up starts it)"}`);
  if (engine.reachable) {
    console.log(
      `Default sandbox  ${container.name}: ${
        container.exists
          ? `${container.state}${container.health ? ` (${container.health})` : ""}, started ${container.startedAt}${container.imageCurrent === false ? ", runs an older image (coderunner up --rebuild)" : ""}`
          : "does not exist (coderunner up creates it)"
      }`,
    );
    console.log(`Sandboxes        ${sandboxes.length} (sessions and warm pool)`);
    for (const sandbox of full.sandboxes) {
      console.log(`  ${sandbox.name}  ${sandbox.state}  ${sandbox.memory_mb} MiB, ${sandbox.cpus} CPU, disk ${sandbox.disk_mb} MiB, internet ${sandbox.internet ? "on" : "off"}, since ${sandbox.created}`);
    }
  }
  return ok ? 0 : 3;
};

/** `coderunner logs [-f] [--tail N] [--host] [sandbox]`: a sandbox's log (the default one's unless named), or the host's. */
const logs: Command = async (args) => {
  const config = loadConfig();
  const follow = flag(args, "-f", "--follow");
  const tailText = optionValue(args, "--tail") ?? optionValue(args, "-n");
  const tail = tailText === undefined ? (follow ? 100 : "all") : Number(tailText);
  if (tail !== "all" && (!Number.isInteger(tail) || tail < 0)) throw new AppError("INVALID_REQUEST", `--tail needs a whole number (got ${tailText}).`);
  if (flag(args, "--host")) {
    const text = await Bun.file(hostLogPath(config.containerName)).text().catch(() => "");
    const lines = text.split("\n");
    process.stdout.write(tail === "all" ? text : lines.slice(-tail - 1).join("\n"));
    return 0;
  }
  const named = args.filter((arg, i) => !arg.startsWith("-") && !["--tail", "-n"].includes(args[i - 1] ?? ""))[0];
  const controller = new AbortController();
  process.once("SIGINT", () => controller.abort());
  try {
    const docker = new DockerClient({ host: config.dockerHost });
    for await (const piece of docker.logs(named ?? config.containerName, { follow, tail, signal: controller.signal })) {
      (piece.stream === "stderr" ? process.stderr : process.stdout).write(piece.text);
    }
  } catch (error) {
    if (!controller.signal.aborted) throw dockerFailure(error, "Cannot read the log");
  }
  return 0;
};

/** `coderunner build`: (re)builds the image from the embedded Dockerfile. */
const build: Command = async () => {
  const config = loadConfig();
  const id = await backendOf(config).images.buildImage(progressPrinter());
  console.log(`Image ${config.image}: ${id}`);
  return 0;
};

/** `coderunner doctor`: what would stop `coderunner up` on this machine, each with its fix; exit 1 when something blocks. */
const doctor: Command = async () => {
  const config = loadConfig();
  const report = formatChecks(await diagnose(config, realProbes(config, new DockerClient({ host: config.dockerHost }))));
  console.log(report.text);
  return report.code;
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

/**
 * `coderunner` (or `coderunner host`): the host in the foreground: sandboxes on the Engine and the API
 * on 127.0.0.1:8223 until Ctrl-C. Session sandboxes and the default one keep running after it (a
 * host started again finds them); `coderunner down` stops everything.
 */
const host: Command = async () => {
  const config = loadConfig();
  const log = createLogger(config.logLevel);
  survivePromiseRejections(log);
  const running = readHost(config.containerName);
  if (running) {
    console.error(`CodeRunner is already served by pid ${running.pid}${running.url ? ` on ${running.url}` : ""}; \`coderunner down\` stops it.`);
    return 1;
  }
  const mode = await startHostMode(config, { log, onProgress: progressPrinter() });
  console.log(`CodeRunner ready on ${mode.url} (docs at ${mode.url}/docs): every session runs in a sandbox of its own (disk cap: ${mode.backend.diskCap.mechanism}).`);
  console.log("Ctrl-C stops serving; sandboxes keep running (`coderunner down` stops them).");
  const { promise, resolve } = Promise.withResolvers<number>();
  const stop = () =>
    mode.stop().then(
      () => resolve(0),
      (error) => {
        console.error(`Stopping: ${messageOf(error)}`);
        resolve(1);
      },
    );
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  return promise;
};

/** The host-side commands, registered in `src/cli.ts`. */
export const HOST_COMMANDS: Record<string, Command> = { up, down, status, logs, build, doctor, healthcheck, host };

