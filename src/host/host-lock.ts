import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { processAlive, stateDir } from "../docker/file-lock";
import { AppError } from "../errors";

/** Who serves an instance: the host process and where it listens. */
export interface HostRecord {
  pid: number;
  url: string;
}

function lockPath(instance: string): string {
  return join(stateDir(), `host-${instance.replace(/[^\w.-]+/g, "_")}.json`);
}

/** The live host of `instance`, or undefined (a record left by a dead process does not count). */
export function readHost(instance: string): HostRecord | undefined {
  try {
    const record = JSON.parse(readFileSync(lockPath(instance), "utf8")) as HostRecord;
    return Number.isInteger(record.pid) && processAlive(record.pid) ? record : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Claims `instance` for this process, so two hosts never manage the same sandboxes (the second
 * would take the first one's warm sandboxes for orphans). A claim left by a dead process is taken
 * over. Returns a function that records the URL once listening, and one that releases the claim.
 */
export function claimHost(instance: string): { listening(url: string): void; release(): void } {
  const path = lockPath(instance);
  mkdirSync(stateDir(), { recursive: true });
  const write = (url: string) => {
    rmSync(path, { force: true });
    const fd = openSync(path, "wx", 0o600);
    writeSync(fd, JSON.stringify({ pid: process.pid, url } satisfies HostRecord));
    closeSync(fd);
  };
  for (;;) {
    try {
      const fd = openSync(path, "wx", 0o600);
      writeSync(fd, JSON.stringify({ pid: process.pid, url: "" } satisfies HostRecord));
      closeSync(fd);
      break;
    } catch (error) {
      if ((error as { code?: string }).code !== "EEXIST") throw error;
      const holder = readHost(instance);
      if (holder && holder.pid !== process.pid) {
        throw new AppError(
          "DOCKER_UNAVAILABLE",
          `Another coderunner host (pid ${holder.pid}${holder.url ? `, ${holder.url}` : ""}) manages the sandboxes of ${instance}; \`coderunner down\` stops it.`,
        );
      }
      rmSync(path, { force: true });
    }
  }
  return {
    listening: write,
    release: () => {
      if (readHost(instance)?.pid === process.pid) rmSync(path, { force: true });
    },
  };
}
