import type { HostConfig } from "../docker/docker-types";
import { BOOT_CAPABILITIES } from "./capabilities";
import { formatNetwork, parseCIDR } from "./cidr";
import { APP_DIR, CONTAINER_API_PORT, RUNTIME_DIR, SANDBOX_USER, SERVER_USER, USER_WRITABLE_DIRS } from "./layout";

/**
 * The host's side of a confined sandbox: what a container create body must contain for
 * `coderunner serve` inside it to confine itself (see boot.ts). Merge it into the body built for
 * the sandbox (image, ports, labels, limits); nothing here depends on the host's settings but the
 * options.
 *
 * @example
 * const confined = confinedContainer({ egress: true, denyCIDRs: ["203.0.113.7/32"] });
 * const body = {
 *   ...spec,
 *   User: confined.User,
 *   Env: [...spec.Env, ...confined.Env],
 *   HostConfig: { ...spec.HostConfig, ...confined.HostConfig },
 * };
 */

export interface ConfinedContainerOptions {
  /** Whether code may reach the internet. Off: nothing outside the sandbox answers, DNS included. */
  egress: boolean;
  /** Addresses or networks code may never reach, on top of the private and link-local ranges: the host's own. */
  denyCIDRs: string[];
  /**
   * A read-only root filesystem with a tmpfs at /run (the server's state). The caller then mounts
   * volumes (empty is fine) at `USER_WRITABLE_DIRS` for the sandbox user, or those writes fail.
   */
  readonlyRootfs?: boolean;
  /**
   * The uid (and gid) the sandbox's code runs as, named `coderunner`; default the image's 1000. Give
   * each sandbox one of its own (from `SANDBOX_UID_RANGE`): RLIMIT_NPROC counts a uid's processes
   * across the whole machine, so sandboxes sharing one would share a budget.
   */
  sandboxUid?: number;
  /** The most processes and threads the sandbox's code may have at once (`userProcessBudget`); default none. */
  userProcesses?: number;
}

export interface ConfinedContainer {
  /** The boot must start as root; it leaves no root process behind. */
  User: string;
  Env: string[];
  HostConfig: Required<Pick<HostConfig, "CapDrop" | "CapAdd" | "SecurityOpt">> & Pick<HostConfig, "ReadonlyRootfs" | "Tmpfs">;
}

/** The user code runs as, and the user the server runs as, inside a confined sandbox. */
export const SANDBOX_UID = SANDBOX_USER.uid;
export const SERVER_UID = SERVER_USER.uid;
export const SANDBOX_HOME = SANDBOX_USER.home;
export const SANDBOX_WORKSPACE = `${SANDBOX_USER.home}/workspace`;
export { APP_DIR, CONTAINER_API_PORT, USER_WRITABLE_DIRS };

/** Uids a host gives the code of session sandboxes, one each: clear of host accounts and of the image's users. */
export const SANDBOX_UID_RANGE = { first: 200_000, last: 299_999 } as const;

/** The smallest process budget code gets: a kernel (~11 threads), a shell, file helpers and Chromium (~40) at once. */
export const MIN_USER_PROCESSES = 64;

/**
 * Tasks (processes and threads) a sandbox keeps for everything but its code: tini, `coderunner
 * serve` (Bun), Jupyter Server, the Engine's health check (another Bun) and the moments a kernel
 * launcher or `setpriv` still runs as the server user. Measured on 2 CPUs under load (24 uploads,
 * 48 downloads and listings, a run and a page at once): 14 at peak, 12 idle. Bun's work pool grows
 * to one thread per CPU the container sees (all of the Engine's), so the reserve grows with them
 * past 8.
 */
export function serverReserve(engineCPUs: number): number {
  return 64 + Math.max(0, Math.ceil(engineCPUs) - 8);
}

/**
 * RLIMIT_NPROC for the code of a sandbox limited to `pidsLimit` tasks on an Engine with
 * `engineCPUs` CPUs: the pids limit less the server's reserve, so no code can take the last task
 * the server needs (Bun aborts when it cannot start a thread). Throws a RangeError when that
 * leaves code less than `MIN_USER_PROCESSES`.
 *
 * @example
 * userProcessBudget(256, 2) // 192
 */
export function userProcessBudget(pidsLimit: number, engineCPUs: number): number {
  const reserve = serverReserve(engineCPUs);
  const budget = pidsLimit - reserve;
  if (budget < MIN_USER_PROCESSES) {
    throw new RangeError(
      `A pids limit of ${pidsLimit} leaves code ${Math.max(0, budget)} processes after the ${reserve} kept for the sandbox's server on ${engineCPUs} CPUs; code needs at least ${MIN_USER_PROCESSES}: raise the limit to ${reserve + MIN_USER_PROCESSES} or more (CODERUNNER_PIDS_LIMIT).`,
    );
  }
  return budget;
}

/**
 * The create-body fields of a confined sandbox. Throws on a `denyCIDRs` entry that is not an IPv4 or
 * IPv6 address or network, so a typo fails here and not at the sandbox's boot.
 */
export function confinedContainer(options: ConfinedContainerOptions): ConfinedContainer {
  const denied = options.denyCIDRs.map((cidr) => formatNetwork(parseCIDR(cidr)));
  const { sandboxUid, userProcesses } = options;
  if (sandboxUid !== undefined && (!Number.isInteger(sandboxUid) || sandboxUid < SANDBOX_USER.uid || sandboxUid > 0x7fffffff || sandboxUid === 65534)) {
    throw new RangeError(`${sandboxUid} cannot be a sandbox uid: it must be ${SANDBOX_USER.uid} or more, below 2^31, and not nobody (65534).`);
  }
  if (userProcesses !== undefined && (!Number.isInteger(userProcesses) || userProcesses < 1)) throw new RangeError(`A process budget of ${userProcesses} is not a positive integer.`);
  return {
    User: "0",
    Env: [
      "CODERUNNER_CONFINE=1",
      `CODERUNNER_EGRESS=${options.egress ? "on" : "off"}`,
      `CODERUNNER_DENY_CIDRS=${denied.join(",")}`,
      ...(sandboxUid === undefined ? [] : [`CODERUNNER_SANDBOX_UID=${sandboxUid}`]),
      ...(userProcesses === undefined ? [] : [`CODERUNNER_USER_PROCESSES=${userProcesses}`]),
    ],
    HostConfig: {
      CapDrop: ["ALL"],
      CapAdd: [...BOOT_CAPABILITIES],
      SecurityOpt: ["no-new-privileges"],
      ...(options.readonlyRootfs ? { ReadonlyRootfs: true, Tmpfs: { [RUNTIME_DIR]: "rw,nosuid,nodev,noexec,mode=0755,size=64m" } } : {}),
    },
  };
}
