import { join } from "node:path";
import type { Config } from "../config";
import { containerSettings, type ContainerSettings } from "../docker/container-spec";
import { DockerClient } from "../docker/docker-client";
import { stateDir } from "../docker/file-lock";
import { createE2BService, type E2BService } from "../e2b";
import { messageOf } from "../errors";
import type { Logger } from "../log";
import { type Confine, DockerBackend } from "../sandboxes/docker-backend";
import { createHostApp } from "../sandboxes/host-app";
import { SandboxManager } from "../sandboxes/manager";
import { HostRouter } from "../sandboxes/router";
import { claimHost } from "./host-lock";

export interface HostMode {
  url: string;
  port: number;
  manager: SandboxManager;
  backend: DockerBackend;
  router: HostRouter;
  /** Stops serving and the warm pool; session sandboxes and the default one keep running. */
  stop(): Promise<void>;
}

export interface HostModeOptions {
  log: Logger;
  onProgress?: (line: string) => void;
  docker?: DockerClient;
  /** Changes to the container settings (tests: their own image, names and labels). */
  settings?: Partial<ContainerSettings>;
  /** Where loop-mounted sandbox disks live; default `<state dir>/disks`. */
  diskDir?: string;
  confine?: Confine;
}

/**
 * The host: sandboxes on the Docker Engine (the default one up and healthy, those a previous host
 * left found again, the warm pool filling), and the REST API on `config.host:config.port` routing
 * every call to its session's sandbox. One host per instance: a second one is refused.
 */
export async function startHostMode(config: Config, options: HostModeOptions): Promise<HostMode> {
  const settings = { ...containerSettings(config), ...options.settings };
  const claim = claimHost(settings.name);
  const docker = options.docker ?? new DockerClient({ host: config.dockerHost });
  const backend = new DockerBackend({
    docker,
    settings,
    diskDir: options.diskDir ?? join(stateDir(), "disks"),
    diskMB: config.diskMB,
    diskMechanism: config.diskCap as "auto",
    confine: options.confine,
    log: options.log,
  });
  const manager = new SandboxManager({
    backend,
    poolSize: config.poolSize,
    limits: { memoryMB: config.memoryMB, cpus: config.cpus, pidsLimit: config.pidsLimit, diskMB: config.diskMB },
    egress: config.internet,
    maxSessions: config.maxSessions,
    idleSeconds: config.sessionIdleSeconds,
    readyTimeoutSeconds: config.upTimeoutSeconds,
    bootConcurrency: config.sandboxStarts || undefined,
    log: options.log,
  });
  let router: HostRouter | undefined;
  let e2b: E2BService | undefined;
  try {
    await manager.start(options.onProgress);
    if (backend.diskCap.mechanism === "none") options.onProgress?.(`Warning: ${backend.diskCap.detail}.`);
    // After the manager has found the sessions a previous host left: the E2B sandboxes among them are known again.
    e2b = createE2BService({ manager, apiKey: config.apiKey, statePath: join(stateDir(), `e2b-${settings.name.replace(/[^\w.-]+/g, "_")}.json`), log: options.log });
    const hostApp = createHostApp({ manager, log: options.log, apiKey: config.apiKey, maxBodyBytes: config.maxBodyBytes });
    router = new HostRouter({
      manager,
      hostApp,
      apiKey: config.apiKey,
      instance: settings.name,
      maxBodyBytes: config.maxBodyBytes,
      maxUploadBytes: config.maxUploadBytes,
      spoolDir: join(stateDir(), "spool"),
      log: options.log,
      e2b,
    });
    const { url, port } = router.listen(config.host, config.port);
    claim.listening(url);
    let stopping: Promise<void> | undefined;
    const stop = () =>
      (stopping ??= (async () => {
        await router!.stop();
        e2b?.stop();
        await manager.stop().catch((error) => options.log.warn(`Stopping the sandbox manager: ${messageOf(error)}`));
        claim.release();
      })());
    return { url, port, manager, backend, router, stop };
  } catch (error) {
    await router?.stop();
    e2b?.stop();
    await manager.stop().catch(() => undefined);
    claim.release();
    throw error;
  }
}
