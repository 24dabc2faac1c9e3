import { chmodSync, chownSync, existsSync, lchownSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, type Stats, writeFileSync } from "node:fs";
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
  EXTRA_USERS_DIR,
  MATPLOTLIB_CACHE_SEED,
  sandboxAccount,
  type SandboxAccount,
  SANDBOX_USER,
  SERVER_DATA_DIR,
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
 * 2. names the sandbox user: `coderunner`, with the uid the host chose for this sandbox
 *    (CODERUNNER_SANDBOX_UID, 1000 by default), written for libnss-extrausers under /run;
 * 3. prepares the filesystem: the server's private state under /run/coderunner (its data kept from
 *    one boot to the next), and whatever an empty volume lacks (home, workspace, /app, a 1777 /tmp,
 *    the Matplotlib font cache), the image's home and /app handed to a sandbox uid other than the
 *    image's — acting in the sandbox user's directories only as that user, never as root;
 * 4. execs `coderunner serve` again as `coderunner-server` with CAP_SETUID, CAP_SETGID and CAP_KILL
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

/**
 * The server's environment: the container's, with a home and temp directory of its own, and the
 * sandbox user as the boot settled it (the Chromium wrapper reads it from there).
 */
export function serverEnvironment(env: Record<string, string | undefined>, user: SandboxAccount = SANDBOX_USER): Record<string, string | undefined> {
  return {
    ...env,
    HOME: `${SERVER_STATE_DIR}/home`,
    TMPDIR: `${SERVER_STATE_DIR}/tmp`,
    USER: SERVER_USER.name,
    LOGNAME: SERVER_USER.name,
    CODERUNNER_SANDBOX_UID: String(user.uid),
    CODERUNNER_USER_PROCESSES: String(user.processes ?? 0),
  };
}

/** The sandbox user the host asked for; refuses a uid that is someone else's. */
export function bootAccount(config: Pick<Config, "sandboxUid" | "userProcesses">): SandboxAccount {
  const uid = config.sandboxUid;
  if (!Number.isInteger(uid) || uid < SANDBOX_USER.uid || uid > 0x7fffffff || uid === 65534) {
    throw new BootError(`CODERUNNER_SANDBOX_UID=${uid} cannot be the sandbox user: it must be ${SANDBOX_USER.uid} or more, below 2^31, and not nobody (65534).`);
  }
  return sandboxAccount(uid, config.userProcesses > 0 ? config.userProcesses : undefined);
}

/** The passwd and group lines that name `user` `coderunner` for libnss-extrausers. */
export function extraUsersEntries(user: SandboxAccount): { passwd: string; group: string } {
  return { passwd: `${user.name}:x:${user.uid}:${user.gid}:CodeRunner sandbox user:${user.home}:/bin/bash\n`, group: `${user.name}:x:${user.gid}:\n` };
}

/**
 * Writes `EXTRA_USERS_DIR` afresh (root-owned, world-readable; a restarted container may hold an
 * older one). The image's /etc/passwd names uid 1000 already; any other uid needs the image's link
 * from /var/lib/extrausers, or it would have no name.
 */
