import type { Account } from "./layout";

/**
 * Command lines that run a program as another user with util-linux `setpriv`: the uid and gid
 * changed for good, no supplementary groups, and every capability cleared. `setpriv` (behind
 * `prlimit` and `nice` when the user has a process budget) is the only program the server starts directly;
 * whatever it execs runs with the target user's rights alone.
 *
 * Why this is enough when the caller holds CAP_SETUID/CAP_SETGID/CAP_KILL as ambient capabilities:
 * a setuid from one non-root uid to another keeps the permitted set, so `setpriv` clears the
 * inheritable and ambient sets; the exec that follows then leaves the permitted and effective sets
 * empty (no file capabilities, and `no_new_privs` forbids gaining any).
 */

export const SETPRIV = "/usr/bin/setpriv";

/** util-linux `prlimit`: sets a resource limit on itself, then execs the rest of its command line. */
export const PRLIMIT = "/usr/bin/prlimit";

/** coreutils `nice`: lowers its own priority, then execs the rest of its command line. */
export const NICE = "/usr/bin/nice";

/**
 * Who a command runs as: a uid and gid, and optionally the most processes (threads included) that
 * user may have and a niceness (see `SandboxAccount`).
 */
export type UserIdentity = Pick<Account, "uid" | "gid"> & { processes?: number; niceness?: number };

/**
 * The switches that make the rest of the command line run as `user` with no capability. A process
 * budget and a niceness are set before the switch: `prlimit` sets RLIMIT_NPROC soft and hard (the
 * user cannot raise it again, and a user already at its budget gets EAGAIN from the exec instead
 * of one more process), and the user may not raise its priority back (RLIMIT_NICE is 0).
 */
export function dropTo(user: UserIdentity): string[] {
  const argv = [SETPRIV, `--reuid=${user.uid}`, `--regid=${user.gid}`, "--clear-groups", "--inh-caps=-all", "--ambient-caps=-all", "--no-new-privs", "--"];
  if (user.niceness !== undefined) {
    if (!Number.isInteger(user.niceness) || user.niceness < 1 || user.niceness > 19) throw new RangeError(`a niceness of ${user.niceness} is not in 1..19`);
    argv.unshift(NICE, "-n", String(user.niceness), "--");
  }
  if (user.processes !== undefined) {
    if (!Number.isInteger(user.processes) || user.processes < 1) throw new RangeError(`a process budget of ${user.processes} is not a positive integer`);
    argv.unshift(PRLIMIT, `--nproc=${user.processes}:${user.processes}`, "--");
  }
  return argv;
}

export interface UserCommandOptions {
  /** Working directory, entered after the switch (the server itself may not be allowed into it). */
  cwd?: string;
  /** Raised for the process and everything it starts (raising needs no privilege). */
  oomScoreAdj?: number;
}

/**
 * `argv` run as `user`; with `cwd` or `oomScoreAdj`, through a POSIX shell prelude that sets them
 * after the switch and then execs `argv` (its arguments are passed as arguments, never parsed).
 *
 * @example
 * asUser({ uid: 1000, gid: 1000 }, ["/bin/bash", "--norc"], { cwd: "/home/coderunner/workspace" })
 * // ["/usr/bin/setpriv", "--reuid=1000", ..., "--", "/bin/sh", "-c", 'cd -- "$1" || exit 126; shift; exec "$@"', "sh", "/home/coderunner/workspace", "/bin/bash", "--norc"]
 */
export function asUser(user: UserIdentity, argv: string[], options: UserCommandOptions = {}): string[] {
  const { cwd, oomScoreAdj } = options;
  if (cwd === undefined && oomScoreAdj === undefined) return [...dropTo(user), ...argv];
  const prelude: string[] = [];
  if (oomScoreAdj !== undefined) {
    if (!Number.isInteger(oomScoreAdj) || oomScoreAdj < -1000 || oomScoreAdj > 1000) throw new RangeError(`oom_score_adj ${oomScoreAdj} is not in -1000..1000`);
    prelude.push(`echo ${oomScoreAdj} >/proc/self/oom_score_adj`);
  }
  if (cwd !== undefined) prelude.push('cd -- "$1" || exit 126');
  prelude.push("shift", 'exec "$@"');
  return [...dropTo(user), "/bin/sh", "-c", prelude.join("; "), "sh", cwd ?? "", ...argv];
}
