/**
 * Who is who and what lives where in a confined sandbox. The image (Dockerfile) creates both users
 * with these ids; the boot, the server and the host-side contract all read them from here.
 */

export interface Account {
  name: string;
  uid: number;
  gid: number;
}

/**
 * The image's user `coderunner` (uid 1000), whose files the default sandbox keeps. Code runs as it
 * unless the host gives the sandbox a uid of its own (`sandboxAccount`).
 */
export const SANDBOX_USER: Account & { home: string } = { name: "coderunner", uid: 1000, gid: 1000, home: "/home/coderunner" };

/**
 * The user code runs as in one sandbox: kernels, shells, file operations, Chromium. Always named
 * `coderunner` with home /home/coderunner; its uid (and gid) is the image's 1000 or one the host
 * chose for this sandbox alone (`CODERUNNER_SANDBOX_UID`). A sandbox with a process budget keeps
 * its server out of reach of the code: `processes` is the user's RLIMIT_NPROC (the processes and
 * threads it may have at once, below the container's pids limit), and `niceness` its scheduling
 * priority below the server's, so code that keeps every CPU busy still leaves the server enough
 * to answer, and to stop it on time.
 */
export interface SandboxAccount extends Account {
  home: string;
  processes?: number;
  niceness?: number;
}

/**
 * How far below the server code runs with a process budget: the lowest priority. Within the
 * container only (its CPU share among containers is the cgroup's): measured with a fork bomb of
 * 180 busy processes on one CPU, the server stopped the run 5 s late at 0, on time at 19.
 */
export const USER_NICENESS = 19;

/** The sandbox user with `uid` (its gid too) and, when given, a process budget (and `USER_NICENESS` with it). */
export function sandboxAccount(uid: number = SANDBOX_USER.uid, processes?: number): SandboxAccount {
  return { ...SANDBOX_USER, uid, gid: uid, ...(processes === undefined ? {} : { processes, niceness: USER_NICENESS }) };
}

/** The user `coderunner serve` and Jupyter Server run as in a confined sandbox. Owns no file in the image. */
export const SERVER_USER: Account = { name: "coderunner-server", uid: 990, gid: 990 };

/** Root of the server's runtime state: root-owned, 0755 (on the /run tmpfs when the root filesystem is read-only). */
export const STATE_ROOT = "/run/coderunner";

/** The server's private state (Jupyter's token and connection files, its temp files): server-owned, 0700. */
export const SERVER_STATE_DIR = `${STATE_ROOT}/server`;

/**
 * The server's state that outlives it (the async tasks' database): server-owned, 0700, kept from one
 * boot to the next. On the writable layer it survives a restart of the container; on a read-only
 * root it is on the /run tmpfs and lasts as long as the container runs.
 */
export const SERVER_DATA_DIR = `${STATE_ROOT}/data`;

/**
 * Scripts the server hands to the sandbox user's shells: server-owned, 0711, so the sandbox user
 * reads a script whose name it is given but can neither list nor change what is there.
 */
export const SHELL_SCRIPTS_DIR = `${STATE_ROOT}/scripts`;

/** The boot's record of what it did, for `/health` (root-owned, world-readable, holds no secret). */
export const BOOT_RECORD = `${STATE_ROOT}/boot.json`;

/** Where the sandbox user uploads by InstaVM convention; owned by it. */
export const APP_DIR = "/app";

/** Directories the sandbox user writes to. The host may mount empty volumes on them (owned by root or the sandbox user). */
export const USER_WRITABLE_DIRS = [SANDBOX_USER.home, "/tmp", "/var/tmp", APP_DIR] as const;

/**
 * Where the boot writes the passwd and group lines of a sandbox uid other than the image's, so
 * `whoami`, `id`, `~` and Python's `getpass` name it `coderunner` on a read-only root filesystem too:
 * libnss-extrausers reads /var/lib/extrausers, which the image links here (see the Dockerfile).
 */
export const EXTRA_USERS_DIR = "/run/extrausers";

/** Needs a tmpfs when the root filesystem is read-only. */
export const RUNTIME_DIR = "/run";

/** The prebuilt Matplotlib font cache, copied into a home that lacks it. */
export const MATPLOTLIB_CACHE_SEED = "/usr/local/share/coderunner/matplotlib";

/** Chromium for Playwright, as the sandbox user (image/chromium-as-sandbox-user.sh). */
export const CHROMIUM_WRAPPER = "/usr/local/lib/coderunner/chromium-as-sandbox-user";

/** The port `coderunner serve` listens on inside the container (the only inbound port the firewall opens). */
export const CONTAINER_API_PORT = 8223;

/** How far the OOM killer prefers user processes (kernels, shells) over the server: the maximum. */
export const USER_OOM_SCORE_ADJ = 1000;

/** PID 1 of a sandbox container: forwards signals to the server and reaps orphans. */
export const TINI = "/usr/bin/tini";
