import { mkdirSync, openSync, readFileSync, rmSync, writeSync, closeSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";

/** Where CodeRunner keeps per-user state on the host (`$XDG_STATE_HOME/coderunner`). */
export function stateDir(env: Record<string, string | undefined> = process.env): string {
  return join(env.XDG_STATE_HOME || join(homedir(), ".local", "state"), "coderunner");
}

/** True while process `pid` exists (also when it belongs to another user). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: string }).code === "EPERM";
  }
}

/**
 * Runs `work` holding an exclusive lock file (created with O_EXCL, holding the owner's PID), so two
 * processes never do it at once. A lock left by a dead process is taken over. `onWait` is called
 * once when another holder makes this one wait.
 */
export async function withFileLock<T>(path: string, work: () => Promise<T>, options: { onWait?: () => void; pollMs?: number } = {}): Promise<T> {
  mkdirSync(dirname(path), { recursive: true });
  let waited = false;
  for (;;) {
    try {
      const fd = openSync(path, "wx", 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (error) {
      if ((error as { code?: string }).code !== "EEXIST") throw error;
      let holder = Number.NaN;
      try {
        holder = Number.parseInt(readFileSync(path, "utf8"), 10);
      } catch {
        continue; // released between our open and read
      }
      if (Number.isInteger(holder) && !processAlive(holder)) {
        rmSync(path, { force: true });
        continue;
      }
      if (!waited) options.onWait?.();
      waited = true;
      await Bun.sleep(options.pollMs ?? 500);
    }
  }
  try {
    return await work();
  } finally {
    rmSync(path, { force: true });
  }
}
