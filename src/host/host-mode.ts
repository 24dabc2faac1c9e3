import type { Config } from "../config";
import { AppError } from "../errors";
import type { Logger } from "../log";
import type { ContainerManager } from "../docker/lifecycle";
import { HostProxy, type ProxyTarget } from "./host-proxy";

export interface HostMode {
  url: string;
  port: number;
  proxy: HostProxy;
  /** Stops the proxy; the container keeps running. */
  stop(): Promise<void>;
}

/**
 * Host mode: brings the container up, then serves the REST API on `config.host:config.port` (8223)
 * by proxying into it. The target is re-resolved (and awaited while the container restarts) after a
 * connection failure; a stopped or removed container answers 503 with what to run.
 */
export async function startHostMode(
  config: Config,
  manager: ContainerManager,
  options: { log: Logger; onProgress?: (line: string) => void },
): Promise<HostMode> {
  let current: ProxyTarget | undefined = await manager.up({ onProgress: options.onProgress });
  const name = manager.settings.name;
  const target = async (fresh: boolean): Promise<ProxyTarget> => {
    if (current && !fresh) return current;
    current = undefined;
    const info = await manager.inspect();
    if (!info) throw new AppError("DOCKER_UNAVAILABLE", `Container ${name} does not exist: run \`coderunner up\`.`);
    if (!info.State.Running && !info.State.Restarting) {
      throw new AppError("DOCKER_UNAVAILABLE", `Container ${name} is ${info.State.Status}: run \`coderunner up\` to start it.`);
    }
    current = await manager.waitHealthy(info.Id);
    return current;
  };
  const proxy = new HostProxy({ containerName: name, target, apiKey: config.apiKey, log: options.log });
  const { url, port } = proxy.listen(config.host, config.port, config.maxUploadBytes + 16 * 1024 * 1024);
  return { url, port, proxy, stop: () => proxy.stop() };
}
