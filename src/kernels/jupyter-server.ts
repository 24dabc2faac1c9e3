import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ServerConnection } from "@jupyterlab/services";
import { AppError, messageOf } from "../errors";
import { within } from "../timers";
import { userEnvironment } from "./environment";
import type { Logger } from "../log";

/**
 * Python run by Jupyter Server as its config file. It
 * - turns on TCP_NODELAY for kernel websockets: Jupyter Server 1.x leaves Nagle's algorithm on, and
 *   meeting the client's delayed ACKs it adds ~40 ms to every execute round trip;
 * - ends the server when its parent (CodeRunner) is gone, so even a SIGKILLed CodeRunner leaves no
 *   Jupyter behind (kernels then follow, as ipykernel watches its own parent).
 */
const SERVER_CONFIG_PY = `
import os, signal, threading, time
from jupyter_server.services.kernels import handlers as _handlers

_original_open = _handlers.ZMQChannelsHandler.open
def _open_nodelay(self, *args, **kwargs):
    self.set_nodelay(True)
    return _original_open(self, *args, **kwargs)
_handlers.ZMQChannelsHandler.open = _open_nodelay

_parent = os.getppid()
def _watch_parent():
    while True:
        time.sleep(0.5)
        if os.getppid() != _parent:
            os.kill(os.getpid(), signal.SIGTERM)
            return
threading.Thread(target=_watch_parent, name="coderunner-parent-watch", daemon=True).start()
`;

/**
 * IPython configuration for the kernels (their IPYTHONDIR is private to CodeRunner): history stays in
 * memory (In, Out and _i work) instead of an SQLite file written after every cell, which cost about
 * a millisecond per run and left a history of every session's code on disk.
 */
const KERNEL_CONFIG_PY = `
c.HistoryManager.enabled = False
`;

export interface JupyterServerOptions {
  /** Python interpreter with jupyter_server and ipykernel. */
  python: string;
  /** Directory Jupyter treats as its root; kernels start there. */
  rootDir: string;
  /** How long the server may take to answer after spawn. */
  startTimeoutMs: number;
  log: Logger;
  /** Called as soon as the server died unexpectedly (its kernels are gone with it); a restart follows. */
  onDown?: () => void;
  /** Extra environment for the server and the kernels it starts. */
  env?: Record<string, string>;
  /** Run kernels as this user rather than Jupyter's own (the kernel launcher switches to it). */
  kernelUser?: KernelUser;
}

/**
 * Who kernels run as when Jupyter Server runs as another (privileged) user: the kernel launcher
 * (image/kernel-launcher.py) reads its connection file, then switches to this user for good.
 */
export interface KernelUser {
  uid: number;
  gid: number;
  /** The kernel's working directory after the switch. */
  cwd: string;
  /** The kernel's oom_score_adj, so the OOM killer prefers it to the server. */
  oomScoreAdj: number;
  /** The user's RLIMIT_NPROC (processes and threads), set before the switch; none when undefined. */
  processes?: number;
  /** The kernel's niceness, set before the switch; the inherited one when undefined. */
  niceness?: number;
  /** The environment kernels start from (Jupyter Server's own is private to the server). */
  env: Record<string, string>;
}

/** What the launcher reads from `CODERUNNER_KERNEL_USER`: the user, and how to turn Jupyter's environment into the kernel's. */
export interface KernelHandoff {
  uid: number;
  gid: number;
  cwd: string;
  oom_score_adj: number;
  /** RLIMIT_NPROC, soft and hard, or null for the one the launcher inherited. */
  nproc: number | null;
  /** Niceness to add, or null for none. */
  nice: number | null;
  /** Variables to set (or change) for the kernel. */
  env: Record<string, string>;
  /** Jupyter's own variables, removed for the kernel. */
  unset: string[];
}

/**
 * The handoff that turns `jupyterEnv` (what Jupyter Server, and so the launcher, starts with) into
 * `kernelEnv`. Variables Jupyter adds for its kernels later (JPY_PARENT_PID, ...) are kept.
 */
export function kernelHandoff(user: KernelUser, jupyterEnv: Record<string, string>, kernelEnv: Record<string, string>): KernelHandoff {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(kernelEnv)) if (jupyterEnv[name] !== value) env[name] = value;
  const unset = Object.keys(jupyterEnv).filter((name) => !(name in kernelEnv));
  return { uid: user.uid, gid: user.gid, cwd: user.cwd, oom_score_adj: user.oomScoreAdj, nproc: user.processes ?? null, nice: user.niceness ?? null, env, unset };
}

