import { chmodSync, chownSync, existsSync, lchownSync, lstatSync, mkdirSync, readFileSync, renameSync, type Stats, writeFileSync } from "node:fs";
import { dirname, isAbsolute, join, relative, sep } from "node:path";
import type { Config } from "../config";
import type { Logger } from "../log";
import { BOOT_CAPABILITIES, capabilitiesOf, missing, SERVER_CAPABILITIES } from "./capabilities";
import { formatNetwork, parseCIDRList } from "./cidr";
import type { BootRecord } from "./confinement";
import { exec } from "./exec";
import { firewallRuleset, installFirewall, nameserversOf } from "./firewall";
import {
  type Account,
  APP_DIR,
  BOOT_RECORD,
  MATPLOTLIB_CACHE_SEED,
  SANDBOX_USER,
  SERVER_STATE_DIR,
  SERVER_USER,
  SHELL_SCRIPTS_DIR,
  STATE_ROOT,
  TINI,
} from "./layout";
import { asUser, SETPRIV } from "./user-command";

/**
 * The confined boot: `coderunner serve` started as root inside the container with
 * CODERUNNER_CONFINE=1. Before anything else runs it
 * 1. installs the firewall in the container's network namespace (firewall.ts);
 * 2. prepares the filesystem: the server's private state under /run/coderunner, and whatever an
 *    empty volume lacks (home, workspace, /app, a 1777 /tmp, the Matplotlib font cache) — acting in
 *    the sandbox user's directories only as that user, never as root;
 * 3. execs `coderunner serve` again as `coderunner-server` with CAP_SETUID, CAP_SETGID and CAP_KILL
 *    only (ambient, so Jupyter and the launchers it starts get them too), every other capability
 *    gone from the bounding set, `no_new_privs`, and SECBIT_NOROOT (uid 0 means nothing to an exec),
 *    behind tini when this is PID 1. No root process and no CAP_NET_ADMIN remain.
 * Any failure ends the boot with the reason: a sandbox that cannot be confined does not start.
 */

export class BootError extends Error {
  override name = "BootError";
}


/** The `setpriv` prefix that turns the boot into the server: its user and exactly `SERVER_CAPABILITIES`. */
export function serverDropArgv(server: Account = SERVER_USER): string[] {
  const caps = SERVER_CAPABILITIES.map((name) => `+${name.toLowerCase()}`).join(",");
  return [
    SETPRIV,
    `--reuid=${server.uid}`,
    `--regid=${server.gid}`,
    "--clear-groups",
    `--inh-caps=-all,${caps}`,
    `--ambient-caps=-all,${caps}`,
    `--bounding-set=-all,${caps}`,
    "--securebits=+noroot,+noroot_locked",
    "--no-new-privs",
    "--",
  ];
}

/** The command line that replaces the boot: the server, as the server user, behind tini when PID 1. */
export function serverCommand(executable: string, pid: number): string[] {
  return [...serverDropArgv(), ...(pid === 1 ? [TINI, "--"] : []), executable, "serve"];
}

/** The server's environment: the container's, with a home and temp directory of its own. */
export function serverEnvironment(env: Record<string, string | undefined>): Record<string, string | undefined> {
  return { ...env, HOME: `${SERVER_STATE_DIR}/home`, TMPDIR: `${SERVER_STATE_DIR}/tmp`, USER: SERVER_USER.name, LOGNAME: SERVER_USER.name };
}

async function runAs(account: Pick<Account, "uid" | "gid">, argv: string[], what: string): Promise<void> {
  const proc = Bun.spawn(asUser(account, argv), { cwd: "/", env: { PATH: "/usr/bin:/bin", LC_ALL: "C" }, stdout: "pipe", stderr: "pipe" });
  const [code, err] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
  if (code !== 0) throw new BootError(`${what} failed (exit ${code}): ${err.trim()}`);
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}

/**
 * A fresh directory (and `children`, 0700) for `owner` with `mode`. One left by an earlier boot (a
 * restarted container) is moved aside and removed by its owner: root may not look into it (no
 * CAP_DAC_OVERRIDE). Root creates everything while it still owns the directory, then hands it over.
 */
