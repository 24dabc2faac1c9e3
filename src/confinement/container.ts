import type { HostConfig } from "../docker/docker-types";
import { BOOT_CAPABILITIES } from "./capabilities";
import { formatNetwork, parseCIDR } from "./cidr";
import { APP_DIR, CONTAINER_API_PORT, RUNTIME_DIR, SANDBOX_USER, SERVER_USER, USER_WRITABLE_DIRS } from "./layout";

/**
 * The host's side of a confined sandbox: what a container create body must contain for
 * `coderunner serve` inside it to confine itself (see boot.ts). Merge it into the body built for
 * the sandbox (image, ports, labels, limits); nothing here depends on the host's settings but the
 * two options.
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

/**
 * The create-body fields of a confined sandbox. Throws on a `denyCIDRs` entry that is not an IPv4 or
 * IPv6 address or network, so a typo fails here and not at the sandbox's boot.
 */
export function confinedContainer(options: ConfinedContainerOptions): ConfinedContainer {
  const denied = options.denyCIDRs.map((cidr) => formatNetwork(parseCIDR(cidr)));
  return {
    User: "0",
    Env: ["CODERUNNER_CONFINE=1", `CODERUNNER_EGRESS=${options.egress ? "on" : "off"}`, `CODERUNNER_DENY_CIDRS=${denied.join(",")}`],
    HostConfig: {
      CapDrop: ["ALL"],
      CapAdd: [...BOOT_CAPABILITIES],
      SecurityOpt: ["no-new-privileges"],
      ...(options.readonlyRootfs ? { ReadonlyRootfs: true, Tmpfs: { [RUNTIME_DIR]: "rw,nosuid,nodev,noexec,mode=0755,size=64m" } } : {}),
    },
  };
}
