import { join } from "node:path";
import { LABEL } from "../../src/docker/container-spec";
import type { DockerClient } from "../../src/docker/docker-client";
import { readHost } from "../../src/host/host-lock";
import { until } from "./poll";

/**
 * Stops the background host of `instance` (started by `ensureUp` or `coderunner up --json` with
 * `XDG_STATE_HOME=stateHome`) and removes its sandboxes and their disks.
 */
export async function stopBackgroundHost(docker: DockerClient, instance: string, stateHome: string): Promise<void> {
  // The host's lock is under its own XDG_STATE_HOME, not this process's.
  const saved = process.env.XDG_STATE_HOME;
  process.env.XDG_STATE_HOME = stateHome;
  try {
    const host = readHost(instance);
    if (host) {
      process.kill(host.pid, "SIGTERM");
      await until("the host to go", () => !readHost(instance)).catch(() => undefined);
    }
  } finally {
    if (saved === undefined) delete process.env.XDG_STATE_HOME;
    else process.env.XDG_STATE_HOME = saved;
  }
  for (const container of await docker.listContainers({ all: true, filters: { label: [`${LABEL.instance}=${instance}`] } })) {
    const info = await docker.inspectContainer(container.Id);
    await docker.removeContainer(container.Id, { force: true });
    Bun.spawnSync(["umount", "--lazy", join(stateHome, "coderunner", "disks", info?.Name.replace(/^\//, "") ?? "none")]);
  }
}
