/**
 * A kernel that cannot start, against the REAL Jupyter Server: its start fails with a clear error
 * instead of waiting forever, and nothing of it is left running. Kernelspecs of our own stand in
 * for the two ways it happens: a process refused at once (the sandbox's process budget full, as
 * right after a fork bomb) and one that never answers.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { JupyterServer } from "../../src/kernels/jupyter-server";
import { findProcesses } from "../../src/kernels/proc-stats";
import { PythonKernel } from "../../src/kernels/python-kernel";
import { silentLogger } from "../../src/log";
import { until } from "../helpers/poll";

const dir = mkdtempSync(join(tmpdir(), "kernel-start-"));
const spec = (name: string, argv: string[]) => {
  mkdirSync(join(dir, "kernels", name), { recursive: true });
  writeFileSync(join(dir, "kernels", name, "kernel.json"), JSON.stringify({ argv, display_name: name, language: "python" }));
};
spec("refused", ["/bin/sh", "-c", "exit 11", "{connection_file}"]);
spec("silent", ["/bin/sh", "-c", "sleep 600; exit 0", "{connection_file}"]);
const jupyter = new JupyterServer({ python: process.env.CODERUNNER_PYTHON ?? "/usr/bin/python3", rootDir: dir, startTimeoutMs: 60_000, log: silentLogger, env: { JUPYTER_PATH: dir } });

beforeAll(() => jupyter.start(), 90_000);
afterAll(async () => {
  await jupyter.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("a kernel that cannot start", () => {
  test("one whose process ends at once fails its start within seconds, with KERNEL_UNAVAILABLE", async () => {
    const started = performance.now();
    await expect(PythonKernel.start(jupyter.serverSettings, "refused", { outputLimitBytes: 1 << 20 })).rejects.toMatchObject({ code: "KERNEL_UNAVAILABLE" });
    expect(performance.now() - started).toBeLessThan(30_000);
  }, 60_000);

  test("one that never answers fails at the start timeout and is ended", async () => {
    await expect(PythonKernel.start(jupyter.serverSettings, "silent", { outputLimitBytes: 1 << 20, startTimeoutMs: 2000 })).rejects.toThrow("did not answer within 2 s");
    await until("the silent kernel's process to be ended", () => findProcesses("sleep 600").length === 0 || undefined, { timeoutMs: 15_000 });
  }, 60_000);

  test("a real kernel still starts and runs", async () => {
    const kernel = await PythonKernel.start(jupyter.serverSettings, "python3", { outputLimitBytes: 1 << 20 });
    await kernel.runSetup("x = 1");
    await kernel.shutdown();
  }, 60_000);
});