function nameSandboxUser(user: SandboxAccount): void {
  const existing = lstatOrUndefined(EXTRA_USERS_DIR);
  if (existing && (existing.isSymbolicLink() || !existing.isDirectory() || existing.uid !== 0)) throw new BootError(`${EXTRA_USERS_DIR} is not a directory owned by root.`);
  if (!existing) mkdirSync(EXTRA_USERS_DIR, { mode: 0o755 });
  chmodSync(EXTRA_USERS_DIR, 0o755);
  for (const [file, text] of Object.entries(extraUsersEntries(user))) {
    const path = join(EXTRA_USERS_DIR, file);
    writeFileSync(`${path}.new`, text, { mode: 0o644 });
    renameSync(`${path}.new`, path);
  }
  if (user.uid === SANDBOX_USER.uid) return;
  let link: string | undefined;
  try {
    link = readlinkSync("/var/lib/extrausers");
  } catch {}
  if (link !== EXTRA_USERS_DIR) throw new BootError(`CODERUNNER_SANDBOX_UID=${user.uid} needs an image whose /var/lib/extrausers links to ${EXTRA_USERS_DIR} (libnss-extrausers): rebuild the image.`);
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

/**
 * The server's state: /run/coderunner (root, 0755), its private directory (0700) and the shells'
 * scripts (0711), both fresh at each boot, and its data (0700), kept from one boot to the next unless
 * it is not a private directory of the server's.
 */
async function prepareServerState(): Promise<void> {
  const root = lstatOrUndefined(STATE_ROOT);
  if (root && (root.isSymbolicLink() || !root.isDirectory() || root.uid !== 0)) throw new BootError(`${STATE_ROOT} is not a directory owned by root.`);
  if (!root) mkdirSync(STATE_ROOT, { recursive: true, mode: 0o755 });
  chmodSync(STATE_ROOT, 0o755);
  await freshDirectory(SERVER_STATE_DIR, SERVER_USER, 0o700, ["home", "tmp"]);
  await freshDirectory(SHELL_SCRIPTS_DIR, SERVER_USER, 0o711);
  const data = lstatOrUndefined(SERVER_DATA_DIR);
  if (!data?.isDirectory() || data.uid !== SERVER_USER.uid || (data.mode & 0o7777) !== 0o700) await freshDirectory(SERVER_DATA_DIR, SERVER_USER, 0o700);
}

/**
 * Gives `path`, and everything under it that the image's user owns, to `user`: a sandbox with a uid
 * of its own that runs on the image's home and /app rather than a disk of its own. Symlinks are
 * changed themselves, never followed; what belongs to anyone else is left alone.
 */
function adoptTree(path: string, user: SandboxAccount, log: Logger): void {
  const stats = lstatOrUndefined(path);
  if (!stats || stats.uid !== SANDBOX_USER.uid) return;
  if (stats.isDirectory()) {
    let entries: string[] = [];
    try {
      entries = readdirSync(path);
    } catch (error) {
      log.warn(`${path} cannot be read (${(error as NodeJS.ErrnoException).code}); what is inside stays uid ${SANDBOX_USER.uid}'s.`);
    }
    for (const entry of entries) adoptTree(join(path, entry), user, log);
  }
  lchownSync(path, user.uid, user.gid);
}

/**
 * A directory the sandbox user owns (its home, /app): created when missing, given to the user when
 * root owns it (an empty volume) or, for a sandbox uid of its own, when the image's user does.
 * `required` ones must exist afterwards.
 */
function userDirectory(path: string, user: SandboxAccount, required: boolean, log: Logger): void {
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
  if (stats.uid === 0) chownSync(path, user.uid, user.gid);
  else if (stats.uid === SANDBOX_USER.uid && user.uid !== SANDBOX_USER.uid) adoptTree(path, user, log);
  else if (stats.uid !== user.uid) log.warn(`${path} belongs to uid ${stats.uid}, not the sandbox user (${user.uid}); left as it is.`);
}

/**
 * A world-writable temp directory (1777), made so by its owner: root, or the sandbox user for a
 * volume it owns. One the image's user owns, in a sandbox with a uid of its own, goes to root first.
 */
async function tempDirectory(path: string, user: SandboxAccount, log: Logger): Promise<void> {
  const stats = lstatOrUndefined(path);
  if (!stats || stats.isSymbolicLink() || !stats.isDirectory()) {
    if (path === "/tmp") throw new BootError(`${path} is not a directory: mount a volume or tmpfs there.`);
    log.warn(`${path} is not a directory; left as it is.`);
    return;
  }
  if ((stats.mode & 0o7777) === 0o1777) return;
  if (stats.uid === SANDBOX_USER.uid && user.uid !== SANDBOX_USER.uid) {
    chownSync(path, 0, 0);
    chmodSync(path, 0o1777);
  } else if (stats.uid === 0) chmodSync(path, 0o1777);
  else if (stats.uid === user.uid) await runAs(user, ["/bin/chmod", "1777", "--", path], `chmod 1777 ${path}`);
  else log.warn(`${path} belongs to uid ${stats.uid} and is not 1777; left as it is.`);
}

/**
 * Directories between the home and the workspace that root owns go to the sandbox user: Docker
 * creates the image's WORKDIR (the workspace) as root inside an empty home volume. At boot no user
 * process runs yet, and a symlink is never followed.
 */
function reclaimWorkspace(workspace: string, user: SandboxAccount): void {
  const rel = relative(user.home, workspace);
  if (!rel || rel.startsWith("..") || isAbsolute(rel)) return;
  let path = user.home;
  for (const part of rel.split(sep)) {
    path = join(path, part);
    const stats = lstatOrUndefined(path);
    if (!stats || stats.isSymbolicLink() || !stats.isDirectory()) return;
    if (stats.uid === 0) lchownSync(path, user.uid, user.gid);
  }
}

/** As the sandbox user: the workspace, and the prebuilt Matplotlib font cache in a home that lacks one. */
async function seedHome(workspace: string, user: SandboxAccount): Promise<void> {
  const cache = `${user.home}/.cache/matplotlib`;
  const seed = existsSync(MATPLOTLIB_CACHE_SEED) ? MATPLOTLIB_CACHE_SEED : "";
  await runAs(
    user,
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
  const user = bootAccount(config);
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
  nameSandboxUser(user);
  userDirectory(user.home, user, true, log);
  userDirectory(APP_DIR, user, false, log);
  await tempDirectory("/tmp", user, log);
  await tempDirectory("/var/tmp", user, log);
  reclaimWorkspace(config.workspace, user);
  await seedHome(config.workspace, user);

  const record: BootRecord = {
    firewall: "nftables",
    egress: config.egress,
    denied: denied.map(formatNetwork),
    nameservers: nameservers.map(formatNetwork),
    sandboxUid: user.uid,
    userProcesses: user.processes ?? null,
    bootMs: Math.round(performance.now() - started),
  };
  mkdirSync(dirname(BOOT_RECORD), { recursive: true });
  writeFileSync(BOOT_RECORD, `${JSON.stringify(record)}\n`, { mode: 0o644 });
  log.info(
    `Confined: firewall installed (egress ${config.egress ? "on" : "off"}, ${denied.length} host network(s) refused); continuing as ${SERVER_USER.name} (uid ${SERVER_USER.uid}) with ${SERVER_CAPABILITIES.join(", ")}; code runs as ${user.name} (uid ${user.uid}${user.processes ? `, at most ${user.processes} processes` : ""}). Boot took ${record.bootMs} ms.`,
  );
  return exec(serverCommand(process.execPath, process.pid), serverEnvironment(process.env, user));
}