type Subprocess = ReturnType<typeof Bun.spawn>;

/** A free TCP port on 127.0.0.1, found by binding port 0. */
export async function freePort(): Promise<number> {
  const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const { port } = server;
  server.stop(true);
  return port;
}

/**
 * Jupyter Server as a managed child process: started on loopback with a free port and a random token,
 * awaited until it answers, restarted if it dies, and stopped (kernels included) with CodeRunner.
 */
export class JupyterServer {
  private process: Subprocess | undefined;
  private stopping = false;
  private stateDir: string | undefined;
  private stderrTail: string[] = [];
  private restartTimer: Timer | undefined;
  private failures = 0;
  private up = Promise.withResolvers<void>();
  settings: ServerConnection.ISettings | undefined;
  baseUrl = "";
  readonly token = crypto.randomUUID().replaceAll("-", "");

  constructor(private readonly options: JupyterServerOptions) {}

  /** PID of the server while it is answering, else undefined. */
  get pid(): number | undefined {
    return this.settings && this.process?.exitCode === null ? this.process.pid : undefined;
  }

  /** Resolves when the server answers (at once if it does now); rejects if it is being stopped. */
  ready(): Promise<void> {
    return this.up.promise;
  }

  /** Settings for `@jupyterlab/services`; throws while the server is down. */
  get serverSettings(): ServerConnection.ISettings {
    if (!this.settings) throw new AppError("KERNEL_UNAVAILABLE", "Jupyter Server is not running.");
    return this.settings;
  }

  async start(): Promise<void> {
    this.stopping = false;
    this.stateDir ??= mkdtempSync(join(tmpdir(), "coderunner-jupyter-"));
    const configPath = join(this.stateDir, "coderunner_server_config.py");
    // The token lives in the config file, not the environment, which the kernels (user code) inherit.
    writeFileSync(configPath, `${SERVER_CONFIG_PY}\nc.ServerApp.token = ${JSON.stringify(this.token)}\n`, { mode: 0o600 });
    const ipythonDir = join(this.stateDir, "ipython");
    mkdirSync(join(ipythonDir, "profile_default"), { recursive: true });
    writeFileSync(join(ipythonDir, "profile_default", "ipython_kernel_config.py"), KERNEL_CONFIG_PY, { mode: 0o600 });
    mkdirSync(this.options.rootDir, { recursive: true });
    const port = await freePort();
    const args = [
      this.options.python, "-m", "jupyter_server",
      "--no-browser", "--allow-root",
      "--ServerApp.ip=127.0.0.1",
      `--ServerApp.port=${port}`,
      "--ServerApp.port_retries=0",
      `--ServerApp.root_dir=${this.options.rootDir}`,
      `--config=${configPath}`,
      "--ServerApp.open_browser=False",
      "--ServerApp.disable_check_xsrf=True",
      "--ServerApp.log_level=WARN",
      // Kernels live as long as CodeRunner's sessions say, not as long as Jupyter's idle culler says.
      "--MappingKernelManager.cull_idle_timeout=0",
      // A kernel that dies is CodeRunner's to replace (the session is told its state was lost), not
      // Jupyter's to restart: a restart costs a kernel start nobody uses, and @jupyterlab/services
      // answers it by reconnecting with a promise nobody awaits, which rejects when the connection
      // is disposed meanwhile and, unhandled, would end the whole server.
      "--KernelManager.autorestart=False",
      // Output volume is bounded by CodeRunner's own cap; Jupyter's rate limiter would silently drop output instead.
      "--ServerApp.limit_rate=False",
      // A kernel that dies is noticed (and restarted by Jupyter for sessions still holding it) within half a second.
      "--KernelRestarter.time_to_dead=0.5",
    ];
    this.stderrTail = [];
    const kernelUser = this.options.kernelUser;
    const common = { ...(kernelUser?.env ?? userEnvironment()), ...this.options.env, PYDEVD_DISABLE_FILE_VALIDATION: "1", PYTHONUNBUFFERED: "1" };
    const env: Record<string, string> = {
      ...common,
      JUPYTER_CONFIG_DIR: join(this.stateDir, "config"),
      JUPYTER_RUNTIME_DIR: join(this.stateDir, "runtime"),
      IPYTHONDIR: ipythonDir,
    };
    if (kernelUser) {
      // Jupyter (and the launcher, before it switches user) holds the capabilities to change user:
      // nothing it reads at start may come from where the sandbox user writes (its home, its
      // ~/.local Python packages and Jupyter kernel specs).
      const home = join(this.stateDir, "home");
      mkdirSync(home, { recursive: true });
      Object.assign(env, { HOME: home, JUPYTER_DATA_DIR: join(this.stateDir, "data"), PYTHONNOUSERSITE: "1", TMPDIR: tmpdir() });
      env.CODERUNNER_KERNEL_USER = JSON.stringify(kernelHandoff(kernelUser, env, common));
    }
    this.process = Bun.spawn(args, {
      cwd: this.options.rootDir,
      env,
      stdin: "ignore",
      stdout: "ignore",
      stderr: "pipe",
      onExit: (_proc, code, signal) => this.onExit(code, signal),
    });
    void this.collectStderr(this.process);
    this.baseUrl = `http://127.0.0.1:${port}/`;
    await this.waitUntilAnswering(this.options.startTimeoutMs);
    this.settings = ServerConnection.makeSettings({
      baseUrl: this.baseUrl,
      wsUrl: `ws://127.0.0.1:${port}/`,
      token: this.token,
      appendToken: true,
    });
    this.failures = 0;
    this.up.resolve();
    this.options.log.info(`Jupyter Server answering on ${this.baseUrl} (pid ${this.process.pid})`);
  }

