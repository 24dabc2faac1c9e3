import { existsSync } from "node:fs";
import { ConfigError, type Config } from "../config";
import type { Logger } from "../log";
import { capabilitiesOf, missing, SERVER_CAPABILITIES } from "./capabilities";
import { type Confinement, containerConfinement, processConfinement, readBootRecord } from "./confinement";
import { exec } from "./exec";
import { BOOT_RECORD, SERVER_USER, TINI } from "./layout";

/**
 * Where `coderunner serve` starts: decides, from the user it runs as and CODERUNNER_CONFINE, what
 * kind of server this is, and does what must happen before the server itself starts.
 * - root + CODERUNNER_CONFINE=1 (the container's entrypoint): the boot; execs the server, never returns;
 * - `coderunner-server` + CODERUNNER_CONFINE=1 (what the boot execs): the confined server;
 * - otherwise: a plain server, as it always was; as PID 1 (a container's entrypoint) it first puts
 *   tini in front of itself, to forward signals and reap orphans.
 */
export async function prepareServe(config: Config, log: Logger, env: Record<string, string | undefined> = process.env): Promise<Confinement> {
  const uid = process.getuid?.();
  if (config.confine) {
    if (uid === 0) {
      if (process.pid !== 1 && process.ppid !== 1) {
        throw new ConfigError(
          "CODERUNNER_CONFINE=1 as root is for the sandbox container's entrypoint (it rewrites the network namespace's firewall); this process is not one.",
        );
      }
      const { boot } = await import("./boot");
      return boot(config, log);
    }
    if (uid === SERVER_USER.uid) return confinedServer(env);
    throw new ConfigError(
      `CODERUNNER_CONFINE=1: coderunner serve must start as root inside the sandbox container (it runs as uid ${uid}); create the container with confinedContainer() (src/confinement/container.ts), which sets User "0".`,
    );
  }
  if (process.pid === 1 && existsSync(TINI)) return exec([TINI, "--", process.execPath, "serve"], env);
  return processConfinement();
}

/** The server the boot started: checks what it was given, and keeps the API key out of every child's environment. */
function confinedServer(env: Record<string, string | undefined>): Confinement {
  const held = capabilitiesOf();
  const lacking = missing(held.effective, SERVER_CAPABILITIES);
  if (lacking.length) throw new ConfigError(`The confined server lacks ${lacking.join(", ")}: it was not started by the boot.`);
  let record;
  try {
    record = readBootRecord(BOOT_RECORD);
  } catch (error) {
    throw new ConfigError(`The confined server finds no boot record (${(error as Error).message}): it was not started by the boot.`);
  }
  // Config holds the key; children (Jupyter, Chromium, helpers) start from this environment.
  delete env.CODERUNNER_API_KEY;
  return containerConfinement(record);
}
