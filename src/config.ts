import { tmpdir } from "node:os";
import { join } from "node:path";
import { VERSION } from "./version";

/**
 * Every setting of `coderunner serve`, parsed once at start: its meaning, default and environment
 * variable live in `SETTINGS`. `loadConfig()` validates them all and fails with one clear message
 * naming the variable, so a typo never silently becomes a default.
 */
type Kind = "string" | "int" | "number" | "bool";
interface Setting {
  env: string;
  kind: Kind;
  doc: string;
  default: string | number | boolean | undefined;
  min?: number;
}

const s = <const S extends Setting>(setting: S) => setting;
const MiB = 1024 * 1024;

export const SETTINGS = {
  host: s({ env: "CODERUNNER_HOST", kind: "string", default: "127.0.0.1", doc: "Address the REST server listens on. Anything but loopback requires an API key." }),
  port: s({ env: "CODERUNNER_PORT", kind: "int", default: 8223, min: 0, doc: "Port the REST server listens on (0 picks a free one)." }),
  apiKey: s({ env: "CODERUNNER_API_KEY", kind: "string", default: undefined, doc: "When set, every route but /health, the docs and a session's usage requires this key in X-API-Key." }),
  python: s({ env: "CODERUNNER_PYTHON", kind: "string", default: "/usr/bin/python3", doc: "Python interpreter that has jupyter_server and ipykernel." }),
  kernelPoolSize: s({ env: "CODERUNNER_KERNEL_POOL_SIZE", kind: "int", default: 2, min: 0, doc: "Idle kernels kept warm for new sessions." }),
  kernelPoolRefill: s({ env: "CODERUNNER_KERNEL_POOL_REFILL", kind: "bool", default: true, doc: "Replace pool kernels as they are handed out; false keeps only the first ones (a sandbox serving one session)." }),
  oneSession: s({ env: "CODERUNNER_ONE_SESSION", kind: "bool", default: false, doc: "This server serves one session, in a sandbox of its own (set by the host): the session works in the workspace itself, where kernels start." }),
  maxSessions: s({ env: "CODERUNNER_MAX_SESSIONS", kind: "int", default: 64, min: 1, doc: "Execution sessions open at once; more answer 429." }),
  sessionIdleSeconds: s({ env: "CODERUNNER_SESSION_IDLE_SECONDS", kind: "number", default: 3600, min: 1, doc: "An execution session unused this long is closed and its kernel released." }),
  defaultTimeoutSeconds: s({ env: "CODERUNNER_DEFAULT_TIMEOUT", kind: "number", default: 30, min: 0.001, doc: "Timeout of a run whose request gives none, in seconds." }),
  maxTimeoutSeconds: s({ env: "CODERUNNER_MAX_TIMEOUT", kind: "number", default: 24 * 3600, min: 0.001, doc: "Largest timeout a request may ask for, in seconds." }),
  outputLimitBytes: s({ env: "CODERUNNER_OUTPUT_LIMIT_BYTES", kind: "int", default: MiB, min: 1024, doc: "Output kept per run (stdout + stderr + rich results); the rest is dropped and the result flagged truncated." }),
  maxBodyBytes: s({ env: "CODERUNNER_MAX_BODY_BYTES", kind: "int", default: 10 * MiB, min: 1024, doc: "Largest JSON or form request body; larger ones answer 413." }),
  maxUploadBytes: s({ env: "CODERUNNER_MAX_UPLOAD_BYTES", kind: "int", default: 1024 * MiB, min: 1024, doc: "Largest file upload or download; larger ones answer 413." }),
  taskRetentionSeconds: s({ env: "CODERUNNER_TASK_RETENTION_SECONDS", kind: "number", default: 3600, min: 1, doc: "How long a finished async task's result is kept for GET /v1/executions/{id}." }),
  maxRetainedTasks: s({ env: "CODERUNNER_MAX_TASKS", kind: "int", default: 10000, min: 1, doc: "Async tasks kept at once (queued, running and finished); past it the oldest finished are dropped, and submissions answer 429 if none can be." }),
  taskRetentionBytes: s({ env: "CODERUNNER_TASK_RETENTION_BYTES", kind: "int", default: 256 * MiB, min: 1024, doc: "Output of finished async tasks kept at once (on disk, in tasks.db); past it the oldest finished tasks are dropped early." }),
  stateDir: s({ env: "CODERUNNER_STATE_DIR", kind: "string", default: undefined, doc: "Where the server keeps what outlives it (tasks.db: async tasks and their results); unset: <workspace>/.coderunner, or /run/coderunner/data in a confined sandbox; :memory: keeps tasks in memory only." }),
  workspace: s({ env: "CODERUNNER_WORKSPACE", kind: "string", default: join(tmpdir(), "coderunner"), doc: "The sandbox's file area; each session works in a directory under it." }),
  jupyterStartTimeoutSeconds: s({ env: "CODERUNNER_JUPYTER_START_TIMEOUT", kind: "number", default: 60, min: 1, doc: "How long Jupyter Server may take to answer after it is started." }),
  chromiumPath: s({ env: "CODERUNNER_CHROMIUM", kind: "string", default: undefined, doc: "Chromium executable for the browser; found automatically when unset." }),
  maxBrowserSessions: s({ env: "CODERUNNER_MAX_BROWSER_SESSIONS", kind: "int", default: 16, min: 1, doc: "Browser sessions open at once; more answer 429." }),
  browserIdleSeconds: s({ env: "CODERUNNER_BROWSER_IDLE_SECONDS", kind: "number", default: 1800, min: 1, doc: "A browser session unused this long is closed." }),
  logLevel: s({ env: "CODERUNNER_LOG_LEVEL", kind: "string", default: "info", doc: "One of debug, info, warn, error." }),
  dockerHost: s({ env: "DOCKER_HOST", kind: "string", default: undefined, doc: "Docker Engine address for `coderunner up` and host mode (unix:///path or tcp://host:port); unset: /var/run/docker.sock, else the rootless, Docker Desktop or Colima socket found." }),
  image: s({ env: "CODERUNNER_IMAGE", kind: "string", default: `coderunner:${VERSION}`, doc: "Image tag of the sandbox container; built from the copy embedded in the binary when absent." }),
  registry: s({ env: "CODERUNNER_REGISTRY", kind: "string", default: "ghcr.io/coderunner/coderunner", doc: "Where the published sandbox image lives: `coderunner up` pulls <registry>:<version> before building the image itself; none never pulls." }),
  containerName: s({ env: "CODERUNNER_CONTAINER", kind: "string", default: "coderunner", doc: "Name of the sandbox container that `coderunner up` creates and resumes." }),
  containerPort: s({ env: "CODERUNNER_CONTAINER_PORT", kind: "int", default: 8224, min: 0, doc: "Host port (on 127.0.0.1) the container's API is published on; 0 lets Docker choose." }),
  memoryMB: s({ env: "CODERUNNER_MEMORY_MB", kind: "int", default: 4096, min: 64, doc: "Memory limit of each sandbox, in MiB (a session may ask for another with memory_mb)." }),
  cpus: s({ env: "CODERUNNER_CPUS", kind: "number", default: 2, min: 0.01, doc: "CPU limit of each sandbox, in cores (a session may ask for another with vcpu_count; at most the Engine's CPUs)." }),
  pidsLimit: s({ env: "CODERUNNER_PIDS_LIMIT", kind: "int", default: 1024, min: 16, doc: "Most processes one sandbox may run at once." }),
  poolSize: s({ env: "CODERUNNER_POOL_SIZE", kind: "int", default: 2, min: 0, doc: "Sandboxes kept started and warm for new sessions (host mode); 0 starts each on demand." }),
  sandboxStarts: s({ env: "CODERUNNER_SANDBOX_STARTS", kind: "int", default: 0, min: 0, doc: "Sandboxes started at once (host mode), those a waiting session needs first; 0: as many as the Engine has CPUs (at least 2)." }),
  diskMB: s({ env: "CODERUNNER_DISK_MB", kind: "int", default: 10240, min: 64, doc: "What one sandbox may write to disk, in MiB (host mode); past it writes fail inside the sandbox." }),
  diskCap: s({ env: "CODERUNNER_DISK_CAP", kind: "string", default: "auto", doc: "How the disk cap is enforced: auto, storage-opt (the Engine's), loop (a filesystem per sandbox; root on Linux), none." }),
  internet: s({ env: "CODERUNNER_INTERNET", kind: "bool", default: true, doc: "Whether new sandboxes may reach the internet (a session can switch it off with allow_internet_access: false); private and link-local addresses never." }),
  upTimeoutSeconds: s({ env: "CODERUNNER_UP_TIMEOUT", kind: "number", default: 180, min: 1, doc: "How long `coderunner up` waits for the container to answer /health." }),
  confine: s({ env: "CODERUNNER_CONFINE", kind: "bool", default: false, doc: "Inside the sandbox container, started as root: install the sandbox's firewall, then run the server and user code as two users (see src/confinement/)." }),
  egress: s({ env: "CODERUNNER_EGRESS", kind: "bool", default: true, doc: "With CODERUNNER_CONFINE: whether code may reach the internet (on) or nothing outside the sandbox, DNS included (off)." }),
  denyCIDRs: s({ env: "CODERUNNER_DENY_CIDRS", kind: "string", default: undefined, doc: "With CODERUNNER_CONFINE: comma-separated addresses or networks code may never reach (the host's own), on top of private and link-local ranges." }),
  sandboxUid: s({ env: "CODERUNNER_SANDBOX_UID", kind: "int", default: 1000, min: 1000, doc: "With CODERUNNER_CONFINE: the uid and gid code runs as, named coderunner; the host gives each session's sandbox one of its own so process limits and signals never reach across sandboxes." }),
  userProcesses: s({ env: "CODERUNNER_USER_PROCESSES", kind: "int", default: 0, min: 0, doc: "With CODERUNNER_CONFINE: most processes and threads code may have at once (RLIMIT_NPROC of the sandbox uid), below the container's pids limit so the server keeps room to run; 0 sets none." }),
} as const;

