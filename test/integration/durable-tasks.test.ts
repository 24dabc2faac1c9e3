import { afterAll, describe, expect, test } from "bun:test";
import { statSync } from "node:fs";
import { join } from "node:path";
import { confinedContainer } from "../../src/confinement/container";
import { SERVER_DATA_DIR } from "../../src/confinement/layout";
import { DockerClient } from "../../src/docker/docker-client";
import { engineAnswers, TEST_IMAGE, testImage } from "../helpers/image";
import { type ServeProcess, startServeProcess } from "../helpers/serve-process";
import { until } from "../helpers/poll";

/**
 * Async tasks outlive the server: `coderunner serve` as a process, killed with SIGKILL while one task
 * runs and another waits behind it, then started again on the same workspace (and so the same
 * tasks.db). The finished result must read as before, the lost ones `failed` / `SERVER_RESTARTED`.
 * Then a confined sandbox (the real image) restarted by the Engine: the same, and its code cannot
 * read the database.
 */

const command = [process.execPath, join(import.meta.dir, "..", "..", "src", "cli.ts")];
const servers: ServeProcess[] = [];
const docker = new DockerClient();
const containers: string[] = [];
const engineUp = await engineAnswers(docker);

afterAll(async () => {
  for (const server of servers.reverse()) await server.cleanup();
  for (const id of containers) await docker.removeContainer(id, { force: true });
}, 30_000);

async function start(env: Record<string, string> = {}): Promise<ServeProcess> {
  const server = await startServeProcess(command, { env });
  servers.push(server);
  return server;
}

async function task(server: ServeProcess, id: string): Promise<{ status: number; body: any }> {
  const response = await fetch(`${server.url}/v1/executions/${encodeURIComponent(id)}`);
  return { status: response.status, body: await response.json() };
}

async function settled(server: ServeProcess, id: string, done: (body: any) => boolean, what: string): Promise<any> {
  let last: any;
  await until(what, async () => done((last = (await task(server, id)).body)), { timeoutMs: 60_000 }).catch((error) => {
    throw new Error(`${(error as Error).message} (last: ${JSON.stringify(last)})`);
  });
  return last;
}

