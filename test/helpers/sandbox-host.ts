import { expect } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Config, loadConfig } from "../../src/config";
import { LABEL } from "../../src/docker/container-spec";
import { stateDir } from "../../src/docker/file-lock";
import { DockerClient } from "../../src/docker/docker-client";
import { startHostMode, type HostMode } from "../../src/host/host-mode";
import { silentLogger } from "../../src/log";
import { jsonCaller } from "./http";
import { TEST_IMAGE, testImage } from "./image";

export const TEST_LABEL = "org.coderunner.test";

/** What `run` answers: the fields of an execution result the tests read. */
export interface RunResult {
  stdout: string;
  stderr: string;
  status: string;
  state_lost: boolean;
  error: { ename: string } | null;
  truncated: boolean;
  exit_code: number | null;
}

/**
 * A real host (sandboxes on the real Docker Engine, from the test image) on 127.0.0.1 and port 0,
 * under an instance name of its own with its own state directory: it never touches a user's
 * CodeRunner. `stop` removes every container of the instance and its disks.
 */
export async function startTestHost(name: string, overrides: Partial<Config> = {}) {
  const docker = new DockerClient();
  const stateHome = mkdtempSync(join(tmpdir(), "coderunner-host-state-"));
  const diskDir = join(stateHome, "disks");
  await testImage(docker);
  const config = loadConfig(
    {},
    { port: 0, host: "127.0.0.1", image: TEST_IMAGE, containerName: name, containerPort: 0, poolSize: 1, memoryMB: 1024, cpus: 1, pidsLimit: 256, diskMB: 300, upTimeoutSeconds: 120, ...overrides },
  );
  const hostOptions = { log: silentLogger, settings: { labels: { [TEST_LABEL]: String(process.pid) } }, diskDir };
  let host: HostMode = await startHostMode(config, hostOptions);
  const call = jsonCaller(() => host.url);

  const run = async (session: string | undefined, command: string, options: { language?: string; timeout?: number } = {}): Promise<RunResult> => {
    const response = await call("POST", "/execute", { command, session_id: session, language: options.language ?? "python", timeout: options.timeout ?? 60 });
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    return response.body;
  };

  const newSession = async (body: Record<string, unknown> = {}): Promise<string> => {
    const created = await call("POST", "/v1/sessions/session", body);
    expect(created.status).toBe(200);
    return created.body.session_id;
  };

  const containersOfInstance = (instance: string) => docker.listContainers({ all: true, filters: { label: [`${LABEL.instance}=${instance}`] } });

  /** Removes every container of `instance`, and unmounts their disks. */
  const removeInstance = async (instance: string) => {
    for (const container of await containersOfInstance(instance)) {
      const info = await docker.inspectContainer(container.Id);
      await docker.removeContainer(container.Id, { force: true });
      const containerName = info?.Name.replace(/^\//, "");
      if (containerName) Bun.spawnSync(["umount", "--lazy", join(diskDir, containerName)]);
    }
  };

  return {
    docker,
    get host() {
      return host;
    },
    /** Stops the host as a user's `coderunner` stopping would (sessions keep running), then starts another on the same port. */
    restart: async () => {
      const port = host.port;
      await host.stop();
      host = await startHostMode({ ...config, port }, hostOptions);
    },
    stateHome,
    diskDir,
    call,
    run,
    newSession,
    containersOfInstance,
    removeInstance,
    /** The container of a session (from its `sandbox` handle in the manager). */
    containerOf: (session: string) => host.manager.find(session)!.sandbox,
    stop: async (...alsoInstances: string[]) => {
      await host.stop();
      for (const instance of [name, ...alsoInstances]) {
        await removeInstance(instance);
        rmSync(join(stateDir(), `e2b-${instance}.json`), { force: true });
      }
      rmSync(stateHome, { recursive: true, force: true });
    },
  };
}

export type TestHost = Awaited<ReturnType<typeof startTestHost>>;
