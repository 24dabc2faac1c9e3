import { posix } from "node:path";
import { E2BError } from "./errors";
import { SANDBOX_HOME } from "./registry";

const E2B_HOME = "/home/user";

/**
 * An E2B path as a path in the CodeRunner sandbox: relative paths resolve in the user's home, and
 * E2B's home `/home/user` is the sandbox user's home.
 */
export function toSandboxPath(path: string | undefined): string {
  if (path === undefined || path === "") throw new E2BError(400, "A path is required.");
  if (path.includes("\0")) throw new E2BError(400, "A path may not contain NUL bytes.");
  const absolute = posix.resolve(SANDBOX_HOME, path);
  if (absolute === E2B_HOME || absolute.startsWith(`${E2B_HOME}/`)) return SANDBOX_HOME + absolute.slice(E2B_HOME.length);
  return absolute;
}

/** A sandbox path as E2B shows it (the user's home as `/home/user`). */
export function toE2BPath(path: string): string {
  if (path === SANDBOX_HOME || path.startsWith(`${SANDBOX_HOME}/`)) return E2B_HOME + path.slice(SANDBOX_HOME.length);
  return path;
}