type Widen<D> = D extends string ? string : D extends number ? number : D extends boolean ? boolean : never;
type ValueOf<S> = S extends { default: infer D } ? (undefined extends D ? string | undefined : Widen<D>) : never;

export type Config = { -readonly [Name in keyof typeof SETTINGS]: ValueOf<(typeof SETTINGS)[Name]> };

/** Raised when a setting's value cannot be used; the message names the variable. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

function parse(name: string, setting: Setting, raw: string): unknown {
  const fail = (what: string) => new ConfigError(`${setting.env}=${JSON.stringify(raw)} is not ${what} (${setting.doc})`);
  switch (setting.kind) {
    case "string":
      return raw;
    case "bool":
      if (/^(1|true|yes|on)$/i.test(raw)) return true;
      if (/^(0|false|no|off)$/i.test(raw)) return false;
      throw fail("a boolean");
    case "int":
    case "number": {
      const value = Number(raw);
      if (raw.trim() === "" || !Number.isFinite(value)) throw fail("a number");
      if (setting.kind === "int" && !Number.isInteger(value)) throw fail("an integer");
      if (setting.min !== undefined && value < setting.min) throw fail(`at least ${setting.min}`);
      return value;
    }
  }
  throw new ConfigError(`unknown kind for ${name}`);
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

/** True when `host` only accepts connections from this machine. */
export function isLoopback(host: string): boolean {
  return LOOPBACK.test(host);
}

