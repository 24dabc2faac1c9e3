import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Config } from "../config";
import { SandboxUserFiles } from "../files/sandbox-user-files";
import { userEnvironment } from "../kernels/environment";
import type { KernelUser } from "../kernels/jupyter-server";
import { capabilitiesOf, namesOf } from "./capabilities";
import { CHROMIUM_WRAPPER, sandboxAccount, SANDBOX_USER, SERVER_USER, SHELL_SCRIPTS_DIR, STATE_ROOT, USER_OOM_SCORE_ADJ } from "./layout";
import { RunProcesses } from "../kernels/run-processes";
import { asUser, type UserCommandOptions } from "./user-command";

/**
 * How `coderunner serve` is isolated from the code it runs, as the rest of the server sees it.
 * - `process`: server and code share one user (a developer's machine, or a container started the
 *   plain way); every user process starts as it always did.
 * - `container`: the server runs as `coderunner-server` behind the boot's firewall, and every user
 *   process (kernel, shell, file operation, Chromium) as `coderunner` (the sandbox's own uid), with
 *   no capability and, when the host set one, within the sandbox user's process budget.
 */
export interface Confinement {
  readonly mode: "container" | "process";
  /** The environment user code starts from. */
  userEnvironment(): Record<string, string>;
  /** Who kernels run as, handed to the kernel launcher through Jupyter (undefined: Jupyter's own user). */
  readonly kernelUser: KernelUser | undefined;
  /** How a shell is started: its argv and the directory to spawn it in. */
  launchShell(argv: string[], cwd: string): { argv: string[]; cwd: string };
  /** Where shells' scripts are written so the shell's user can read them (undefined: a private temp directory). */
  readonly shellScriptDir: string | undefined;
  /** Where Jupyter Server runs (its root and working directory). */
  jupyterRoot(config: Config): string;
  /** How the file routes and sessions touch files (undefined: the server itself, inside the workspace). */
  files(config: Config): SandboxUserFiles | undefined;
  /** The executable Playwright starts for `chromium`. */
  chromium(chromium: string): string;
  /** Ends what a stopped run started, as the sandbox user's processes (undefined: runs are interrupted as Jupyter and bash do it). */
  readonly runProcesses: RunProcesses | undefined;
  /** The `isolation` field of `GET /health`. */
  health(): Isolation;
}

export interface Isolation {
  mode: "container" | "process";
  user_uid: number;
  server_uid: number;
  egress: "on" | "off";
  firewall: "nftables" | "none";
  /** Capabilities the server holds (effective set). */
  server_capabilities: string[];
  /** Capabilities user processes hold. */
  user_capabilities: string[];
  /** Most processes and threads user code may have at once (RLIMIT_NPROC), when the host set a budget. */
  user_process_limit?: number;
  /** How many networks the host asked to refuse on top of the fixed ranges (container mode; the addresses themselves are not shown). */
  host_networks_refused?: number;
  /** Milliseconds the confined boot took, firewall and directories included (container mode). */
  boot_ms?: number;
}

/** What the boot did, as it recorded it (`BOOT_RECORD`) for the server it started. */
export interface BootRecord {
  firewall: "nftables";
  egress: boolean;
  denied: string[];
  nameservers: string[];
  /** The uid (and gid) code runs as. */
  sandboxUid: number;
  /** The sandbox user's RLIMIT_NPROC, or null for none. */
  userProcesses: number | null;
  /** Milliseconds the boot took, firewall and directories included. */
  bootMs: number;
}

function effectiveCapabilities(): string[] {
  try {
    return namesOf(capabilitiesOf().effective);
  } catch {
    return [];
  }
}

/** Server and code share this process's user: everything as it always was. */
export function processConfinement(): Confinement {
  const uid = process.getuid?.() ?? -1;
  return {
    mode: "process",
    userEnvironment: () => userEnvironment(),
    kernelUser: undefined,
    launchShell: (argv, cwd) => ({ argv, cwd }),
    shellScriptDir: undefined,
    jupyterRoot: (config) => config.workspace,
    files: () => undefined,
    chromium: (chromium) => chromium,
    runProcesses: undefined,
    health: () => {
      const capabilities = effectiveCapabilities();
      return { mode: "process", user_uid: uid, server_uid: uid, egress: "on", firewall: "none", server_capabilities: capabilities, user_capabilities: capabilities };
    },
  };
}

/** The environment of user code in a confined sandbox: the server's, less its secrets and its own home and temp directory. */
export function sandboxEnvironment(env: Record<string, string | undefined> = process.env): Record<string, string> {
  const result = userEnvironment(env);
  if (result.TMPDIR?.startsWith(STATE_ROOT)) delete result.TMPDIR;
  return { ...result, HOME: SANDBOX_USER.home, USER: SANDBOX_USER.name, LOGNAME: SANDBOX_USER.name };
}

/** Confined: set up by the boot (`record`), the server is `coderunner-server` and code runs as `coderunner` with the record's uid. */
export function containerConfinement(record: BootRecord): Confinement {
  const account = sandboxAccount(record.sandboxUid, record.userProcesses ?? undefined);
  const user = { uid: account.uid, gid: account.gid, processes: account.processes, niceness: account.niceness };
  const command = (argv: string[], options?: UserCommandOptions) => asUser(user, argv, options);
  let files: SandboxUserFiles | undefined;
  return {
    mode: "container",
    userEnvironment: () => sandboxEnvironment(),
    kernelUser: { ...user, cwd: account.home, oomScoreAdj: USER_OOM_SCORE_ADJ, env: sandboxEnvironment() },
    launchShell: (argv, cwd) => ({ argv: command(argv, { cwd, oomScoreAdj: USER_OOM_SCORE_ADJ }), cwd: "/" }),
    shellScriptDir: SHELL_SCRIPTS_DIR,
    // The server may not enter the sandbox user's directories: kernels move to theirs after the switch.
    jupyterRoot: () => "/",
    files: (config) =>
      (files ??= new SandboxUserFiles({
        asUser: (argv) => command(argv),
        userName: `${account.name} (uid ${account.uid})`,
        stagingDir: join(config.workspace, ".uploads"),
      })),
    chromium: () => CHROMIUM_WRAPPER,
    runProcesses: new RunProcesses(account.uid),
    health: () => ({
      mode: "container",
      user_uid: account.uid,
      server_uid: process.getuid?.() ?? SERVER_USER.uid,
      egress: record.egress ? "on" : "off",
      firewall: record.firewall,
      server_capabilities: effectiveCapabilities(),
      user_capabilities: [],
      ...(account.processes === undefined ? {} : { user_process_limit: account.processes }),
      host_networks_refused: record.denied.length,
      boot_ms: record.bootMs,
    }),
  };
}

/** Reads the boot's record; throws when there is none (the server was not started by a boot). */
export function readBootRecord(path: string): BootRecord {
  const record = JSON.parse(readFileSync(path, "utf8")) as BootRecord;
  if (record.firewall !== "nftables" || typeof record.egress !== "boolean" || !Number.isInteger(record.sandboxUid)) throw new Error(`${path} is not a boot record`);
  return record;
}