async function freshDirectory(path: string, owner: Account, mode: number, children: string[] = []): Promise<void> {
  if (lstatOrUndefined(path)) {
    const old = `${path}.old-${process.pid}-${Date.now()}`;
    renameSync(path, old);
    // Left over on failure: harmless, and a sandbox that restarts should still start.
    await runAs(owner, ["/bin/sh", "-c", 'chmod -R u+rwx -- "$1" 2>/dev/null; rm -rf -- "$1"', "sh", old], `Removing the previous ${path}`).catch(() => undefined);
  }
  mkdirSync(path, { mode: 0o700 });
  for (const child of children) {
    mkdirSync(`${path}/${child}`, { mode: 0o700 });
    chownSync(`${path}/${child}`, owner.uid, owner.gid);
  }
  chmodSync(path, mode); // before the chown: root may not chmod what it does not own (no CAP_FOWNER)
  chownSync(path, owner.uid, owner.gid);
}

/** The server's state: /run/coderunner (root, 0755), its private directory (0700) and the shells' scripts (0711). */
async function prepareServerState(): Promise<void> {
  const root = lstatOrUndefined(STATE_ROOT);
  if (root && (root.isSymbolicLink() || !root.isDirectory() || root.uid !== 0)) throw new BootError(`${STATE_ROOT} is not a directory owned by root.`);
  if (!root) mkdirSync(STATE_ROOT, { recursive: true, mode: 0o755 });
  chmodSync(STATE_ROOT, 0o755);
  await freshDirectory(SERVER_STATE_DIR, SERVER_USER, 0o700, ["home", "tmp"]);
  await freshDirectory(SHELL_SCRIPTS_DIR, SERVER_USER, 0o711);
}

/**
 * A directory the sandbox user owns (its home, /app): created when missing, given to the user when
 * root owns it (an empty volume). `required` ones must exist afterwards.
 */
function userDirectory(path: string, required: boolean, log: Logger): void {
  let stats = lstatOrUndefined(path);
  if (!stats) {
    try {
      mkdirSync(path, { mode: 0o755 });
    } catch (error) {
      if (required) throw new BootError(`${path} is missing and cannot be created (${(error as NodeJS.ErrnoException).code}): mount a volume there.`);
      log.warn(`${path} is missing and cannot be created (read-only root filesystem?); uploads to it will fail.`);
      return;
    }
    stats = lstatSync(path);
  }
  if (stats.isSymbolicLink() || !stats.isDirectory()) throw new BootError(`${path} is not a directory.`);
  if (stats.uid === 0) chownSync(path, SANDBOX_USER.uid, SANDBOX_USER.gid);
  else if (stats.uid !== SANDBOX_USER.uid) log.warn(`${path} belongs to uid ${stats.uid}, not the sandbox user (${SANDBOX_USER.uid}); left as it is.`);
}

/** A world-writable temp directory (1777), made so by its owner: root, or the sandbox user for a volume it owns. */
async function tempDirectory(path: string, log: Logger): Promise<void> {
  const stats = lstatOrUndefined(path);
  if (!stats || stats.isSymbolicLink() || !stats.isDirectory()) {
    if (path === "/tmp") throw new BootError(`${path} is not a directory: mount a volume or tmpfs there.`);
    log.warn(`${path} is not a directory; left as it is.`);
    return;
  }
  if ((stats.mode & 0o7777) === 0o1777) return;
  if (stats.uid === 0) chmodSync(path, 0o1777);
  else if (stats.uid === SANDBOX_USER.uid) await runAs(SANDBOX_USER, ["/bin/chmod", "1777", "--", path], `chmod 1777 ${path}`);
  else log.warn(`${path} belongs to uid ${stats.uid} and is not 1777; left as it is.`);
}

/**
 * Directories between the home and the workspace that root owns go to the sandbox user: Docker
 * creates the image's WORKDIR (the workspace) as root inside an empty home volume. At boot no user
 * process runs yet, and a symlink is never followed.
 */