/**
 * Reads every setting from `env`, then applies `overrides` (already typed values, as tests and the
 * CLI pass them). Throws `ConfigError` on the first unusable value.
 */
export function loadConfig(env: Record<string, string | undefined> = process.env, overrides: Partial<Config> = {}): Config {
  const config: Record<string, unknown> = {};
  for (const [name, setting] of Object.entries(SETTINGS) as [string, Setting][]) {
    const raw = env[setting.env];
    config[name] = raw === undefined || raw === "" ? setting.default : parse(name, setting, raw);
  }
  Object.assign(config, overrides);
  const result = config as Config;
  if (!["debug", "info", "warn", "error"].includes(result.logLevel)) {
    throw new ConfigError(`CODERUNNER_LOG_LEVEL must be one of debug, info, warn, error (got ${result.logLevel})`);
  }
  if (!isLoopback(result.host) && !result.apiKey) {
    throw new ConfigError(
      `Refusing to listen on ${result.host} without an API key: set CODERUNNER_API_KEY, or listen on 127.0.0.1.`,
    );
  }
  if (!["auto", "storage-opt", "loop", "none"].includes(result.diskCap)) {
    throw new ConfigError(`CODERUNNER_DISK_CAP must be one of auto, storage-opt, loop, none (got ${result.diskCap})`);
  }
  if (result.defaultTimeoutSeconds > result.maxTimeoutSeconds) {
    throw new ConfigError("CODERUNNER_DEFAULT_TIMEOUT cannot exceed CODERUNNER_MAX_TIMEOUT");
  }
  return result;
}

/** Help text listing every setting, for `coderunner --help`. */
export function describeSettings(): string {
  return Object.values(SETTINGS)
    .map((setting: Setting) => {
      const shown = setting.default === undefined ? "unset" : String(setting.default);
      return `  ${setting.env.padEnd(34)} ${setting.doc} [default: ${shown}]`;
    })
    .join("\n");
}