  private async collectStderr(proc: Subprocess): Promise<void> {
    const stream = proc.stderr;
    if (!stream || typeof stream === "number") return;
    const decoder = new TextDecoder();
    for await (const chunk of stream as ReadableStream<Uint8Array>) {
      const lines = decoder.decode(chunk, { stream: true }).split("\n").filter(Boolean);
      for (const line of lines) this.options.log.debug(`[jupyter] ${line}`);
      this.stderrTail.push(...lines);
      if (this.stderrTail.length > 40) this.stderrTail.splice(0, this.stderrTail.length - 40);
    }
  }

  private async waitUntilAnswering(timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    const proc = this.process;
    while (performance.now() < deadline) {
      if (!proc || proc.exitCode !== null || proc.signalCode) {
        throw new AppError(
          "KERNEL_UNAVAILABLE",
          `Jupyter Server (${this.options.python} -m jupyter_server) exited during start: ${this.stderrTail.slice(-8).join(" | ") || "no output"}`,
        );
      }
      try {
        const response = await fetch(`${this.baseUrl}api/status`, {
          headers: { Authorization: `token ${this.token}` },
          signal: AbortSignal.timeout(1000),
        });
        if (response.ok) return;
      } catch {
        // Not listening yet.
      }
      await Bun.sleep(50);
    }
    throw new AppError("KERNEL_UNAVAILABLE", `Jupyter Server did not answer within ${timeoutMs} ms.`);
  }

  private onExit(code: number | null, signal: number | string | null): void {
    if (this.stopping) return;
    if (this.settings) {
      this.settings = undefined;
      this.up = Promise.withResolvers<void>();
      this.options.onDown?.();
    }
    this.failures += 1;
    const delay = Math.min(200 * 2 ** (this.failures - 1), 10_000);
    this.options.log.warn(
      `Jupyter Server exited unexpectedly (code ${code}, signal ${signal}); restarting in ${delay} ms. ${this.stderrTail.slice(-3).join(" | ")}`,
    );
    this.restartTimer = setTimeout(async () => {
      this.restartTimer = undefined;
      try {
        await this.start();
      } catch (error) {
        this.options.log.error(`Jupyter Server restart failed: ${messageOf(error)}`);
        this.onExit(null, null);
      }
    }, delay);
  }

  /** Stops the server; Jupyter shuts its kernels down on SIGTERM. Escalates to SIGKILL after `graceMs`. */
  async stop(graceMs = 5000): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    this.settings = undefined;
    this.up.reject(new AppError("KERNEL_UNAVAILABLE", "CodeRunner is stopping."));
    this.up.promise.catch(() => undefined);
    const proc = this.process;
    this.process = undefined;
    if (proc && proc.exitCode === null && !proc.signalCode) {
      proc.kill("SIGTERM");
      const exited = await within(proc.exited.then(() => true), graceMs, false);
      if (!exited) {
        proc.kill("SIGKILL");
        await proc.exited;
      }
    }
    if (this.stateDir) rmSync(this.stateDir, { recursive: true, force: true });
    this.stateDir = undefined;
  }
}
