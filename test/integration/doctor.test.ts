import { describe, expect, test } from "bun:test";
import { createServer } from "node:net";
import { join } from "node:path";
import { diagnose, realProbes } from "../../src/cli/doctor";
import { loadConfig } from "../../src/config";
import { DockerClient } from "../../src/docker/docker-client";
import { freePort } from "../../src/kernels/jupyter-server";
import { engineAnswers } from "../helpers/image";

/** `coderunner doctor` against this machine's real Engine, ports and disk. */
const docker = new DockerClient();
const ready = await engineAnswers(docker);
const root = join(import.meta.dir, "..", "..");

describe.skipIf(!ready)("coderunner doctor on this machine", () => {
  test("finds the Engine on its socket, matching this machine's architecture, with its disk measured", async () => {
    const config = loadConfig({ CODERUNNER_IMAGE: "coderunner-doctor-absent:0", CODERUNNER_PORT: String(await freePort()), CODERUNNER_CONTAINER_PORT: "0" });
    const checks = await diagnose(config, realProbes(config, docker));
    const engine = checks.find((check) => check.name === "Docker Engine")!;
    expect(engine.ok).toBe(true);
    expect(engine.detail).toContain(docker.address.display);
    expect(checks.find((check) => check.name === "Architecture")).toMatchObject({ ok: true, detail: expect.stringContaining(process.arch) });
    expect(checks.find((check) => check.name === "Disk space")!.detail).toMatch(/\d+\.\d GB free in \//);
  });

  test("a port another program holds makes the command fail, with the variable to change", async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as { port: number }).port;
    try {
      const run = Bun.spawn([process.execPath, join(root, "src/cli.ts"), "doctor"], {
        env: { ...process.env, CODERUNNER_PORT: String(port), CODERUNNER_CONTAINER: `doctor-${process.pid}`, CODERUNNER_CONTAINER_PORT: "0" },
        stdout: "pipe",
        stderr: "pipe",
      });
      const [out, code] = await Promise.all([new Response(run.stdout).text(), run.exited]);
      expect(code).toBe(1);
      expect(out).toMatch(/ok\s+Docker Engine/);
      expect(out).toMatch(new RegExp(`FAIL\\s+API port\\s+127\\.0\\.0\\.1:${port} is in use`));
      expect(out).toContain("set CODERUNNER_PORT to a free port");
    } finally {
      server.close();
    }
  });
});