function reclaimWorkspace(workspace: string): void {
  const rel = relative(SANDBOX_USER.home, workspace);
  if (!rel || rel.startsWith("..") || isAbsolute(rel)) return;
  let path = SANDBOX_USER.home;
  for (const part of rel.split(sep)) {
    path = join(path, part);
    const stats = lstatOrUndefined(path);
    if (!stats || stats.isSymbolicLink() || !stats.isDirectory()) return;
    if (stats.uid === 0) lchownSync(path, SANDBOX_USER.uid, SANDBOX_USER.gid);
  }
}

/** As the sandbox user: the workspace, and the prebuilt Matplotlib font cache in a home that lacks one. */
async function seedHome(workspace: string): Promise<void> {
  const cache = `${SANDBOX_USER.home}/.cache/matplotlib`;
  const seed = existsSync(MATPLOTLIB_CACHE_SEED) ? MATPLOTLIB_CACHE_SEED : "";
  await runAs(
    SANDBOX_USER,
    ["/bin/sh", "-c", 'mkdir -p -- "$1" || exit 1; [ -z "$3" ] && exit 0; mkdir -p -- "$2" && cp -n -- "$3"/* "$2"/ 2>/dev/null; exit 0', "sh", workspace, cache, seed],
    `Creating the workspace ${workspace}`,
  );
}

/** The caller's capabilities must hold `BOOT_CAPABILITIES`; the message says how to create the container. */
export function checkBootCapabilities(effective: bigint): void {
  const lacking = missing(effective, BOOT_CAPABILITIES);
  if (lacking.length) {
    throw new BootError(
      `CODERUNNER_CONFINE=1 needs the capabilities ${BOOT_CAPABILITIES.join(", ")} at start, and ${lacking.join(", ")} ${lacking.length === 1 ? "is" : "are"} missing: create the container with confinedContainer() (src/confinement/container.ts).`,
    );
  }
}

/** Runs the boot and execs the server; returns only by throwing. */
export async function boot(config: Config, log: Logger): Promise<never> {
  const started = performance.now();
  checkBootCapabilities(capabilitiesOf().effective);
  if (config.port === 0) throw new BootError("CODERUNNER_CONFINE=1 needs a fixed CODERUNNER_PORT: the firewall opens exactly that port.");

  let denied;
  try {
    denied = parseCIDRList(config.denyCIDRs);
  } catch (error) {
    throw new BootError(`CODERUNNER_DENY_CIDRS: ${(error as Error).message}`);
  }
  const nameservers = nameserversOf(existsSync("/etc/resolv.conf") ? readFileSync("/etc/resolv.conf", "utf8") : "");
  await installFirewall(firewallRuleset({ apiPort: config.port, egress: config.egress, nameservers, denied }));

  await prepareServerState();
  userDirectory(SANDBOX_USER.home, true, log);
  userDirectory(APP_DIR, false, log);
  await tempDirectory("/tmp", log);
  await tempDirectory("/var/tmp", log);
  reclaimWorkspace(config.workspace);
  await seedHome(config.workspace);

  const record: BootRecord = {
    firewall: "nftables",
    egress: config.egress,
    denied: denied.map(formatNetwork),
    nameservers: nameservers.map(formatNetwork),
    bootMs: Math.round(performance.now() - started),
  };
  mkdirSync(dirname(BOOT_RECORD), { recursive: true });
  writeFileSync(BOOT_RECORD, `${JSON.stringify(record)}\n`, { mode: 0o644 });
  log.info(
    `Confined: firewall installed (egress ${config.egress ? "on" : "off"}, ${denied.length} host network(s) refused); continuing as ${SERVER_USER.name} (uid ${SERVER_USER.uid}) with ${SERVER_CAPABILITIES.join(", ")}; code runs as ${SANDBOX_USER.name} (uid ${SANDBOX_USER.uid}). Boot took ${record.bootMs} ms.`,
  );
  return exec(serverCommand(process.execPath, process.pid), serverEnvironment(process.env));
}
