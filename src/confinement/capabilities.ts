import { readFileSync } from "node:fs";

/**
 * Linux capabilities by name, and the sets a process holds as `/proc/<pid>/status` shows them
 * (`CapEff: 00000000000000e0`).
 */

/** Bit numbers of the capabilities this code names (linux/capability.h). */
export const CAPABILITY_BITS = {
  CHOWN: 0,
  DAC_OVERRIDE: 1,
  DAC_READ_SEARCH: 2,
  FOWNER: 3,
  FSETID: 4,
  KILL: 5,
  SETGID: 6,
  SETUID: 7,
  SETPCAP: 8,
  NET_BIND_SERVICE: 10,
  NET_BROADCAST: 11,
  NET_ADMIN: 12,
  NET_RAW: 13,
  SYS_CHROOT: 18,
  SYS_PTRACE: 19,
  SYS_ADMIN: 21,
  SYS_RESOURCE: 24,
  MKNOD: 27,
  AUDIT_WRITE: 29,
  SETFCAP: 31,
} as const;

export type Capability = keyof typeof CAPABILITY_BITS;

/**
 * What the server keeps after the boot, and why each:
 * - SETUID, SETGID: to start kernels, shells, file helpers and Chromium as the sandbox user;
 * - KILL: to interrupt and end those processes (they belong to another uid).
 * Nothing else: the server never reads or writes the sandbox user's files itself.
 */
export const SERVER_CAPABILITIES = ["KILL", "SETGID", "SETUID"] as const satisfies readonly Capability[];

/**
 * What the boot needs as root, on top of what it hands on to the server:
 * - NET_ADMIN: to install the firewall in the sandbox's network namespace;
 * - SETPCAP: to shrink the bounding set of the server (and so of every later process);
 * - CHOWN: to give empty volumes (home, /app) to the sandbox user and the state directory to the server.
 */
export const BOOT_CAPABILITIES = ["CHOWN", "KILL", "NET_ADMIN", "SETGID", "SETPCAP", "SETUID"] as const satisfies readonly Capability[];

export interface CapabilitySets {
  inheritable: bigint;
  permitted: bigint;
  effective: bigint;
  bounding: bigint;
  ambient: bigint;
}

/** The capability sets in the text of `/proc/<pid>/status`. */
export function parseCapabilities(status: string): CapabilitySets {
  const field = (name: string) => {
    const match = new RegExp(`^${name}:\\s*([0-9a-f]+)$`, "m").exec(status);
    if (!match) throw new Error(`no ${name} line in the process status`);
    return BigInt(`0x${match[1]}`);
  };
  return { inheritable: field("CapInh"), permitted: field("CapPrm"), effective: field("CapEff"), bounding: field("CapBnd"), ambient: field("CapAmb") };
}

/** The capability sets of `pid` (this process by default). */
export function capabilitiesOf(pid: number | "self" = "self"): CapabilitySets {
  return parseCapabilities(readFileSync(`/proc/${pid}/status`, "latin1"));
}

/** The mask of `names`. */
export function maskOf(names: readonly Capability[]): bigint {
  return names.reduce((mask, name) => mask | (1n << BigInt(CAPABILITY_BITS[name])), 0n);
}

/** Names in `mask`, known ones by name, others as `cap_<bit>`. */
export function namesOf(mask: bigint): string[] {
  const names: string[] = [];
  const byBit = new Map(Object.entries(CAPABILITY_BITS).map(([name, bit]) => [bit, name]));
  for (let bit = 0; bit < 64; bit++) {
    if (mask & (1n << BigInt(bit))) names.push(byBit.get(bit as never) ?? `cap_${bit}`);
  }
  return names;
}

/** Which of `wanted` are missing from `mask`. */
export function missing(mask: bigint, wanted: readonly Capability[]): Capability[] {
  return wanted.filter((name) => !(mask & (1n << BigInt(CAPABILITY_BITS[name]))));
}
