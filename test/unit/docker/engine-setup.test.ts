import { describe, expect, test } from "bun:test";
import { DockerClient } from "../../../src/docker/docker-client";
import { ensureEngine, installHelp, type EngineEffects } from "../../../src/docker/engine-setup";
import { AppError } from "../../../src/errors";

/** An Engine that answers /_ping only once `started` is true. */
function setup(overrides: Partial<EngineEffects> & { running?: boolean; pingError?: Error } = {}) {
  const state = { started: overrides.running ?? false, ran: [] as string[][], daemons: 0 };
  const fetch = async () => {
    if (overrides.pingError) throw overrides.pingError;
    if (!state.started) throw Object.assign(new Error("no socket"), { code: "ENOENT" });
    return new Response("OK");
  };
  const effects: EngineEffects = {
    platform: "linux",
    isRoot: true,
    isDebian: true,
    which: (command) => (command === "dockerd" ? "/usr/sbin/dockerd" : null),
    run: async (command) => (state.ran.push(command), 0),
    startDaemon: () => {
      state.daemons++;
      state.started = true;
    },
    sleep: async () => {},
    ...overrides,
  };
  return { state, effects, docker: new DockerClient({ host: "unix:///var/run/docker.sock", fetch }) };
}

describe("ensureEngine", () => {
  test("does nothing when the Engine answers", async () => {
    const { docker, effects, state } = setup({ running: true });
    await ensureEngine(docker, { effects });
    expect(state.daemons).toBe(0);
  });

  test("as root on Linux, starts an installed dockerd after saying so", async () => {
    const { docker, effects, state } = setup();
    const said: string[] = [];
    await ensureEngine(docker, { effects, onProgress: (line) => said.push(line) });
    expect(state.daemons).toBe(1);
    expect(state.ran).toEqual([]);
    expect(said[0]).toContain("starting dockerd");
  });

  test("as root on Debian without dockerd, installs docker.io first", async () => {
    const { docker, effects, state } = setup({ which: () => null });
    const said: string[] = [];
    await ensureEngine(docker, { effects, onProgress: (line) => said.push(line) });
    expect(state.ran).toEqual([["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "docker.io"]]);
    expect(said[0]).toContain("installing Debian's docker.io");
    expect(state.daemons).toBe(1);
  });

  test("not root: DOCKER_UNAVAILABLE with install help for the OS, nothing run", async () => {
    for (const [platform, hint] of [["linux", "apt-get install -y docker.io"], ["darwin", "Docker Desktop"], ["win32", "WSL 2"]] as const) {
      const { docker, effects, state } = setup({ isRoot: false, platform });
      const error = await ensureEngine(docker, { effects }).catch((e) => e);
      expect(error).toBeInstanceOf(AppError);
      expect(error.code).toBe("DOCKER_UNAVAILABLE");
      expect(error.message).toContain("Cannot reach the Docker Engine at unix:///var/run/docker.sock");
      expect(error.message).toContain(hint);
      expect(state.daemons + state.ran.length).toBe(0);
    }
  });

  test("a socket the user may not open says how to join the docker group", async () => {
    const { docker, effects } = setup({ isRoot: false, pingError: Object.assign(new Error("denied"), { code: "EACCES" }) });
    const error = await ensureEngine(docker, { effects }).catch((e) => e);
    expect(error.message).toContain("usermod -aG docker");
  });

  test("a dockerd that never answers fails with where its log is", async () => {
    const { docker, effects } = setup({ startDaemon: () => {} });
    const error = await ensureEngine(docker, { effects, startTimeoutMs: 50 }).catch((e) => e);
    expect(error.message).toContain("/var/log/coderunner-dockerd.log");
  });

  test("install help differs for Debian and other Linux", () => {
    expect(installHelp("linux", false)).toContain("docs.docker.com/engine/install");
    expect(installHelp("linux", true)).toContain("docker.io");
  });
});
