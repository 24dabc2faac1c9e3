import { mkdirSync } from "node:fs";
import type { Config } from "../config";
import { type Confinement, processConfinement } from "../confinement/confinement";
import { RunProcesses } from "../kernels/run-processes";
import { Executor } from "../kernels/executor";
import { JupyterServer } from "../kernels/jupyter-server";
import { KernelPool } from "../kernels/kernel-pool";
import { PythonKernel } from "../kernels/python-kernel";
import { SessionStore } from "../kernels/session-store";
import type { Logger } from "../log";
import { VERSION } from "../version";
import { createApp, type App } from "./app";
import type { Feature, FeatureFactory } from "./feature";
import { FEATURES } from "./features";

export interface RunningServer {
  url: string;
  port: number;
  app: App;
  sessions: SessionStore;
  executor: Executor;
  jupyter: JupyterServer;
  pool: KernelPool;
  /** Stops the HTTP server, every session, the kernels and Jupyter Server. Idempotent. */
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Defaults to every feature in `FEATURES`. */
  features?: FeatureFactory[];
  /** Do not listen on a port (in-process tests use `app.handle`). */
  listen?: boolean;
  /** How user code is kept from the server; default: not at all (one user for both, as a plain process). */
  confinement?: Confinement;
}

/**
 * The composition root of `coderunner serve`: Jupyter Server, the kernel pool, sessions, the executor,
 * the features, and the HTTP server, started in that order and stopped in reverse.
 */
export async function startServer(config: Config, log: Logger, options: StartOptions = {}): Promise<RunningServer> {
  const confinement = options.confinement ?? processConfinement();
  const userFiles = confinement.files(config);
  // Confined, the boot made the workspace as the sandbox user; the server may not even look into it.
  if (!userFiles) mkdirSync(config.workspace, { recursive: true });
  let pool: KernelPool | undefined;
  let sessions: SessionStore | undefined;
  const jupyter = new JupyterServer({
    python: config.python,
    rootDir: confinement.jupyterRoot(config),
    // One session per sandbox: its kernels start where it works, so opening it needs no chdir.
    kernelUser: confinement.kernelUser && config.oneSession ? { ...confinement.kernelUser, cwd: config.workspace } : confinement.kernelUser,
    startTimeoutMs: config.jupyterStartTimeoutSeconds * 1000,
    log,
    onDown: () => {
      sessions?.dropKernels("Jupyter Server had to be restarted; the session's Python state was lost.");
      pool?.reset();
    },
  });
  await jupyter.start();
  const factory = {
    start: async () => {
      await jupyter.ready();
      return PythonKernel.start(jupyter.serverSettings, "python3", { outputLimitBytes: config.outputLimitBytes, runProcesses: confinement.runProcesses });
    },
  };
  pool = new KernelPool({ factory, size: config.kernelPoolSize, refill: config.kernelPoolRefill, log });
  sessions = new SessionStore({
    pool,
    workspace: config.workspace,
    oneSession: config.oneSession,
    idleSeconds: config.sessionIdleSeconds,
    maxSessions: config.maxSessions,
    log,
    baseEnv: confinement.mode === "container" ? confinement.userEnvironment() : undefined,
    shell: { launch: confinement.launchShell, scriptDir: confinement.shellScriptDir, runProcesses: confinement.runProcesses },
    // Unconfined, code runs as the server's own uid: only what descends from a session's kernel or shell is its.
    leftovers: confinement.runProcesses ?? (process.platform === "linux" ? new RunProcesses(process.getuid!()) : undefined),
    directories: userFiles && { create: (path) => userFiles.makeDirectory(path), remove: (path) => userFiles.removeTree(path) },
  });
  const executor = new Executor({
    sessions,
    defaultTimeoutSeconds: config.defaultTimeoutSeconds,
    maxTimeoutSeconds: config.maxTimeoutSeconds,
    outputLimitBytes: config.outputLimitBytes,
  });
  const context = { config, log, sessions, executor, confinement, files: userFiles };
  const features: Feature[] = (options.features ?? FEATURES).map((build) => build(context));
  const started: Feature[] = [];
  let server: ReturnType<App["listen"]> | undefined;
  let stopping: Promise<void> | undefined;

  const stop = () =>
    (stopping ??= (async () => {
      await server?.stop(true);
      for (const feature of started.reverse()) await Promise.resolve(feature.stop?.()).catch(() => undefined);
      await sessions!.stop();
      await pool!.stop();
      await jupyter.stop();
      userFiles?.stop();
    })());

  try {
    pool.start();
    sessions.start();
    userFiles?.start();
    for (const feature of features) {
      await feature.start?.();
      started.push(feature);
    }
    const app = createApp({
      log,
      // A sandbox of one session is started ahead of its client (the warm pool): its first calls should not pay for compiling.
      precompile: config.oneSession,
      apiKey: config.apiKey,
      maxBodyBytes: config.maxBodyBytes,
      sessions,
      executor,
      plugins: features.map((feature) => feature.plugin),
      health: () => ({
        kernels: { idle: pool!.available, sessions: sessions!.size, jupyter: jupyter.pid !== undefined ? "running" : "down" },
        isolation: confinement.health(),
        ...Object.assign({}, ...features.map((feature) => feature.health?.() ?? {})),
      }),
    });
    let url = "";
    let port = 0;
    if (options.listen !== false) {
      server = app.listen({ hostname: config.host, port: config.port, maxRequestBodySize: config.maxUploadBytes + 16 * 1024 * 1024 });
      port = app.server!.port!;
      url = `http://${config.host.includes(":") ? `[${config.host}]` : config.host}:${port}`;
      log.info(`CodeRunner ${VERSION} listening on ${url} (docs at ${url}/docs)`);
    }
    return { url, port, app, sessions, executor, jupyter, pool, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