describe("durable async tasks", () => {
  test("after SIGKILL and a new start on the same state: the finished result is intact, the running and queued tasks read failed SERVER_RESTARTED", async () => {
    const first = await start();
    const done = await first.post("/execute_async", { command: "print('kept')\n6 * 7" });
    const finished = await settled(first, done.task_id, (body) => body.is_complete, "the first task to finish");
    expect(finished).toMatchObject({ status: "completed", serialized_stdout: "kept\n" });
    expect(finished.result.results).toEqual([expect.objectContaining({ "text/plain": "42" })]);

    const long = await first.post("/execute_async", { command: "import time\nprint('started', flush=True)\ntime.sleep(600)" });
    await settled(first, long.task_id, (body) => body.serialized_stdout === "started\n", "the long task to print");
    // Submitting writes every pending change, the running task's output among them.
    const queued = await first.post("/execute_async", { command: "print('never')" });
    expect(queued.status).toBe("queued");

    first.proc.kill("SIGKILL");
    await first.proc.exited;

    const second = await start({ CODERUNNER_WORKSPACE: first.workspace });
    const again = await task(second, done.task_id);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(finished);

    const lost = await task(second, long.task_id);
    expect(lost.status).toBe(200);
    expect(lost.body).toMatchObject({ status: "failed", is_complete: true, serialized_stdout: "started\n", result: null });
    expect(lost.body.failure).toEqual({ code: "SERVER_RESTARTED", detail: expect.stringContaining("restarted while this task ran") });

    const never = await task(second, queued.task_id);
    expect(never.body).toMatchObject({ status: "failed", is_complete: true, serialized_stdout: "", failure: { code: "SERVER_RESTARTED" } });
    expect(never.body.failure.detail).toContain("never ran");

    const unknown = await task(second, "default.00000000-0000-0000-0000-000000000000");
    expect(unknown).toEqual({ status: 404, body: { code: "TASK_NOT_FOUND", detail: expect.any(String) } });
    expect(second.log()).toContain("2 async task(s) were queued or running when the server stopped");

    // The restarted server runs new tasks as before, in the default session it found again.
    const next = await second.post("/execute_async", { command: "print('after')" });
    expect(await settled(second, next.task_id, (body) => body.is_complete, "a task after the restart")).toMatchObject({ status: "completed", serialized_stdout: "after\n" });

    const file = join(first.workspace, ".coderunner", "tasks.db");
    expect(statSync(file).mode & 0o777).toBe(0o600);
  }, 180_000);

  test("a second server on the same state is refused at start with the reason, and the first goes on", async () => {
    const owner = await start();
    const started = startServeProcess(command, { env: { CODERUNNER_WORKSPACE: owner.workspace } });
    const error = await started.then(
      (server) => {
        servers.push(server);
        return undefined;
      },
      (reason: Error) => reason,
    );
    expect(error?.message).toContain("another CodeRunner server is using it");
    expect(error?.message).toContain("CODERUNNER_STATE_DIR");
    const run = await owner.post("/execute_async", { command: "print(1)" });
    expect(await settled(owner, run.task_id, (body) => body.is_complete, "the owner's task")).toMatchObject({ status: "completed" });
  }, 120_000);

  test.skipIf(!engineUp)(
    "a confined sandbox restarted by the Engine answers for its tasks, and its code cannot read them",
    async () => {
      await testImage(docker);
      const apiKey = crypto.randomUUID();
      const confined = confinedContainer({ egress: false, denyCIDRs: [] });
      const { Id } = await docker.createContainer(`coderunner-durable-${process.pid}`, {
        Image: TEST_IMAGE,
        User: confined.User,
        Env: [`CODERUNNER_API_KEY=${apiKey}`, "CODERUNNER_KERNEL_POOL_SIZE=1", ...confined.Env],
        Labels: { "org.coderunner.test": `durable-${process.pid}` },
        ExposedPorts: { "8223/tcp": {} },
        HostConfig: { PortBindings: { "8223/tcp": [{ HostIp: "127.0.0.1", HostPort: "" }] }, Memory: 1024 * 1024 * 1024, ...confined.HostConfig },
      });
      containers.push(Id);
      const sandbox = async () => {
        await docker.startContainer(Id);
        const port = (await docker.inspectContainer(Id))!.NetworkSettings.Ports?.["8223/tcp"]?.[0]?.HostPort;
        const url = `http://127.0.0.1:${port}`;
        await until("the sandbox to answer", async () => (await fetch(`${url}/health`).catch(() => undefined))?.ok === true, { timeoutMs: 120_000 });
        const headers = { "x-api-key": apiKey, "content-type": "application/json" };
        return {
          post: async (path: string, body: unknown) => (await fetch(`${url}${path}`, { method: "POST", headers, body: JSON.stringify(body) })).json() as Promise<any>,
          task: async (id: string) => (await fetch(`${url}/v1/executions/${id}`, { headers })).json() as Promise<any>,
        };
      };
      const before = await sandbox();
      const { task_id } = await before.post("/execute_async", { command: "print('kept')" });
      let finished: any;
      await until("the task to finish", async () => (finished = await before.task(task_id)).is_complete, { timeoutMs: 60_000 });
      expect(finished).toMatchObject({ status: "completed", serialized_stdout: "kept\n" });
      const peek = await before.post("/execute", {
        command: `import os\nfor path in ["${SERVER_DATA_DIR}", "${SERVER_DATA_DIR}/tasks.db"]:\n    try: open(path, "rb") if path.endswith(".db") else os.listdir(path); print("read", path)\n    except OSError as e: print(type(e).__name__)`,
      });
      expect(peek.stdout).toBe("PermissionError\nPermissionError\n");

      await docker.stopContainer(Id, { timeoutSeconds: 0 });
      const after = await sandbox();
      expect(await after.task(task_id)).toEqual(finished);
    },
    300_000,
  );
});
